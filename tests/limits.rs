//! Absurd input from a careless or hostile operator: numbers past any sensible range, blank or
//! multi-line names, devices as key files. Each is refused with an error naming it, before
//! anything is stored or sent, and nothing panics.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use crate::support::*;

fn register(daemon: &Daemon, name: &str, extra: &[&str]) -> Output {
    let mut args = vec!["account", "register", "--name", name, "--ca", "pebble"];
    args.extend(["--email", "ops@example.test", "--agree-tos"]);
    args.extend(extra);
    daemon.cli(&args)
}

fn accounts(daemon: &Daemon) -> serde_json::Value {
    daemon.json(&["account", "list"])
}

#[test]
fn blank_multi_line_or_huge_account_names_are_refused_and_nothing_is_stored() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let before = accounts(&daemon);

    let huge = "n".repeat(5000);
    for (name, shown) in [("", "\"\""), ("a\nb", "\"a\\nb\""), (huge.as_str(), "5000")] {
        let out = register(&daemon, name, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name:?} was registered");
        assert!(err.contains("account name") && err.contains(shown), "{err}");
    }
    assert_eq!(accounts(&daemon), before);
}

#[test]
fn a_device_or_two_line_api_key_file_is_refused_before_anything_is_sent() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let before = accounts(&daemon);

    let two_lines = daemon.dir.path().join("two-lines.key");
    std::fs::write(&two_lines, "key-one\nkey-two\n").unwrap();
    for file in [std::path::Path::new("/dev/zero"), &two_lines] {
        let out = register(&daemon, "x", &["--eab-api-key-file", path_str(file)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains(path_str(file)) && !err.contains("key-one"),
            "{err}"
        );
    }
    assert_eq!(accounts(&daemon), before);
}

#[test]
fn check_config_refuses_u64_max_durations_and_a_fifo_store_key_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("certkeeper.toml");
    let check = |text: &str| -> String {
        std::fs::write(&config, text).unwrap();
        let out = Command::new(certkeeper_bin())
            .args(["check-config", "--config", path_str(&config)])
            .output()
            .unwrap();
        assert!(!out.status.success(), "accepted:\n{text}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let store = format!("store = \"{}\"\n", dir.path().join("s.redb").display());

    let huge = "18446744073709551615";
    let err = check(&format!("{store}[renewal]\nbackoff_cap_secs = {huge}\n"));
    assert!(
        err.contains(":3:1:") && err.contains("backoff_cap_secs"),
        "{err}"
    );
    let err = check(&format!("{store}[acme]\nvalidation_timeout_secs = 0\n"));
    assert!(
        err.contains("validation_timeout_secs = 0 is out of range"),
        "{err}"
    );

    let fifo = dir.path().join("store.key");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = check(&format!("{store}store_key_file = \"{}\"\n", fifo.display()));
    assert!(
        err.contains(path_str(&fifo)) && err.contains("not a regular file"),
        "{err}"
    );
}
