//! The `ca-vendor` plugins (`plugins/vendor-*`), loaded as built, against the daemon's built-in
//! vendor table.

use super::*;
use crate::acme::vendors::{EabSource, VENDORS};

/// A host with only the built `file` loaded.
fn host_with(file: &str) -> PluginHost {
    let bytes = std::fs::read(built(file)).expect("read vendor plugin");
    let dir = dir_with(file, &bytes);
    PluginHost::load(dir.path(), Vec::new()).expect("vendor plugin loads")
}

/// Loads `file` and checks it is a `ca-vendor` named `plugin` whose profiles are exactly `ids`,
/// each agreeing with the built-in table field by field.
fn check_against_table(file: &str, plugin: &str, ids: &[&str]) {
    let host = host_with(file);
    let info = host.plugins();
    assert_eq!(info.len(), 1);
    assert_eq!(
        (info[0].name.as_str(), info[0].kind.as_str()),
        (plugin, "ca-vendor")
    );
    let profiles = host.vendor_profiles();
    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ids);
    for profile in &profiles {
        let table = VENDORS.iter().find(|v| v.id == profile.name).unwrap();
        let id = &profile.name;
        assert_eq!(
            Some(profile.directory_url.as_str()),
            table.directory,
            "{id}"
        );
        assert_eq!(profile.display_name, table.display_name, "{id}");
        assert_eq!(profile.staging, table.staging, "{id}");
        assert_eq!(profile.eab_required, table.eab_required, "{id}");
        assert_eq!(
            profile.eab_source.is_some(),
            table.eab_source != EabSource::None,
            "{id}"
        );
        assert_eq!(
            profile.default_lifetime_days, table.default_lifetime_days,
            "{id}"
        );
        assert_eq!(profile.retired.as_deref(), table.retired_since, "{id}");
        let keys: Vec<&str> = table.key_types.iter().map(|k| k.as_str()).collect();
        assert_eq!(profile.key_types, keys, "{id}");
        assert_eq!(profile.plugin, plugin, "{id}");
        let fetches = matches!(table.eab_source, EabSource::PluginApi(_));
        assert_eq!(!profile.eab_api_hosts.is_empty(), fetches, "{id}");
    }
    assert_eq!(
        host.vendor_profile(ids[0]).map(|p| p.name),
        Some(ids[0].to_owned())
    );
    assert_eq!(host.vendor_profile("verisign"), None);
}

#[test]
fn the_letsencrypt_plugin_matches_the_table() {
    let ids = ["letsencrypt", "letsencrypt-staging"];
    check_against_table("vendor_letsencrypt.wasm", "vendor-letsencrypt", &ids);
}

#[test]
fn the_zerossl_plugin_matches_the_table() {
    check_against_table("vendor_zerossl.wasm", "vendor-zerossl", &["zerossl"]);
}

#[test]
fn the_buypass_plugin_matches_the_table_and_both_profiles_are_retired() {
    let ids = ["buypass", "buypass-staging"];
    check_against_table("vendor_buypass.wasm", "vendor-buypass", &ids);
}

#[test]
fn the_sslcom_plugin_matches_the_table() {
    let ids = ["sslcom-rsa", "sslcom-ecc"];
    check_against_table("vendor_sslcom.wasm", "vendor-sslcom", &ids);
}

#[test]
fn the_google_plugin_matches_the_table() {
    let ids = ["google", "google-staging"];
    check_against_table("vendor_google.wasm", "vendor-google", &ids);
}

#[test]
fn the_digicert_plugin_matches_the_table() {
    check_against_table("vendor_digicert.wasm", "vendor-digicert", &["digicert"]);
}

#[test]
fn a_ca_with_vendor_letsencrypt_resolves_through_the_loaded_plugin() {
    let _host = host_with("vendor_letsencrypt.wasm");
    let profile = crate::acme::vendors::vendor("letsencrypt").unwrap();
    assert_eq!(profile.source, "plugin vendor-letsencrypt");
    let ca: crate::config::CaConfig = toml::from_str("name = \"le\"\nvendor = \"letsencrypt\"\n")
        .expect("a [[ca]] table with a vendor");
    assert_eq!(
        ca.directory_url(),
        "https://acme-v02.api.letsencrypt.org/directory"
    );
}

#[tokio::test]
async fn a_dns_call_on_a_vendor_plugin_is_refused_naming_it() {
    let bytes = std::fs::read(built("vendor_digicert.wasm")).unwrap();
    let dir = dir_with("vendor_digicert.wasm", &bytes);
    let host = PluginHost::load(dir.path(), vec![provider("dc", "vendor-digicert")]).unwrap();
    let err = host
        .find_zone("dc", "example.test.")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("vendor-digicert") && err.contains("ca-vendor"),
        "{err}"
    );
}

#[test]
fn a_provider_instance_reports_the_kind_of_its_plugin() {
    let bytes = std::fs::read(built("vendor_digicert.wasm")).unwrap();
    let dir = dir_with("vendor_digicert.wasm", &bytes);
    let host = PluginHost::load(dir.path(), vec![provider("dc", "vendor-digicert")]).unwrap();
    assert_eq!(host.provider_kind("dc").as_deref(), Some("ca-vendor"));
    assert_eq!(host.provider_kind("other"), None);
}

#[test]
fn a_vendor_plugin_with_a_plain_http_directory_is_refused_naming_file_and_profile() {
    let bytes = std::fs::read(built("vendor_letsencrypt.wasm")).unwrap();
    // Same length, so the component stays valid: `https://acme-v02` becomes `http://xacme-v02`.
    let bytes = replace_all(
        &bytes,
        b"https://acme-v02",
        b"https://acme-v02",
        b"http://xacme-v02",
    );
    let dir = dir_with("vendor_letsencrypt.wasm", &bytes);
    let err = PluginHost::load(dir.path(), Vec::new())
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("vendor_letsencrypt.wasm"), "{err}");
    assert!(
        err.contains("profile letsencrypt:") && err.contains("not https://"),
        "{err}"
    );
}
