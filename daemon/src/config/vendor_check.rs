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
    check_api_key_file(ca, strict)?;
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

/// `eab_api_key_file`: a readable key file, on a CA whose vendor profile fetches EAB credentials
/// from the vendor's API. A CA with no known profile is refused only with `strict`, when every
/// plugin's profile is known.
fn check_api_key_file(ca: &CaConfig, strict: bool) -> Result<(), Misplaced> {
    let Some(file) = &ca.eab_api_key_file else {
        return Ok(());
    };
    let name = ca.name.get_ref();
    let refuse = |why: String| {
        Err(Misplaced::new(
            file.span(),
            format!("[[ca]] \"{name}\": {why}"),
        ))
    };
    if file.get_ref().as_os_str().is_empty() {
        return refuse("eab_api_key_file is empty; name the file holding the API key".into());
    }
    if let Err(e) = crate::acme::read_api_key_file(file.get_ref()) {
        return refuse(e.to_string());
    }
    let profile = match &ca.vendor {
        Some(vendor) => vendors::vendor(vendor.get_ref()).ok(),
        None => vendors::vendor_for_directory(&ca.directory_url())
            .and_then(|id| vendors::vendor(id).ok()),
    };
    match profile {
        Some(p) if matches!(p.eab_source, vendors::EabSource::PluginApi(_)) => Ok(()),
        Some(p) => refuse(format!(
            "eab_api_key_file is set, but vendor \"{}\" hands out no EAB credentials by API",
            p.id
        )),
        None if strict => refuse(
            "eab_api_key_file is set, but the CA has no vendor profile whose API hands out \
             EAB credentials; set `vendor`"
                .into(),
        ),
        None => Ok(()),
    }
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
