//! The vendor profiles loaded `ca-vendor` plugins provide. [`super::vendors`] looks here before
//! its built-in table, so a plugin can update or add a CA without a daemon release, and nothing
//! changes when no plugin is loaded.
//!
//! Profiles are registered when the plugin host loads; a registered profile lives for the rest of
//! the process (it is leaked to give it the table's `'static` shape, a few hundred bytes per
//! plugin load).

use std::sync::{PoisonError, RwLock};

use super::KeyType;
use super::vendors::{EabSource, VendorProfile};
use crate::plugin::VendorProfile as PluginProfile;

/// Registered plugin profiles, newest registration of a name first.
static REGISTERED: RwLock<Vec<&'static VendorProfile>> = RwLock::new(Vec::new());

/// Makes `profiles` (from [`crate::plugin::PluginHost::vendor_profiles`]) the first answer for
/// their names. A profile whose key types the daemon does not know is skipped, since the daemon
/// could not order with them.
pub fn register(profiles: &[PluginProfile]) {
    let converted: Vec<&'static VendorProfile> = profiles.iter().filter_map(convert).collect();
    let mut registered = REGISTERED.write().unwrap_or_else(PoisonError::into_inner);
    registered.retain(|old| converted.iter().all(|new| new.id != old.id));
    registered.splice(0..0, converted);
}

/// The registered plugin profile called `id`.
pub(super) fn find(id: &str) -> Option<&'static VendorProfile> {
    let registered = REGISTERED.read().unwrap_or_else(PoisonError::into_inner);
    registered.iter().copied().find(|v| v.id == id)
}

/// Every registered plugin profile.
pub(super) fn all() -> Vec<&'static VendorProfile> {
    REGISTERED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

fn convert(profile: &PluginProfile) -> Option<&'static VendorProfile> {
    let key_types: Vec<KeyType> = profile
        .key_types
        .iter()
        .map(|k| k.parse())
        .collect::<Result<_, _>>()
        .inspect_err(|error| {
            let (plugin, profile) = (&profile.plugin, &profile.name);
            tracing::warn!(%plugin, %profile, %error, "vendor profile not used");
        })
        .ok()?;
    let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    // A profile that names the hosts its EAB call reaches says its plugin fetches credentials.
    let eab_source = match &profile.eab_source {
        _ if !profile.eab_api_hosts.is_empty() => EabSource::PluginApi(leak(&profile.plugin)),
        Some(text) => EabSource::Portal(leak(text)),
        None => EabSource::None,
    };
    let source = format!("plugin {}", profile.plugin);
    Some(Box::leak(Box::new(VendorProfile {
        id: leak(&profile.name),
        display_name: leak(&profile.display_name),
        directory: Some(leak(&profile.directory_url)),
        source: leak(&source),
        staging: profile.staging,
        eab_required: profile.eab_required,
        eab_source,
        key_types: Box::leak(key_types.into_boxed_slice()),
        default_lifetime_days: profile.default_lifetime_days,
        retired_since: profile.retired.as_deref().map(leak),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, key_types: &[&str]) -> PluginProfile {
        PluginProfile {
            name: name.into(),
            display_name: "Test CA".into(),
            directory_url: "https://ca.example.test/directory".into(),
            staging: false,
            eab_required: true,
            key_types: key_types.iter().map(|k| (*k).to_owned()).collect(),
            default_lifetime_days: 47,
            retired: None,
            eab_source: Some("the test portal".into()),
            eab_api_hosts: Vec::new(),
            plugin: "vendor-test".into(),
        }
    }

    #[test]
    fn a_registered_profile_answers_by_name_with_the_plugin_as_its_source() {
        register(&[profile("test-registry-ca", &["ecdsa-p256"])]);
        let found = super::super::vendors::vendor("test-registry-ca").unwrap();
        assert_eq!(found.source, "plugin vendor-test");
        assert_eq!(found.directory, Some("https://ca.example.test/directory"));
        assert_eq!(found.key_types, [KeyType::EcdsaP256].as_slice());
        assert_eq!(found.eab_source, EabSource::Portal("the test portal"));
        assert_eq!(found.default_lifetime_days, 47);
    }

    #[test]
    fn a_profile_with_eab_api_hosts_says_its_plugin_fetches_eab() {
        let fetching = PluginProfile {
            eab_api_hosts: vec!["api.ca.example.test".into()],
            ..profile("test-registry-api", &["ecdsa-p256"])
        };
        register(&[fetching]);
        let found = super::super::vendors::vendor("test-registry-api").unwrap();
        assert_eq!(found.eab_source, EabSource::PluginApi("vendor-test"));
    }

    #[test]
    fn a_profile_with_a_key_type_the_daemon_does_not_know_is_not_registered() {
        register(&[profile("test-registry-ed25519", &["ecdsa-p256", "ed25519"])]);
        let err = super::super::vendors::vendor("test-registry-ed25519").unwrap_err();
        assert!(err.contains("test-registry-ed25519"), "{err}");
    }
}
