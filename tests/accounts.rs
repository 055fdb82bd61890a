//! Accounts against real pebble: External Account Binding at the EAB-requiring pebble, key
//! rollover, contact update, status refresh, and deletion that keeps certificates.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// pebble-eab's MAC keys (its test configuration, as scripts/peers.sh writes it).
const KID1_KEY: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
const KID2_KEY: &str = "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH";

/// The base config plus the EAB-requiring pebble as CA `pebble-eab`.
fn eab_config(dir: &Path, extra: &str) -> String {
    let ca = format!(
        "\n[[ca]]\nname = \"pebble-eab\"\ndirectory = \"{}\"\ntls_root = \"{}\"\n{extra}",
        peer("CERTKEEPER_TEST_PEBBLE_EAB_DIRECTORY"),
        pebble_tls_ca().display(),
    );
    base_config(dir, &ca)
}

fn register(
    daemon: &Daemon,
    name: &str,
    ca: &str,
    eab: Option<(&str, &str)>,
) -> std::process::Output {
    let mut args = vec![
        "account",
        "register",
        "--name",
        name,
        "--ca",
        ca,
        "--email",
        "ops@example.test",
        "--agree-tos",
    ];
    if let Some((kid, key)) = eab {
        args.extend(["--eab-kid", kid, "--eab-hmac-key", key]);
    }
    daemon.cli(&args)
}

fn account_names(daemon: &Daemon) -> Vec<String> {
    let list = daemon.json(&["account", "list"]);
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Order `name` by HTTP-01 with `account`, finalize, and wait until valid.
fn issue(daemon: &Daemon, account: &str, name: &str) -> Value {
    let order = daemon.json(&[
        "order",
        "create",
        "--account",
        account,
        "-d",
        name,
        "--challenge",
        "http-01",
        "--finalize",
    ]);
    let id = order["id"].as_str().unwrap().to_owned();
    daemon.json(&["order", "wait", &id, "--until", "valid", "--timeout", "60"])
}

#[test]
fn registering_at_an_eab_ca_without_eab_fails_clearly_and_stores_nothing() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| eab_config(dir, ""));
    daemon.wait_for_account("main");

    let out = register(&daemon, "bound", "pebble-eab", None);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("requires External Account Binding"), "{err}");
    assert!(
        err.contains("pebble-eab") && err.contains("--eab-kid"),
        "{err}"
    );
    assert_eq!(account_names(&daemon), ["main"]);
}

#[test]
fn a_wrong_eab_hmac_key_gets_the_cas_error_and_stores_nothing() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| eab_config(dir, ""));
    daemon.wait_for_account("main");

    let out = register(&daemon, "bound", "pebble-eab", Some(("kid-1", KID2_KEY)));
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("CA pebble-eab"), "{err}");
    assert!(
        err.contains("unauthorized") || err.contains("malformed"),
        "{err}"
    );
    assert!(
        !err.contains(KID2_KEY),
        "the HMAC key leaked into an error: {err}"
    );
    assert_eq!(account_names(&daemon), ["main"]);
}

#[test]
fn an_eab_key_in_the_wrong_encoding_is_refused_before_anything_is_sent() {
    let _turn = pebble_turn();
    require_pebble();
    // Nothing listens on port 9: had a request been sent, the error would be a connection one.
    let unreachable = "\n[[ca]]\nname = \"nowhere\"\ndirectory = \"https://127.0.0.1:9/dir\"\n";
    let daemon = Daemon::start(|dir| base_config(dir, unreachable));
    daemon.wait_for_account("main");

    for key in ["ab+d/fgh", "not base64!", "YWJjZA="] {
        let out = register(&daemon, "bound", "nowhere", Some(("kid-1", key)));
        let err = stderr(&out);
        assert!(!out.status.success());
        assert!(
            err.contains("not base64url") && err.contains("kid-1"),
            "{key}: {err}"
        );
        assert!(!err.contains(key), "the key leaked into the error: {err}");
    }
    assert_eq!(account_names(&daemon), ["main"]);
}

#[test]
fn a_right_eab_registers_a_valid_account_that_issues() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| eab_config(dir, ""));
    daemon.wait_for_account("main");

    let out = register(&daemon, "bound", "pebble-eab", Some(("kid-1", KID1_KEY)));
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = daemon.json(&["account", "list", "--refresh"]);
    let bound = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "bound")
        .unwrap();
    assert_eq!(bound["status"], "valid", "{bound}");
    assert_eq!(bound["eab_kid"], "kid-1");
    assert_eq!(bound["ca"], "pebble-eab");
    assert_eq!(
        bound["vendor"], "custom",
        "pebble's directory is no vendor's"
    );
    assert!(!listed.to_string().contains(KID1_KEY));

    let order = issue(&daemon, "bound", "eab.example.test");
    assert_eq!(order["status"], "valid", "{order}");
    let chain = daemon.json(&["order", "download", order["id"].as_str().unwrap()]);
    let eab_mgmt = peer("CERTKEEPER_TEST_PEBBLE_EAB_MGMT");
    assert_chains_to_root_of(chain["chain_pem"].as_str().unwrap(), &eab_mgmt);
}

#[test]
fn a_configured_eab_account_is_registered_from_a_key_file_at_start() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| {
        let key_file = dir.join("eab.key");
        // A key file as an operator writes it: a trailing newline.
        std::fs::write(&key_file, format!("{KID2_KEY}\n")).unwrap();
        let account = format!(
            "\n[[account]]\nname = \"bound\"\nca = \"pebble-eab\"\nemail = \"ops@example.test\"\n\
             agree_tos = true\neab_kid = \"kid-2\"\neab_hmac_key_file = \"{}\"\n",
            key_file.display()
        );
        eab_config(dir, &account)
    });
    daemon.wait_for_account("bound");
    assert!(
        !daemon.log().contains(KID2_KEY),
        "the HMAC key reached the log"
    );
}

#[test]
fn after_a_key_rollover_a_new_order_issues_with_the_new_key() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let before = daemon.json(&["account", "list"])[0].clone();

    let rolled = daemon.json(&["account", "rollover", "main"]);
    assert_eq!(rolled["account_url"], before["account_url"], "{rolled}");

    // Restart so the account is rebuilt from what the store holds: the new key.
    daemon.stop();
    daemon.restart();
    let order = issue(&daemon, "main", "rollover.example.test");
    assert_eq!(order["status"], "valid", "{order}");
    let refreshed = daemon.json(&["account", "list", "--refresh"]);
    assert_eq!(refreshed[0]["status"], "valid", "{refreshed}");
}

#[test]
fn a_contact_update_changes_the_email_and_a_bad_one_changes_nothing() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");

    let updated = daemon.json(&["account", "update", "main", "--email", "new@example.test"]);
    assert_eq!(updated["email"], "new@example.test");

    let out = daemon.cli(&["account", "update", "main", "--email", "not-an-email"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not-an-email"), "{}", stderr(&out));
    assert_eq!(
        daemon.json(&["account", "list"])[0]["email"],
        "new@example.test"
    );
}

#[test]
fn deleting_an_account_hides_its_orders_and_keeps_its_certificates() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let order = issue(&daemon, "main", "kept.example.test");
    let cert_id = order["certificate_id"].as_str().unwrap().to_owned();

    let deleted = daemon.json(&["account", "delete", "main", "--deactivate"]);
    assert_eq!(deleted["status"], "deactivated", "{deleted}");
    assert!(account_names(&daemon).is_empty());
    assert_eq!(daemon.json(&["order", "list"]).as_array().unwrap().len(), 0);

    let certs = daemon.json(&["cert", "list"]);
    assert_eq!(certs.as_array().unwrap().len(), 1, "{certs}");
    let shown = daemon.json(&["cert", "show", &cert_id]);
    assert_eq!(sorted_names(&shown), ["kept.example.test"]);
    assert_chains_to_pebble_root(shown["chain_pem"].as_str().unwrap());
}

#[test]
fn a_refresh_reports_an_account_deactivated_by_another_copy_of_the_store() {
    let _turn = pebble_turn();
    require_pebble();
    let mut first = Daemon::start(|dir| base_config(dir, ""));
    first.wait_for_account("main");
    first.stop();
    let copy = first.dir.path().join("certkeeper.redb");
    let second = Daemon::start(|dir| {
        std::fs::copy(&copy, dir.join("certkeeper.redb")).unwrap();
        // Its own listener ports: the first daemon holds the usual ones.
        base_config(dir, "")
            .replace("127.0.0.1:5002", "127.0.0.1:5012")
            .replace("127.0.0.1:5353", "127.0.0.1:5363")
    });
    first.restart();

    let before = second.json(&["account", "list", "--refresh"]);
    assert_eq!(before[0]["status"], "valid", "{before}");
    first.json(&["account", "delete", "main", "--deactivate"]);
    let after = second.json(&["account", "list", "--refresh"]);
    assert_eq!(after[0]["status"], "deactivated", "{after}");
    // Without --refresh the stored status is shown, which the refresh has updated.
    assert_eq!(
        second.json(&["account", "list"])[0]["status"],
        "deactivated"
    );
}

#[test]
fn after_a_rollover_the_old_key_no_longer_finds_the_account() {
    let _turn = pebble_turn();
    require_pebble();
    let mut first = Daemon::start(|dir| base_config(dir, ""));
    first.wait_for_account("main");
    first.stop();
    let copy = first.dir.path().join("certkeeper.redb");
    let old_key = Daemon::start(|dir| {
        std::fs::copy(&copy, dir.join("certkeeper.redb")).unwrap();
        base_config(dir, "")
            .replace("127.0.0.1:5002", "127.0.0.1:5012")
            .replace("127.0.0.1:5353", "127.0.0.1:5363")
    });
    first.restart();

    first.json(&["account", "rollover", "main"]);
    let seen_with_old = old_key.json(&["account", "list", "--refresh"]);
    assert_eq!(
        seen_with_old[0]["status"], "unknown-to-ca",
        "{seen_with_old}"
    );
    let seen_with_new = first.json(&["account", "list", "--refresh"]);
    assert_eq!(seen_with_new[0]["status"], "valid", "{seen_with_new}");
}
