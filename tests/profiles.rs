//! ACME profiles: pebble's directory here lists none, so any profile is refused before an order
//! is placed, and the refusal names the profile and the CA.

use crate::support::*;

#[test]
fn a_profile_the_ca_does_not_list_is_refused_and_no_order_is_placed() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");

    let out = daemon.cli(&[
        "order",
        "create",
        "--account",
        "main",
        "-d",
        "profile.example.test",
        "--challenge",
        "http-01",
        "--profile",
        "shortlived",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("\"shortlived\"") && err.contains("CA pebble"),
        "{err}"
    );
    assert_eq!(daemon.json(&["order", "list"]).as_array().unwrap().len(), 0);
}
