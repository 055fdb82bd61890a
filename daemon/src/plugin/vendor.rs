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
    /// The hosts the plugin's `fetch-eab` reaches for this profile; not empty means the plugin
    /// can fetch EAB credentials itself.
    pub eab_api_hosts: Vec<String>,
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
        if let Some(host) = profile
            .eab_api_hosts
            .iter()
            .find(|h| !super::provider::valid_allowed(h))
        {
            return Err(bad(format!(
                "profile {}: eab-api-hosts entry {host:?} is not `host` or `host:port`",
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
        eab_api_hosts: profile.eab_api_hosts,
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
