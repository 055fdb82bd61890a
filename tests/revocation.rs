//! Revocation by account key against real pebble, checked through pebble's management
//! interface (`/cert-status-by-serial/<hex serial>`).

use serde_json::Value;

use crate::support::*;

/// pebble's view of a certificate, by serial.
fn pebble_status(serial: &str) -> Value {
    let url = format!(
        "{}/cert-status-by-serial/{serial}",
        peer("CERTKEEPER_TEST_PEBBLE_MGMT")
    );
    let out = curl(&["-fsS", "--cacert", path_str(&pebble_tls_ca()), &url]);
    assert!(out.status.success(), "pebble does not know serial {serial}");
    serde_json::from_slice(&out.stdout).expect("pebble answers JSON")
}

fn issue(daemon: &Daemon, name: &str) -> Value {
    let order = daemon.json(&[
        "order",
        "create",
        "--account",
        "main",
        "-d",
        name,
        "--challenge",
        "http-01",
        "--finalize",
    ]);
    let id = order["id"].as_str().unwrap().to_owned();
    daemon.json(&["order", "wait", &id, "--until", "valid", "--timeout", "60"]);
    daemon.json(&["order", "download", &id])
}

#[test]
fn a_revoked_certificate_is_revoked_at_pebble_and_marked_in_the_store() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let cert = issue(&daemon, "revoke.example.test");
    let serial = cert["serial"].as_str().unwrap();
    let before = pebble_status(serial);
    assert_eq!(before["Status"], "Valid", "{before}");

    let revoked = daemon.json(&[
        "cert",
        "revoke",
        cert["id"].as_str().unwrap(),
        "--reason",
        "4",
    ]);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert_eq!(revoked["revocation_reason"], 4);

    let after = pebble_status(serial);
    assert_eq!(after["Status"], "Revoked", "{after}");
    assert_eq!(after["Reason"], 4, "{after}");
    let listed = daemon.json(&["cert", "list"]);
    assert_eq!(listed[0]["revoked_at"], revoked["revoked_at"]);
    let shown = daemon.json(&["cert", "show", "revoke.example.test"]);
    assert_eq!(shown["revocation_reason"], 4);

    let again = daemon.cli(&["cert", "revoke", "revoke.example.test"]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && err.contains("already revoked"),
        "{err}"
    );
}

#[test]
fn an_unknown_reason_code_is_refused_and_the_certificate_stays_valid() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let cert = issue(&daemon, "keep.example.test");

    let out = daemon.cli(&["cert", "revoke", "keep.example.test", "--reason", "7"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("reason 7"), "{err}");
    assert_eq!(
        pebble_status(cert["serial"].as_str().unwrap())["Status"],
        "Valid"
    );
    assert!(daemon.json(&["cert", "list"])[0]["revoked_at"].is_null());
}
