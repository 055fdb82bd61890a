//! The vendor profiles loaded `ca-vendor` plugins provide. [`super::vendors`] looks here before
//! its built-in table, so a plugin can update or add a CA without a daemon release, and nothing
//! changes when no plugin is loaded.
//!
//! Profiles are registered when the plugin host loads; a registered profile lives for the rest of
//! the process (it is leaked to give it the table's `'static` shape, a few hundred bytes per
//! plugin load).

use std::sync::{PoisonError, RwLock};

use super::KeyType;
use super::vendors::{EabSource, VENDORS, VendorProfile};
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
        .ok()?;
    let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    // N.B. the daemon itself can fetch ZeroSSL's credentials; keep that where the table says so.
    let builtin = VENDORS.iter().find(|v| v.id == profile.name);
    let eab_source = match (builtin.map(|v| v.eab_source), &profile.eab_source) {
        (Some(EabSource::ZeroSslApi), _) => EabSource::ZeroSslApi,
        (_, Some(text)) => EabSource::Portal(leak(text)),
        (_, None) => EabSource::None,
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
