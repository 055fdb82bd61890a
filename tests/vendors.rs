//! CA vendor profiles through the daemon: a retired vendor refuses new accounts before anything
//! is sent (Buypass's hosts are never contacted: tests reach only loopback).

use crate::support::*;

#[test]
fn a_new_account_at_retired_buypass_is_refused_with_the_date_and_nothing_is_stored() {
    let _turn = pebble_turn();
    require_pebble();
    let buypass = "\n[[ca]]\nname = \"bp\"\nvendor = \"buypass\"\n";
    let daemon = Daemon::start(|dir| base_config(dir, buypass));
    daemon.wait_for_account("main");

    let out = daemon.cli(&[
        "account",
        "register",
        "--name",
        "old",
        "--ca",
        "bp",
        "--email",
        "ops@example.test",
        "--agree-tos",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Buypass") && err.contains("2025-10-15"),
        "{err}"
    );
    let accounts = daemon.json(&["account", "list"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{accounts}");
}
