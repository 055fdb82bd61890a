//! Issuing real certificates from pebble by each validation path.

use std::time::Duration;

use crate::support::*;

#[test]
fn http01_issues_a_certificate_that_chains_to_pebbles_root() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| {
        base_config(
            dir,
            "\n[[certificate]]\nname = \"a\"\nnames = [\"a.example.test\"]\naccount = \"main\"\nchallenge = \"http-01\"\n",
        )
    });
    let cert = daemon.wait_for_certificate("a", Duration::from_secs(60));
    assert_eq!(sorted_names(&cert), ["a.example.test"]);
    assert!(
        cert["issuer"].as_str().unwrap().contains("Pebble"),
        "{cert}"
    );
    assert_chains_to_pebble_root(cert["chain_pem"].as_str().unwrap());

    let challenges = daemon.json(&["challenge", "list"]);
    let record = &challenges[0];
    assert_eq!(record["provider"], "http-01");
    assert_eq!(record["status"], "valid");
}

#[test]
fn an_order_placed_before_a_restart_is_finalized_after_it() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let order = daemon.json(&[
        "order",
        "create",
        "--account",
        "main",
        "-d",
        "restart.example.test",
        "--challenge",
        "http-01",
    ]);
    let id = order["id"].as_str().unwrap().to_owned();
    daemon.json(&["order", "wait", &id, "--until", "ready", "--timeout", "60"]);

    daemon.stop();
    daemon.restart();
    let shown = daemon.json(&["order", "show", &id]);
    assert_eq!(shown["status"], "ready", "{shown}");

    let finalized = daemon.json(&["order", "finalize", &id]);
    assert_eq!(finalized["status"], "valid", "{finalized}");
    let chain = daemon.json(&["order", "download", &id]);
    assert_eq!(sorted_names(&chain), ["restart.example.test"]);
    assert_chains_to_pebble_root(chain["chain_pem"].as_str().unwrap());
}

#[test]
fn a_killed_daemon_resumes_a_pending_order_and_finishes_it() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let order = daemon.json(&[
        "order",
        "create",
        "--account",
        "main",
        "-d",
        "crash.example.test",
        "--challenge",
        "http-01",
        "--finalize",
    ]);
    let id = order["id"].as_str().unwrap().to_owned();
    daemon.kill();
    daemon.restart();
    let done = daemon.json(&["order", "wait", &id, "--until", "valid", "--timeout", "60"]);
    assert_eq!(done["status"], "valid", "{done}");
}
