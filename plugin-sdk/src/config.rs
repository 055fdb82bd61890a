//! The provider instance's settings, as the operator wrote them in the daemon's config.

use crate::ProviderError;
use crate::bindings::certkeeper::plugin::config as host;

/// Returns the setting `key`, or `None` when the operator did not set it.
pub fn get(key: &str) -> Option<String> {
    host::get(key)
}

/// Returns the setting `key`, or `default` when it is not set.
pub fn get_or(key: &str, default: &str) -> String {
    get(key).unwrap_or_else(|| default.to_owned())
}

/// Returns the setting `key`, or a `bad-config` error naming the key when it is missing or empty.
pub fn require(key: &str) -> Result<String, ProviderError> {
    match get(key) {
        Some(value) if !value.trim().is_empty() => Ok(value),
        Some(_) => Err(ProviderError::bad_config(format!(
            "setting `{key}` is empty"
        ))),
        None => Err(ProviderError::bad_config(format!(
            "setting `{key}` is missing"
        ))),
    }
}
