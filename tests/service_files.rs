//! The systemd unit, sysusers and tmpfiles entries in `config/`: the hardening the README
//! promises is really in them, and systemd itself finds nothing to complain about.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::*;

/// `key → values` of one section of a unit file (keys may repeat).
fn section(text: &str, name: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[{name}]");
        } else if inside
            && !line.starts_with('#')
            && let Some((key, value)) = line.split_once('=')
        {
            out.entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    out
}

fn unit_text() -> String {
    std::fs::read_to_string(workspace_root().join("config/certkeeper.service")).expect("unit")
}

#[test]
fn the_unit_runs_sandboxed_as_its_own_user_and_reloads_on_sighup() {
    let service = section(&unit_text(), "Service");
    let one = |key: &str| service.get(key).and_then(|v| v.last()).map(String::as_str);
    assert_eq!(one("User"), Some("certkeeper"));
    assert_eq!(one("AmbientCapabilities"), Some("CAP_NET_BIND_SERVICE"));
    assert_eq!(one("ProtectSystem"), Some("strict"));
    assert_eq!(one("ProtectHome"), Some("yes"));
    assert_eq!(one("PrivateTmp"), Some("yes"));
    assert_eq!(one("NoNewPrivileges"), Some("yes"));
    assert_eq!(
        one("RestrictAddressFamilies"),
        Some("AF_UNIX AF_INET AF_INET6")
    );
    assert!(one("ExecReload").is_some_and(|r| r.contains("kill -HUP $MAINPID")));
    let writable = one("ReadWritePaths").unwrap_or_default();
    assert!(
        writable.split(' ').any(|p| p == "/var/lib/certkeeper"),
        "{writable}"
    );
}

#[test]
fn sysusers_and_tmpfiles_create_the_user_and_the_state_directory() {
    let root = workspace_root().join("config");
    let sysusers = std::fs::read_to_string(root.join("certkeeper.sysusers.conf")).unwrap();
    assert!(
        sysusers.lines().any(|l| l.starts_with("u certkeeper ")),
        "{sysusers}"
    );
    let tmpfiles = std::fs::read_to_string(root.join("certkeeper.tmpfiles.conf")).unwrap();
    let state = tmpfiles
        .lines()
        .find(|l| l.starts_with("d /var/lib/certkeeper "));
    assert!(
        state.is_some_and(|l| l.contains("0700 certkeeper")),
        "{tmpfiles}"
    );
}

#[test]
fn systemd_analyze_verify_finds_nothing_to_report() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("systemd-analyze is not installed; the key checks above stand in for it");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("certkeeper.service");
    let binary = certkeeper_bin();
    std::fs::write(
        &unit,
        unit_text().replace("/usr/bin/certkeeper", path_str(&binary)),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}
