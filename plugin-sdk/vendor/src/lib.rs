//! The guest side of the `ca-vendor` world (a crate of its own because the generated export
//! macros of two worlds in one crate would clash): a plugin that describes the ACME directories of one
//! CA family implements [`CaVendor`] and names its type in [`export_ca_vendor!`].
//!
//! The imports (`http`, `log`, `config`) and the shared `types` are those of
//! [`certkeeper_plugin_sdk::bindings`], so its `http`, `log` and `config` helpers work here too.
//!

use std::marker::PhantomData;

use certkeeper_plugin_sdk::bindings::certkeeper::plugin::types::PluginInfo;
use certkeeper_plugin_sdk::{CONTRACT_VERSION, ProviderError};

pub use bindings::exports::certkeeper::plugin::vendor_profiles::{EabCredentials, VendorProfile};

/// Bindings generated from `wit/` for the `ca-vendor` world.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "ca-vendor",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_ca_vendor_world",
        default_bindings_module: "certkeeper_plugin_sdk_vendor::bindings",
        with: {
            "certkeeper:plugin/http@0.1.0": certkeeper_plugin_sdk::bindings::certkeeper::plugin::http,
            "certkeeper:plugin/log@0.1.0": certkeeper_plugin_sdk::bindings::certkeeper::plugin::log,
            "certkeeper:plugin/config@0.1.0": certkeeper_plugin_sdk::bindings::certkeeper::plugin::config,
            "certkeeper:plugin/types@0.1.0": certkeeper_plugin_sdk::bindings::certkeeper::plugin::types,
        },
    });
}

/// A CA vendor, as a plugin author writes it. Each call runs in a fresh instance.
pub trait CaVendor {
    /// The plugin's name, as `certkeeper plugin list` shows it.
    const NAME: &'static str;
    /// The plugin's own version; `env!("CARGO_PKG_VERSION")` is usual.
    const VERSION: &'static str;

    /// Every profile of this vendor; the same answer every time, without calling imports.
    fn profiles() -> Vec<VendorProfile>;

    /// Obtains EAB credentials for `email` at `profile`. The default says the vendor has no API
    /// for them, naming the profile.
    fn fetch_eab(
        profile: &str,
        email: &str,
        api_key: Option<&str>,
    ) -> Result<EabCredentials, ProviderError> {
        let _ = (email, api_key);
        Err(no_eab_api(profile))
    }
}

/// The error of a vendor without an EAB API: the credentials come from its portal.
pub fn no_eab_api(profile: &str) -> ProviderError {
    ProviderError::other(format!(
        "CA vendor profile {profile} hands out no EAB credentials by API; take them from the \
         vendor's portal and put them in the config"
    ))
}

/// Implements the `ca-vendor` world's exports for any [`CaVendor`].
pub struct VendorAdapter<V>(PhantomData<V>);

impl<V: CaVendor> VendorAdapter<V> {
    /// The vendor's operations as plain function pointers, for native builds (see
    /// `certkeeper_plugin_sdk::Adapter::native_exports`).
    #[doc(hidden)]
    pub fn native_exports() -> impl Sized {
        let profiles: fn() -> Vec<VendorProfile> = V::profiles;
        type Fetch = fn(&str, &str, Option<&str>) -> Result<EabCredentials, ProviderError>;
        let fetch: Fetch = V::fetch_eab;
        (profiles, fetch)
    }
}

impl<V: CaVendor> bindings::exports::certkeeper::plugin::metadata::Guest for VendorAdapter<V> {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: V::NAME.to_owned(),
            version: V::VERSION.to_owned(),
            contract_version: CONTRACT_VERSION.to_owned(),
        }
    }
}

impl<V: CaVendor> bindings::exports::certkeeper::plugin::vendor_profiles::Guest
    for VendorAdapter<V>
{
    fn profiles() -> Vec<VendorProfile> {
        V::profiles()
    }

    fn fetch_eab(
        profile: String,
        email: String,
        api_key: Option<String>,
    ) -> Result<EabCredentials, ProviderError> {
        V::fetch_eab(&profile, &email, api_key.as_deref())
    }
}

/// Exports a [`CaVendor`] implementation as the plugin's `ca-vendor` world; once per crate.
#[macro_export]
macro_rules! export_ca_vendor {
    ($vendor:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type Export = $crate::VendorAdapter<$vendor>;
    $crate::bindings::__export_ca_vendor_world!(Export with_types_in $crate::bindings);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[allow(dead_code)]
            fn exports() -> impl Sized {
                $crate::VendorAdapter::<$vendor>::native_exports()
            }
        };
    };
}

/// Every key type the daemon knows, as the config spells them; most public CAs take them all.
pub const ALL_KEY_TYPES: [&str; 5] = [
    "ecdsa-p256",
    "ecdsa-p384",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
];

/// A profile with the defaults most public CAs share: production, no EAB, every key type, 90
/// days, running. Change the fields that differ.
pub fn public_profile(name: &str, display_name: &str, directory_url: &str) -> VendorProfile {
    VendorProfile {
        name: name.to_owned(),
        display_name: display_name.to_owned(),
        directory_url: directory_url.to_owned(),
        staging: false,
        eab_required: false,
        key_types: ALL_KEY_TYPES.iter().map(|k| (*k).to_owned()).collect(),
        default_lifetime_days: 90,
        retired: None,
        eab_source: None,
        eab_api_hosts: Vec::new(),
    }
}
