//! External Account Binding credentials from `ca-vendor` plugins. A profile whose
//! `eab-api-hosts` is not empty says its plugin can fetch them (ZeroSSL hands them out by API).
//!
//! The call runs on the operator's instance of that plugin when one is configured (a
//! `[[dns_provider]]` entry naming the plugin: its `allowed_hosts` and settings, e.g. `api_url`,
//! apply), else on an instance allowed to reach only the profile's `eab-api-hosts`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::call::{self, CallFailure};
use super::component::PluginPre;
use super::provider::Provider;
use super::{HostFault, Operation, PluginCallError, PluginHost, ProviderConfig, VendorProfile};

/// External Account Binding credentials a `ca-vendor` plugin obtained.
#[derive(Clone, PartialEq, Eq)]
pub struct VendorEab {
    /// The key identifier.
    pub kid: String,
    /// The MAC key as the CA handed it out (base64url). Secret.
    pub hmac_key: String,
}

impl std::fmt::Debug for VendorEab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // N.B. the MAC key is a secret: never in Debug output.
        f.debug_struct("VendorEab")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PluginHost {
    /// The directory plugins are loaded from (`plugin_dir`).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The loaded profile called `profile` when its plugin can fetch EAB credentials itself.
    pub fn eab_fetching_profile(&self, profile: &str) -> Option<VendorProfile> {
        self.vendor_profile(profile)
            .filter(|found| !found.eab_api_hosts.is_empty())
    }

    /// Asks the plugin that provides `profile` for EAB credentials for `email`, with the
    /// vendor's API key when given: on the operator's instance of the plugin when one is
    /// configured, else on one allowed only the profile's `eab-api-hosts`.
    pub async fn fetch_profile_eab(
        &self,
        profile: &str,
        email: &str,
        api_key: Option<&str>,
    ) -> Result<VendorEab, PluginCallError> {
        let found = self
            .eab_fetching_profile(profile)
            .ok_or_else(|| PluginCallError::NoEabApi(profile.to_owned()))?;
        let configured = self
            .providers
            .values()
            .find(|p| p.config.plugin == found.plugin)
            .cloned();
        let provider = match configured {
            Some(provider) => provider,
            None => Arc::new(implicit_instance(&found)?),
        };
        self.run_fetch(provider, profile, email, api_key).await
    }

    /// Asks the `ca-vendor` plugin behind provider instance `provider` (its `allowed_hosts` and
    /// settings apply) for EAB credentials for `email` at `profile`, with the vendor's API key
    /// when given. A vendor without an EAB API answers with an error saying so.
    pub async fn fetch_eab(
        &self,
        provider: &str,
        profile: &str,
        email: &str,
        api_key: Option<&str>,
    ) -> Result<VendorEab, PluginCallError> {
        let unknown = || PluginCallError::UnknownProvider(provider.to_owned());
        let provider = self.providers.get(provider).cloned().ok_or_else(unknown)?;
        self.run_fetch(provider, profile, email, api_key).await
    }

    async fn run_fetch(
        &self,
        provider: Arc<Provider>,
        profile: &str,
        email: &str,
        api_key: Option<&str>,
    ) -> Result<VendorEab, PluginCallError> {
        let (profile, email) = (profile.to_owned(), email.to_owned());
        // N.B. the key is a secret of this call: whatever the plugin answers, logs or traps with
        // is redacted on the host's side, as is or URL-encoded.
        let provider = match api_key {
            Some(key) => Arc::new(provider.with_call_secret(key)),
            None => provider,
        };
        let api_key = api_key.map(str::to_owned);
        self.call_on(
            provider,
            Operation::FetchEab,
            move |plugin, state, limits| {
                let PluginPre::Vendor(pre) = &plugin.pre else {
                    let why = format!("plugin {} is not a ca-vendor", plugin.info.name);
                    return Err(CallFailure::Host(HostFault::Instantiate(why)));
                };
                call::run(pre, state, limits, |vendor, store| {
                    let eab = vendor.certkeeper_plugin_vendor_profiles().call_fetch_eab(
                        store,
                        &profile,
                        &email,
                        api_key.as_deref(),
                    )?;
                    Ok(eab.map(|eab| VendorEab {
                        kid: eab.kid,
                        hmac_key: eab.hmac_key,
                    }))
                })
            },
        )
        .await
    }
}

/// An instance of the profile's plugin, named after it, that may reach only the profile's
/// `eab-api-hosts`, with the plugin's default settings.
pub(super) fn implicit_instance(profile: &VendorProfile) -> Result<Provider, PluginCallError> {
    let config = ProviderConfig {
        name: profile.plugin.clone(),
        plugin: profile.plugin.clone(),
        allowed_hosts: profile.eab_api_hosts.clone(),
        settings: BTreeMap::new(),
        secret_settings: super::DEFAULT_SECRET_SETTINGS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        call_timeout_secs: None,
        memory_limit_mib: None,
    };
    Provider::new(config).map_err(|error| {
        let fault = HostFault::Instantiate(error.to_string());
        PluginCallError::Host {
            provider: profile.plugin.clone(),
            plugin: profile.plugin.clone(),
            operation: Operation::FetchEab,
            fault,
        }
    })
}
