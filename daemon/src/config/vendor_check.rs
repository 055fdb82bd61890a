//! `[[ca]] vendor` names. A name may come from a `ca-vendor` plugin in `plugin_dir`, and plugins
//! load after the config, so the check has two steps: parsing refuses only what is wrong whatever
//! plugins say (neither `directory` nor `vendor`; `custom` without `directory`), and
//! [`super::Config::check_vendors`] refuses unknown names once the plugins are loaded.

use super::CaConfig;
use super::error::Misplaced;
use crate::acme::vendors;

/// `directory` or `vendor`, and a `directory` for a vendor without its own URL; a `directory`
/// given with a vendor that has one overrides it (a regional host, a test CA). With `strict`, a
/// vendor name that neither the built-in table nor a loaded plugin knows is an error naming the
/// `[[ca]]`, the vendor and the known names.
pub(super) fn check_vendor(ca: &CaConfig, strict: bool) -> Result<(), Misplaced> {
    let Some(vendor) = &ca.vendor else {
        return match ca.directory {
            Some(_) => Ok(()),
            None => Err(Misplaced::new(
                ca.name.span(),
                "a [[ca]] needs `directory` or `vendor`",
            )),
        };
    };
    let profile = match vendors::vendor(vendor.get_ref()) {
        Ok(profile) => profile,
        Err(_) if !strict => return Ok(()),
        Err(_) => return Err(Misplaced::new(vendor.span(), unknown(ca, vendor.get_ref()))),
    };
    if profile.directory.is_none() && ca.directory.is_none() {
        let msg = format!("vendor \"{}\" needs `directory`", profile.id);
        return Err(Misplaced::new(vendor.span(), msg));
    }
    Ok(())
}

/// Whether the built-in table or a loaded plugin knows every vendor the config names.
pub(super) fn all_known(cas: &[CaConfig]) -> bool {
    cas.iter()
        .filter_map(|ca| ca.vendor.as_ref())
        .all(|vendor| vendors::vendor(vendor.get_ref()).is_ok())
}

fn unknown(ca: &CaConfig, vendor: &str) -> String {
    format!(
        "[[ca]] \"{}\": unknown CA vendor \"{vendor}\" (known: {}); a ca-vendor plugin in \
         plugin_dir can provide more",
        ca.name.get_ref(),
        vendors::known().join(", ")
    )
}
