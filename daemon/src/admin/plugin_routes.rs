//! Admin routes for plugins and the DNS provider instances they run.

use hyper::StatusCode;
use serde::Serialize;

use crate::plugin::{PluginCallError, PluginHost};

/// The answer to a provider's connection test that passed.
#[derive(Debug, Serialize)]
pub(super) struct ProviderTest {
    /// The provider instance.
    provider: String,
    /// Always true: a failed test is an error reply naming what failed.
    ok: bool,
}

/// `POST /v1/providers/{name}/test`: runs the provider's `test-connection`.
///
/// 404 for an unknown provider; 502 when the provider's API refused or the plugin failed, with the
/// plugin's error (secrets redacted by the host) as the message.
pub(super) async fn test_provider(
    plugins: &PluginHost,
    name: &str,
) -> Result<ProviderTest, (StatusCode, String)> {
    match plugins.test_connection(name).await {
        Ok(()) => Ok(ProviderTest {
            provider: name.to_owned(),
            ok: true,
        }),
        Err(error @ PluginCallError::UnknownProvider(_)) => {
            Err((StatusCode::NOT_FOUND, error.to_string()))
        }
        Err(error) => Err((StatusCode::BAD_GATEWAY, error.to_string())),
    }
}
