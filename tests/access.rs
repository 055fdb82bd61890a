//! Who may use the daemon, and what never leaves it: the admin socket is the owner's alone, and
//! no private key or credential appears in logs, `--json` output or error messages.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use crate::support::*;

/// A throwaway local user, removed again when dropped.
struct LocalUser(String);

impl LocalUser {
    fn create() -> Self {
        let name = format!("ckt{}", std::process::id() % 100_000);
        let status = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/usr/sbin/nologin", &name])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "useradd failed: this test needs root"
        );
        Self(name)
    }
}

impl Drop for LocalUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).status();
    }
}

#[test]
fn another_local_user_cannot_use_the_admin_socket_or_read_the_store() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    // The temp dir is the test's; let the other user reach the files so only their modes decide.
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let socket = daemon.dir.path().join("admin.sock");
    let store = daemon.dir.path().join("certkeeper.redb");
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let user = LocalUser::create();
    let out = Command::new("setpriv")
        .args(["--reuid", &user.0, "--regid", "nogroup", "--clear-groups"])
        .arg(certkeeper_bin())
        .args(["--socket", path_str(&socket), "account", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "another user listed the accounts");
    assert!(stderr.contains("Permission denied"), "{stderr}");

    let read = Command::new("setpriv")
        .args([
            "--reuid",
            &user.0,
            "--regid",
            "nogroup",
            "--clear-groups",
            "cat",
            path_str(&store),
        ])
        .output()
        .unwrap();
    assert!(!read.status.success(), "another user could read the store");
}

#[test]
fn no_key_or_credential_appears_in_logs_or_json_output() {
    let _turn = pebble_turn();
    require_pebble();
    let extra = powerdns_provider()
        + "\n[[certificate]]\nname = \"s\"\nnames = [\"secret.example.test\"]\naccount = \"main\"\nchallenge = \"dns-01\"\ndns = \"pdns\"\n";
    let daemon = Daemon::start(|dir| base_config(dir, &extra));
    daemon.wait_for_certificate("s", Duration::from_secs(90));
    let out = daemon.cli(&[
        "--json",
        "order",
        "create",
        "--account",
        "main",
        "-d",
        "s2.example.test",
        "--challenge",
        "dns-01",
        "--dns",
        "pdns",
        "--finalize",
    ]);
    assert!(out.status.success());

    let mut seen = daemon.log();
    for args in [
        &["account", "list"][..],
        &["csr", "list"],
        &["order", "list"],
        &["challenge", "list"],
        &["cert", "list"],
        &["cert", "show", "s"],
        &["plugin", "list"],
    ] {
        seen.push_str(&daemon.json(args).to_string());
    }
    let bad = daemon.cli(&[
        "account",
        "register",
        "--name",
        "x",
        "--ca",
        "pebble",
        "--email",
        "bad",
        "--agree-tos",
    ]);
    seen.push_str(&String::from_utf8_lossy(&bad.stderr));

    assert!(!seen.contains("PRIVATE KEY"), "a private key was printed");
    assert!(
        !seen.contains(&peer("CERTKEEPER_TEST_PDNS_KEY")),
        "the PowerDNS API key was printed"
    );
    for secret in stored_secrets(&daemon) {
        assert!(!seen.contains(&secret), "a stored secret was printed");
    }
}

/// The account keys as the store holds them (base64 of PKCS#8), read with the daemon stopped.
fn stored_secrets(daemon: &Daemon) -> Vec<String> {
    let bytes = std::fs::read(daemon.dir.path().join("certkeeper.redb")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let mut secrets = Vec::new();
    for (at, _) in text.match_indices("\"key_pkcs8\":\"") {
        let rest = &text[at + 13..];
        let end = rest.find('"').unwrap_or(0);
        secrets.push(rest[..end].to_owned());
    }
    assert!(
        !secrets.is_empty(),
        "found no account key in the store: the check would be vacuous"
    );
    secrets
}
