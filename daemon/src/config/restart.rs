//! What a reload (SIGHUP) cannot put in force: settings read once at start, by the listeners,
//! the store, the plugin host and the ACME engine (whose `[acme]` bounds a reload does
//! replace). The reload names each one that changed, so an operator is not left believing an
//! edit took effect.

use std::collections::BTreeMap;

use super::{CaConfig, Config};
use crate::plugin::ProviderConfig;

/// The settings that differ between `old` and `new` and take effect only on a restart, named
/// as in the config file (`store_key_file`, `[[ca]] "zs" tls_root`, `[[dns_provider]] "p"
/// settings`, …). Never holds a setting's value.
pub fn restart_needed(old: &Config, new: &Config) -> Vec<String> {
    let listen = |c: &Config| c.http01.as_ref().map(|h| h.listen.clone());
    let top = [
        ("store", old.store != new.store),
        ("store_key_file", old.store_key_file != new.store_key_file),
        ("admin_socket", old.admin_socket != new.admin_socket),
        ("plugin_dir", old.plugin_dir != new.plugin_dir),
        (
            "plugin_cache_dir",
            old.plugin_cache_dir != new.plugin_cache_dir,
        ),
        ("[http01] listen", listen(old) != listen(new)),
        ("[dns_server]", old.dns_server != new.dns_server),
        ("[propagation]", old.propagation != new.propagation),
        ("[metrics]", old.metrics != new.metrics),
    ];
    let mut changed: Vec<String> = top
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| name.to_owned())
        .collect();
    changed.extend(section_changes("[[ca]]", &cas(old), &cas(new)));
    changed.extend(section_changes(
        "[[dns_provider]]",
        &providers(old),
        &providers(new),
    ));
    changed
}

/// One section's settings, by name, each with a comparable rendering of its value.
type Sections = BTreeMap<String, Vec<(&'static str, String)>>;

fn cas(config: &Config) -> Sections {
    config
        .cas
        .iter()
        .map(|ca: &CaConfig| {
            let settings = vec![
                ("directory", ca.directory_url()),
                (
                    "vendor",
                    format!("{:?}", ca.vendor.as_ref().map(|v| v.get_ref())),
                ),
                ("tls_root", format!("{:?}", ca.tls_root)),
                ("eab_api_key_file", format!("{:?}", ca.eab_api_key_file)),
            ];
            (ca.name.get_ref().clone(), settings)
        })
        .collect()
}

fn providers(config: &Config) -> Sections {
    config
        .dns_providers
        .iter()
        .map(|p: &ProviderConfig| {
            let settings = vec![
                ("plugin", p.plugin.clone()),
                ("allowed_hosts", format!("{:?}", p.allowed_hosts)),
                ("settings", format!("{:?}", p.settings)),
                ("secret_settings", format!("{:?}", p.secret_settings)),
                ("call_timeout_secs", format!("{:?}", p.call_timeout_secs)),
                ("memory_limit_mib", format!("{:?}", p.memory_limit_mib)),
            ];
            (p.name.clone(), settings)
        })
        .collect()
}

/// `section "name" added`, `… removed`, or `section "name" key` for each key whose value differs.
fn section_changes(section: &str, old: &Sections, new: &Sections) -> Vec<String> {
    let mut changed = Vec::new();
    for (name, settings) in old {
        let Some(now) = new.get(name) else {
            changed.push(format!("{section} \"{name}\" removed"));
            continue;
        };
        let keys = settings.iter().zip(now).filter(|(a, b)| a != b);
        changed.extend(keys.map(|((key, _), _)| format!("{section} \"{name}\" {key}")));
    }
    let added = new.keys().filter(|name| !old.contains_key(*name));
    changed.extend(added.map(|name| format!("{section} \"{name}\" added")));
    changed
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const BASE: &str = r#"
store = "/tmp/ck.redb"
plugin_dir = "/tmp/plugins"

[[ca]]
name = "zs"
directory = "https://127.0.0.1:14000/dir"

[[dns_provider]]
name = "pdns"
plugin = "powerdns"
settings = { api_key = "first-secret" }
"#;

    fn changes(edit: impl Fn(String) -> String) -> Vec<String> {
        let old = Config::parse(Path::new("ck.toml"), BASE).unwrap();
        let new = Config::parse(Path::new("ck.toml"), &edit(BASE.to_owned())).unwrap();
        restart_needed(&old, &new)
    }

    #[test]
    fn an_unchanged_config_needs_no_restart() {
        assert!(changes(|text| text).is_empty());
    }

    #[test]
    fn store_key_file_and_plugin_dir_are_named_and_acme_which_a_reload_applies_is_not() {
        let found = changes(|text| {
            let text = text.replace("/tmp/plugins", "/tmp/other-plugins");
            format!("store_key_file = \"/tmp/k\"\n{text}\n[acme]\nvalidation_timeout_secs = 5\n")
        });
        assert_eq!(found, ["store_key_file", "plugin_dir"]);
    }

    #[test]
    fn a_cas_tls_root_and_key_file_are_named_with_the_ca() {
        // The config check reads the key file, so it has to exist.
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("zs.key");
        std::fs::write(&key, "an-api-key\n").unwrap();
        let found = changes(|text| {
            let at = "directory = \"https://127.0.0.1:14000/dir\"\n";
            let extra = format!(
                "tls_root = \"/tmp/r.pem\"\neab_api_key_file = \"{}\"\n",
                key.display()
            );
            text.replace(at, &format!("{at}{extra}"))
        });
        assert_eq!(
            found,
            ["[[ca]] \"zs\" tls_root", "[[ca]] \"zs\" eab_api_key_file"]
        );
    }

    #[test]
    fn a_providers_changed_settings_are_named_without_their_values() {
        let found = changes(|text| text.replace("first-secret", "second-secret"));
        assert_eq!(found, ["[[dns_provider]] \"pdns\" settings"]);
    }

    #[test]
    fn an_added_or_removed_section_is_named() {
        let found = changes(|text| text.replace("name = \"pdns\"", "name = \"pdns2\""));
        assert_eq!(
            found,
            [
                "[[dns_provider]] \"pdns\" removed",
                "[[dns_provider]] \"pdns2\" added"
            ]
        );
    }
}
