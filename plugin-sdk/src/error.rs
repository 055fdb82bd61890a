//! The error a provider operation returns, with constructors that read well at the call site.

pub use crate::bindings::certkeeper::plugin::types::ProviderError;

impl ProviderError {
    /// `auth-failed` with a message.
    pub fn auth_failed(message: impl Into<String>) -> Self {
        Self::AuthFailed(message.into())
    }

    /// `zone-not-found` with a message, usually naming the FQDN.
    pub fn zone_not_found(message: impl Into<String>) -> Self {
        Self::ZoneNotFound(message.into())
    }

    /// `bad-config` with a message that names the setting, never its value.
    pub fn bad_config(message: impl Into<String>) -> Self {
        Self::BadConfig(message.into())
    }

    /// `other` with a message for the operator.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other(message.into())
    }
}
