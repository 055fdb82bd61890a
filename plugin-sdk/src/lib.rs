//! The guest side of certkeeper's plugin contract.
//!
//! A DNS provider plugin implements [`DnsProvider`] and names its type in [`export_dns_provider!`];
//! the SDK turns that into the exports of the `dns-provider` world in `wit/`. The helpers cover
//! what every provider needs: [`http`] requests through the host (JSON in and out), [`config`]
//! settings with a clear `bad-config` error for a missing key, [`log`] lines, [`dns`] name
//! handling, [`txt`] quoting and the [`sign`]ers (AWS SigV4, Akamai EdgeGrid) some APIs need.
//!
//! ```ignore
//! struct Example;
//!
//! impl certkeeper_plugin_sdk::DnsProvider for Example {
//!     const NAME: &'static str = "example";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     // present, cleanup, find_zone, test_connection ...
//! }
//!
//! certkeeper_plugin_sdk::export_dns_provider!(Example);
//! ```

pub mod config;
pub mod dns;
pub mod http;
pub mod log;
pub mod sign;
pub mod txt;

mod adapter;
mod error;

pub use adapter::Adapter;
pub use error::ProviderError;

/// The version of the WIT contract (`certkeeper:plugin@…`) this SDK builds plugins for.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// Bindings generated from `wit/` for the `dns-provider` world.
///
/// Plugin authors rarely need these directly; the helpers in this crate wrap them.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "dns-provider",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_dns_provider_world",
        default_bindings_module: "certkeeper_plugin_sdk::bindings",
    });
}

/// A DNS provider, as a plugin author writes it.
///
/// Each call runs in a fresh instance, so a provider keeps no state between calls: read the
/// settings with [`config`] every time. Names are FQDNs, lowercase, with a trailing dot; see the
/// WIT docs of `txt-records`, `zones` and `connection` for which error each operation returns
/// when.
pub trait DnsProvider {
    /// The plugin's name, referred to by the `plugin` key of a provider instance.
    const NAME: &'static str;
    /// The plugin's own version; `env!("CARGO_PKG_VERSION")` is usual.
    const VERSION: &'static str;

    /// Adds `value` to the TXT record set at `fqdn`; values already there stay.
    fn present(fqdn: &str, value: &str, ttl: u32) -> Result<(), ProviderError>;

    /// Removes exactly `value` from the TXT record set at `fqdn`; an absent value is not an
    /// error.
    fn cleanup(fqdn: &str, value: &str) -> Result<(), ProviderError>;

    /// Returns the zone of the account that holds `fqdn`.
    fn find_zone(fqdn: &str) -> Result<String, ProviderError>;

    /// Makes one cheap read-only request to check the settings.
    fn test_connection() -> Result<(), ProviderError>;
}

/// Exports a [`DnsProvider`] implementation as the plugin's `dns-provider` world.
///
/// Use it once per plugin crate, at the crate root, with the provider's type name.
#[macro_export]
macro_rules! export_dns_provider {
    ($provider:ty) => {
        // N.B. export names such as `certkeeper:plugin/zones@0.1.0#find-zone` are only valid in a
        // wasm module: a native linker rejects them, so a native build (unit tests) skips them.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            // The generated export macro takes an identifier, not a type, hence the alias.
            type Export = $crate::Adapter<$provider>;
    $crate::bindings::__export_dns_provider_world!(Export with_types_in $crate::bindings);
        };
        // In a native build, keep the provider's code live for the dead-code lint.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[allow(dead_code)]
            fn exports() -> impl Sized {
                $crate::Adapter::<$provider>::native_exports()
            }
        };
    };
}
