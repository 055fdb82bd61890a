use std::path::Path;

use super::*;

const GOOD: &str = r#"
store = "/tmp/ck.redb"

[http01]
listen = ["127.0.0.1:5002"]

[[ca]]
name = "pebble"
directory = "https://127.0.0.1:14000/dir"

[[account]]
name = "main"
ca = "pebble"
email = "ops@example.test"
agree_tos = true

[[certificate]]
name = "a"
names = ["a.example.test"]
account = "main"
challenge = "http-01"
"#;

fn error_of(text: &str) -> String {
    Config::parse(Path::new("ck.toml"), text)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_good_config_parses_with_defaults() {
    let config = Config::parse(Path::new("ck.toml"), GOOD).unwrap();
    assert_eq!(config.admin_socket, Path::new("/run/certkeeper/admin.sock"));
    assert_eq!(
        config.certificates[0].key_type,
        crate::acme::KeyType::EcdsaP256
    );
}

#[test]
fn an_unknown_key_names_file_line_and_key() {
    let err = error_of(&GOOD.replace("agree_tos = true", "agree_tos = true\ncolour = \"blue\""));
    assert!(
        err.starts_with("ck.toml:16:1: unknown field `colour`"),
        "{err}"
    );
    assert!(err.contains("(key `colour`)"), "{err}");
}

#[test]
fn a_wrong_type_names_the_key() {
    let err = error_of(&GOOD.replace("agree_tos = true", "agree_tos = \"yes\""));
    assert!(err.starts_with("ck.toml:15:13:"), "{err}");
    assert!(
        err.contains("agree_tos") && err.contains("expected a boolean"),
        "{err}"
    );
}

#[test]
fn a_dangling_account_reference_is_refused() {
    let err = error_of(&GOOD.replace("account = \"main\"", "account = \"mian\""));
    assert!(
        err.contains("account \"mian\", which no [[account]] defines"),
        "{err}"
    );
    assert!(err.starts_with("ck.toml:20:11:"), "{err}");
}

#[test]
fn a_name_that_is_not_a_domain_is_refused() {
    let err = error_of(&GOOD.replace("[\"a.example.test\"]", "[\"not a domain\"]"));
    assert!(
        err.contains("\"not a domain\" is not a domain name"),
        "{err}"
    );
}

#[test]
fn http01_for_a_wildcard_is_refused() {
    let err = error_of(&GOOD.replace("[\"a.example.test\"]", "[\"*.example.test\"]"));
    assert!(err.contains("wildcards only by dns-01"), "{err}");
}

#[test]
fn builtin_dns_needs_a_zone_that_covers_the_record() {
    let text = GOOD.replace(
        "challenge = \"http-01\"",
        "challenge = \"dns-01\"\ndns = \"builtin\"",
    ) + "\n[dns_server]\nzones = [\"_acme-challenge.other.test\"]\nnameserver = \"ns.other.test.\"\n";
    let err = error_of(&text);
    assert!(
        err.contains("_acme-challenge.a.example.test. is in none of the [dns_server] zones"),
        "{err}"
    );
}

#[test]
fn a_malformed_email_is_refused() {
    let err = error_of(&GOOD.replace("ops@example.test", "ops"));
    assert!(err.contains("\"ops\" is not an email address"), "{err}");
}

#[test]
fn the_shipped_example_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/certkeeper.toml");
    Config::load(&path).unwrap();
}

#[test]
fn a_zero_poll_interval_is_refused_at_the_propagation_header() {
    let err = error_of(&(GOOD.to_owned() + "\n[propagation]\ninterval_secs = 0\n"));
    assert!(
        err.contains("interval_secs and query_timeout_ms must be at least 1"),
        "{err}"
    );
    assert!(err.starts_with("ck.toml:23:1:"), "{err}");
}

#[test]
fn an_absurd_propagation_timeout_is_refused() {
    let err =
        error_of(&(GOOD.to_owned() + "\n[propagation]\ntimeout_secs = 9223372036854775807\n"));
    assert!(err.contains("timeout_secs must be at most"), "{err}");
}

#[test]
fn an_account_that_does_not_agree_to_the_terms_is_refused() {
    let err = error_of(&GOOD.replace("agree_tos = true", "agree_tos = false"));
    assert!(
        err.contains("agree_tos = false, so the daemon could never register it"),
        "{err}"
    );
}

#[test]
fn check_config_refuses_a_nameserver_the_dns_server_would_refuse() {
    let text = GOOD.to_owned()
        + "\n[dns_server]\nzones = [\"_acme-challenge.a.test\"]\nnameserver = \"bad name!\"\n";
    let err = error_of(&text);
    assert!(
        err.contains("nameserver") && err.starts_with("ck.toml:23:1:"),
        "{err}"
    );
}

#[test]
fn an_eab_kid_without_a_key_is_refused_at_its_line() {
    let err = error_of(&GOOD.replace("agree_tos = true", "agree_tos = true\neab_kid = \"kid-1\""));
    assert!(err.contains("ck.toml:16:11"), "{err}");
    assert!(err.contains("only the key id was given"), "{err}");
}

#[test]
fn an_eab_key_in_standard_base64_is_refused_without_showing_it() {
    let text = GOOD.replace(
        "agree_tos = true",
        "agree_tos = true\neab_kid = \"kid-1\"\neab_hmac_key = \"ab+d/fgh\"",
    );
    let err = error_of(&text);
    assert!(
        err.contains("not base64url") && !err.contains("ab+d/fgh"),
        "{err}"
    );
}

#[test]
fn a_deploy_mode_that_is_not_octal_is_refused_with_its_line() {
    let text =
        GOOD.to_owned() + "\n[[certificate.deploy]]\ncert = \"/tmp/x.pem\"\nmode = \"rw-r--r--\"\n";
    let err = error_of(&text);
    assert!(
        err.contains("mode \"rw-r--r--\" is not an octal file mode"),
        "{err}"
    );
    assert!(err.contains("(key `mode`)"), "{err}");
}

#[test]
fn renewal_and_metrics_are_off_the_defaults_unless_configured() {
    let config = Config::parse(Path::new("ck.toml"), GOOD).unwrap();
    assert!(config.metrics.is_none());
    assert_eq!(config.renewal.backoff_base_secs, 3600);
}

#[test]
fn an_eab_key_file_is_read_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("eab.key");
    std::fs::write(&file, "YWJjZA==\n").unwrap();
    let text = GOOD.replace(
        "agree_tos = true",
        &format!(
            "agree_tos = true\neab_kid = \"k\"\neab_hmac_key_file = \"{}\"",
            file.display()
        ),
    );
    let config = Config::parse(Path::new("ck.toml"), &text).unwrap();
    let request = config.accounts[0].request().unwrap();
    assert_eq!(request.eab_hmac_key.as_deref(), Some("YWJjZA=="));
}

#[test]
fn a_missing_eab_key_file_is_named() {
    let text = GOOD.replace(
        "agree_tos = true",
        "agree_tos = true\neab_kid = \"k\"\neab_hmac_key_file = \"/nonexistent/eab.key\"",
    );
    assert!(error_of(&text).contains("/nonexistent/eab.key"));
}

#[test]
fn a_vendor_stands_in_for_the_directory_url() {
    let text = GOOD.replace(
        "directory = \"https://127.0.0.1:14000/dir\"",
        "vendor = \"letsencrypt-staging\"",
    );
    let config = Config::parse(Path::new("ck.toml"), &text).unwrap();
    assert_eq!(
        config.cas[0].directory_url(),
        "https://acme-staging-v02.api.letsencrypt.org/directory"
    );
}

#[test]
fn an_unknown_vendor_is_refused_at_its_line_once_plugins_are_known() {
    let text = GOOD.replace(
        "directory = \"https://127.0.0.1:14000/dir\"",
        "vendor = \"verisign\"",
    );
    let config = Config::parse(Path::new("ck.toml"), &text).unwrap();
    assert!(!config.vendors_known());
    let err = config
        .check_vendors_in(Path::new("ck.toml"), &text)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ck.toml:9:") && err.contains("unknown CA vendor \"verisign\""),
        "{err}"
    );
    assert!(
        err.contains("[[ca]] \"pebble\"") && err.contains("letsencrypt, "),
        "{err}"
    );
}

#[test]
fn a_vendor_a_loaded_plugin_provides_is_accepted() {
    let profile = crate::plugin::VendorProfile {
        name: "test-config-ca".into(),
        display_name: "Config Test CA".into(),
        directory_url: "https://ca.example.test/dir".into(),
        staging: false,
        eab_required: false,
        key_types: vec!["ecdsa-p256".into()],
        default_lifetime_days: 90,
        retired: None,
        eab_source: None,
        eab_api_hosts: Vec::new(),
        plugin: "vendor-config-test".into(),
    };
    let text = GOOD.replace(
        "directory = \"https://127.0.0.1:14000/dir\"",
        "vendor = \"test-config-ca\"",
    );
    let config = Config::parse(Path::new("ck.toml"), &text).unwrap();
    crate::acme::vendor_registry::register(&[profile]);
    config
        .check_vendors_in(Path::new("ck.toml"), &text)
        .unwrap();
    assert_eq!(config.cas[0].directory_url(), "https://ca.example.test/dir");
}

#[test]
fn a_directory_overrides_the_vendors_own_url() {
    let text = GOOD.replace(
        "directory = \"https://127.0.0.1:14000/dir\"",
        "directory = \"https://127.0.0.1:14100/dir\"\nvendor = \"zerossl\"",
    );
    let config = Config::parse(Path::new("ck.toml"), &text).unwrap();
    config
        .check_vendors_in(Path::new("ck.toml"), &text)
        .unwrap();
    assert_eq!(config.cas[0].directory_url(), "https://127.0.0.1:14100/dir");
}

#[test]
fn the_custom_vendor_needs_a_directory() {
    let text = GOOD.replace(
        "directory = \"https://127.0.0.1:14000/dir\"",
        "vendor = \"custom\"",
    );
    assert!(error_of(&text).contains("vendor \"custom\" needs `directory`"));
    let with_url = GOOD.replace(
        "directory = \"https://127.0.0.1:14000/dir\"",
        "vendor = \"custom\"\ndirectory = \"https://127.0.0.1:14000/dir\"",
    );
    Config::parse(Path::new("ck.toml"), &with_url).unwrap();
}

#[test]
fn the_example_store_key_file_line_parses_once_uncommented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/certkeeper.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\n# store_key_file = "),
        "the example line is gone"
    );
    let text = text.replace("\n# store_key_file = ", "\nstore_key_file = ");
    let config = Config::parse(&path, &text).unwrap();
    let expected = Path::new("/etc/certkeeper/store.key");
    assert_eq!(config.store_key_file.as_deref(), Some(expected));
}

#[test]
fn blank_or_odd_section_names_are_refused_at_their_line() {
    let err = error_of(&GOOD.replace("name = \"main\"", "name = \"\""));
    assert!(
        err.starts_with("ck.toml:12:8: account name \"\" is refused"),
        "{err}"
    );
    let err = error_of(&GOOD.replace("name = \"a\"", "name = \"a\\nb\""));
    assert!(
        err.contains("certificate name \"a\\nb\" is refused"),
        "{err}"
    );
    let err = error_of(&GOOD.replace("name = \"pebble\"", "name = \"pe bble\""));
    assert!(err.contains("ca name \"pe bble\" is refused"), "{err}");
}

fn with_api_key_file(vendor: &str, file: &str) -> String {
    let ca = format!(
        "[[ca]]\nname = \"zs\"\nvendor = \"{vendor}\"\neab_api_key_file = \"{file}\"\n\n[[account]]"
    );
    GOOD.replacen("[[account]]", &ca, 1)
}

#[test]
fn a_missing_or_blank_eab_api_key_file_is_refused_naming_the_ca() {
    let err = error_of(&with_api_key_file("zerossl", "/nonexistent/zs.key"));
    assert!(
        err.starts_with("ck.toml:14:20: [[ca]] \"zs\": eab_api_key_file /nonexistent/zs.key"),
        "{err}"
    );
    let err = error_of(&with_api_key_file("zerossl", ""));
    assert!(
        err.contains("[[ca]] \"zs\": eab_api_key_file is empty"),
        "{err}"
    );
    let err = error_of(&with_api_key_file("zerossl", "/dev/zero"));
    assert!(err.contains("/dev/zero: not a regular file"), "{err}");
}

#[test]
fn an_eab_api_key_file_on_a_vendor_without_an_eab_api_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("api.key");
    std::fs::write(&key, "abc123\n").unwrap();
    let key = key.display().to_string();
    let err = error_of(&with_api_key_file("letsencrypt", &key));
    assert!(
        err.contains("[[ca]] \"zs\"") && err.contains("vendor \"letsencrypt\" hands out no EAB"),
        "{err}"
    );
    Config::parse(Path::new("ck.toml"), &with_api_key_file("zerossl", &key)).unwrap();
}

#[test]
fn an_eab_api_key_file_on_a_ca_without_a_vendor_profile_is_refused_once_plugins_are_known() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("api.key");
    std::fs::write(&key, "abc123\n").unwrap();
    let line = format!(
        "directory = \"https://127.0.0.1:14000/dir\"\neab_api_key_file = \"{}\"",
        key.display()
    );
    let text = GOOD.replacen("directory = \"https://127.0.0.1:14000/dir\"", &line, 1);
    let config = Config::parse(Path::new("ck.toml"), &text).unwrap();
    let err = config
        .check_vendors_in(Path::new("ck.toml"), &text)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[[ca]] \"pebble\"") && err.contains("set `vendor`"),
        "{err}"
    );
}

/// GOOD with one deploy target for certificate "a" holding `body`.
fn with_deploy(body: &str) -> String {
    format!("{GOOD}\n[[certificate.deploy]]\n{body}\n")
}

#[test]
fn deploy_targets_that_would_misbehave_are_refused_naming_certificate_and_target() {
    let cases = [
        ("fullchain = \"out/fullchain.pem\"", "relative path"),
        (
            "cert = \"/etc/ssl/a.pem\"\nkey = \"/etc/ssl/a.pem\"",
            "cert and key are both \"/etc/ssl/a.pem\"",
        ),
        ("mode = \"0644\"", "names no file"),
        (
            "key = \"/etc/ssl/a.key\"\nkey_mode = \"0644\"",
            "lets every local user at the private key",
        ),
    ];
    for (body, words) in cases {
        let err = error_of(&with_deploy(body));
        assert!(err.starts_with("ck.toml:"), "{err}");
        assert!(err.contains(words), "{body}: {err}");
        if !words.contains("private key") {
            assert!(err.contains("certificate \"a\", deploy target 1"), "{err}");
        }
    }
    let fine = with_deploy(
        "fullchain = \"/etc/ssl/a.pem\"\nkey = \"/etc/ssl/a.key\"\nkey_mode = \"0640\"",
    );
    Config::parse(Path::new("ck.toml"), &fine).unwrap();
}

#[test]
fn provider_names_that_shadow_a_method_or_break_the_naming_rules_are_refused() {
    let provider = |name: &str| {
        format!("{GOOD}\n[[dns_provider]]\nname = \"{name}\"\nplugin = \"powerdns\"\n")
    };
    let err = error_of(&provider("manual"));
    assert!(err.contains("cannot be named \"manual\""), "{err}");
    let err = error_of(&provider("builtin"));
    assert!(err.contains("cannot be named \"builtin\""), "{err}");
    let err = error_of(&provider("bad name!"));
    assert!(
        err.contains("dns provider name \"bad name!\" is refused"),
        "{err}"
    );
    let line = |err: &str| err.split(':').nth(1).unwrap().parse::<usize>().unwrap();
    assert_eq!(line(&err), GOOD.lines().count() + 3, "{err}");
    let twice = format!(
        "{}[[dns_provider]]\nname = \"pdns\"\nplugin = \"powerdns\"\n",
        provider("pdns")
    );
    let err = error_of(&twice);
    assert!(err.contains("both named \"pdns\""), "{err}");
}

#[test]
fn an_admin_socket_path_too_long_for_a_unix_socket_is_refused() {
    let long = format!("/run/{}/admin.sock", "d".repeat(100));
    let err = error_of(&GOOD.replace(
        "store = \"/tmp/ck.redb\"",
        &format!("store = \"/tmp/ck.redb\"\nadmin_socket = \"{long}\""),
    ));
    assert!(err.starts_with("ck.toml:3:"), "{err}");
    assert!(err.contains("at most 107"), "{err}");
}

#[test]
fn a_zero_propagation_timeout_and_a_backoff_base_above_its_cap_are_refused() {
    let err = error_of(&format!("{GOOD}\n[propagation]\ntimeout_secs = 0\n"));
    assert!(err.contains("timeout_secs = 0"), "{err}");
    let err = error_of(&format!(
        "{GOOD}\n[renewal]\nbackoff_base_secs = 7200\nbackoff_cap_secs = 3600\n"
    ));
    assert!(
        err.contains("backoff_base_secs = 7200 is above backoff_cap_secs = 3600"),
        "{err}"
    );
}

#[test]
fn a_provider_setting_of_another_type_is_refused_without_echoing_its_value() {
    for (value, what) in [
        ("982451653", "not an integer"),
        ("982451.653", "not a number"),
        ("true", "not a boolean"),
        ("[\"982451653\"]", "not an array"),
        ("{ k = \"982451653\" }", "not a table"),
    ] {
        let text = format!(
            "{GOOD}\n[[dns_provider]]\nname = \"pdns\"\nplugin = \"powerdns\"\n\
             settings = {{ server_url = \"http://127.0.0.1:8081\", api_key = {value} }}\n"
        );
        let err = error_of(&text);
        assert!(err.starts_with("ck.toml:"), "{err}");
        assert!(
            err.contains(what) && err.contains("in quotes"),
            "{value}: {err}"
        );
        assert!(!err.contains("982451"), "the value leaked: {err}");
    }
    let fine = format!(
        "{GOOD}\n[[dns_provider]]\nname = \"pdns\"\nplugin = \"powerdns\"\n\
         settings = {{ api_key = \"982451653\" }}\n"
    );
    let config = Config::parse(Path::new("ck.toml"), &fine).unwrap();
    assert_eq!(config.dns_providers[0].settings["api_key"], "982451653");
}
