//! Bridges a [`DnsProvider`] to the generated export traits.

use std::marker::PhantomData;

use crate::bindings::certkeeper::plugin::types::PluginInfo;
use crate::bindings::exports::certkeeper::plugin::{connection, metadata, txt_records, zones};
use crate::{CONTRACT_VERSION, DnsProvider, ProviderError};

/// Implements the world's exports for any [`DnsProvider`]; [`export_dns_provider!`] names it.
///
/// [`export_dns_provider!`]: crate::export_dns_provider
pub struct Adapter<P>(PhantomData<P>);

impl<P: DnsProvider> Adapter<P> {
    /// The provider's operations as plain function pointers; only native builds use it, to keep
    /// the provider's code live where the wasm exports are left out.
    #[doc(hidden)]
    pub fn native_exports() -> impl Sized {
        let present: fn(&str, &str, u32) -> Result<(), ProviderError> = P::present;
        let cleanup: fn(&str, &str) -> Result<(), ProviderError> = P::cleanup;
        let find_zone: fn(&str) -> Result<String, ProviderError> = P::find_zone;
        let test_connection: fn() -> Result<(), ProviderError> = P::test_connection;
        (present, cleanup, find_zone, test_connection)
    }
}

impl<P: DnsProvider> metadata::Guest for Adapter<P> {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: P::NAME.to_owned(),
            version: P::VERSION.to_owned(),
            contract_version: CONTRACT_VERSION.to_owned(),
        }
    }
}

impl<P: DnsProvider> txt_records::Guest for Adapter<P> {
    fn present(fqdn: String, value: String, ttl: u32) -> Result<(), ProviderError> {
        P::present(&fqdn, &value, ttl)
    }

    fn cleanup(fqdn: String, value: String) -> Result<(), ProviderError> {
        P::cleanup(&fqdn, &value)
    }
}

impl<P: DnsProvider> zones::Guest for Adapter<P> {
    fn find_zone(fqdn: String) -> Result<String, ProviderError> {
        P::find_zone(&fqdn)
    }
}

impl<P: DnsProvider> connection::Guest for Adapter<P> {
    fn test_connection() -> Result<(), ProviderError> {
        P::test_connection()
    }
}
