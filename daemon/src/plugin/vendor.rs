//! CA vendor plugins: components of the `ca-vendor` world in `wit/`, which describe the ACME
//! directories of one CA family. The host reads their profiles once, while loading, and keeps
//! them with the plugin; `acme::vendors` asks for them before its built-in table.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use wasmtime::Store;

use super::call::{self, CallFailure, CallState, Instantiate, PluginLimits};
use super::provider::Provider;
use super::{PluginError, PluginHost};

pub(super) use bindings::CaVendorPre;

mod bindings {
    wasmtime::component::bindgen!({
        world: "ca-vendor",
        path: "../wit",
        with: {
            "certkeeper:plugin/http": super::super::bindings::certkeeper::plugin::http,
            "certkeeper:plugin/log": super::super::bindings::certkeeper::plugin::log,
            "certkeeper:plugin/config": super::super::bindings::certkeeper::plugin::config,
            "certkeeper:plugin/types": super::super::bindings::certkeeper::plugin::types,
        },
    });
}

use bindings::exports::certkeeper::plugin::vendor_profiles::VendorProfile as WitProfile;

/// One ACME directory of a CA vendor, as a `ca-vendor` plugin describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VendorProfile {
    /// The `vendor` value in the config, e.g. `letsencrypt`.
    pub name: String,
    /// The name shown to people.
    pub display_name: String,
    /// The ACME directory URL.
    pub directory_url: String,
    /// A test environment whose certificates are not publicly trusted.
    pub staging: bool,
    /// Whether `newAccount` needs External Account Binding.
    pub eab_required: bool,
    /// Key types the CA accepts, as the config spells them.
    pub key_types: Vec<String>,
    /// Default certificate lifetime in days.
    pub default_lifetime_days: u32,
    /// When (or why) the CA stopped its ACME service, if it did.
    pub retired: Option<String>,
    /// Where EAB credentials come from, for people.
    pub eab_source: Option<String>,
    /// The plugin that provides the profile.
    pub plugin: String,
}

impl Instantiate for CaVendorPre<CallState> {
    type Instance = bindings::CaVendor;
    fn engine(&self) -> &wasmtime::Engine {
        CaVendorPre::engine(self)
    }
    fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<Self::Instance> {
        CaVendorPre::instantiate(self, store)
    }
}

/// Calls the plugin's `profiles` export while it loads and checks each profile's name and URL.
pub(super) fn read_profiles(
    path: &Path,
    pre: &CaVendorPre<CallState>,
    limits: &PluginLimits,
) -> Result<Vec<VendorProfile>, PluginError> {
    let bad = |reason: String| PluginError::Metadata {
        path: path.to_owned(),
        reason,
    };
    let state = CallState::new("", Arc::new(Provider::loading()), limits, None);
    let profiles = call::run(pre, state, limits, |plugin, store| {
        plugin
            .certkeeper_plugin_vendor_profiles()
            .call_profiles(store)
            .map(Ok)
    })
    .map_err(|failure| match failure {
        CallFailure::Host(fault) => bad(format!("the profiles call {fault}")),
        CallFailure::Provider(error) => bad(error.to_string()),
    })?;
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    for profile in &profiles {
        if profile.name.is_empty() || !profile.name.chars().all(valid) {
            return Err(bad(format!(
                "profile name {:?} is not lowercase letters, digits and -",
                profile.name
            )));
        }
        if !profile.directory_url.starts_with("https://") {
            return Err(bad(format!(
                "profile {}: directory URL is not https://",
                profile.name
            )));
        }
    }
    Ok(profiles.into_iter().map(from_wit).collect())
}

fn from_wit(profile: WitProfile) -> VendorProfile {
    VendorProfile {
        name: profile.name,
        display_name: profile.display_name,
        directory_url: profile.directory_url,
        staging: profile.staging,
        eab_required: profile.eab_required,
        key_types: profile.key_types,
        default_lifetime_days: profile.default_lifetime_days,
        retired: profile.retired,
        eab_source: profile.eab_source,
        plugin: String::new(),
    }
}

impl PluginHost {
    /// The profile called `name` from the loaded `ca-vendor` plugins, if one provides it.
    pub fn vendor_profile(&self, name: &str) -> Option<VendorProfile> {
        self.vendor_profiles().into_iter().find(|p| p.name == name)
    }

    /// Every profile of every loaded `ca-vendor` plugin, in plugin-name order.
    pub fn vendor_profiles(&self) -> Vec<VendorProfile> {
        let plugins = self.read_plugins();
        let each = plugins.values().flat_map(|plugin| {
            plugin.profiles.iter().map(|profile| VendorProfile {
                plugin: plugin.info.name.clone(),
                ..profile.clone()
            })
        });
        each.collect()
    }
}

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
    /// Asks the `ca-vendor` plugin behind provider instance `provider` (its `allowed_hosts` and
    /// settings apply) for EAB credentials for `email` at `profile`, with the vendor's API key
    /// when given. A vendor without an EAB API answers with an error saying so.
    pub async fn fetch_eab(
        &self,
        provider: &str,
        profile: &str,
        email: &str,
        api_key: Option<&str>,
    ) -> Result<VendorEab, super::PluginCallError> {
        let (profile, email) = (profile.to_owned(), email.to_owned());
        let api_key = api_key.map(str::to_owned);
        self.call_with(
            provider,
            super::Operation::FetchEab,
            move |plugin, state, limits| {
                let super::component::PluginPre::Vendor(pre) = &plugin.pre else {
                    let why = format!("plugin {} is not a ca-vendor", plugin.info.name);
                    return Err(CallFailure::Host(super::HostFault::Instantiate(why)));
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
