//! DNS-01 issuance three ways: certkeeper's own authoritative server (delegated), the WASM
//! PowerDNS plugin against a real PowerDNS, and a record the operator creates by hand.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

fn pdns_patch(body: &str) {
    let url = format!(
        "{}/api/v1/servers/localhost/zones/example.test.",
        peer("CERTKEEPER_TEST_PDNS_API")
    );
    let key = format!("X-API-Key: {}", peer("CERTKEEPER_TEST_PDNS_KEY"));
    let out = curl(&[
        "-fsS",
        "-X",
        "PATCH",
        "-H",
        &key,
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        &url,
    ]);
    assert!(
        out.status.success(),
        "PowerDNS PATCH failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn builtin_dns_server_validates_a_wildcard_and_its_apex() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| {
        base_config(
            dir,
            "\n[[certificate]]\nname = \"b\"\nnames = [\"*.b.example.test\", \"b.example.test\"]\naccount = \"main\"\nchallenge = \"dns-01\"\ndns = \"builtin\"\n",
        )
    });
    let cert = daemon.wait_for_certificate("b", Duration::from_secs(90));
    assert_eq!(sorted_names(&cert), ["*.b.example.test", "b.example.test"]);
    assert_chains_to_pebble_root(cert["chain_pem"].as_str().unwrap());

    let challenges = daemon.json(&["challenge", "list"]);
    let records = challenges.as_array().unwrap();
    assert_eq!(records.len(), 2, "{challenges}");
    for record in records {
        assert_eq!(record["record_name"], "_acme-challenge.b.example.test.");
        assert_eq!(record["provider"], "builtin");
        assert_eq!(record["status"], "valid");
    }
    assert!(
        dig_txt("127.0.0.1:5353", "_acme-challenge.b.example.test").is_empty(),
        "record left behind"
    );
}

#[test]
fn powerdns_plugin_validates_and_cleans_up_its_record() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| {
        base_config(
            dir,
            &(powerdns_provider()
                + "\n[[certificate]]\nname = \"c\"\nnames = [\"c.example.test\"]\naccount = \"main\"\nchallenge = \"dns-01\"\ndns = \"pdns\"\n"),
        )
    });
    let cert = daemon.wait_for_certificate("c", Duration::from_secs(90));
    assert_eq!(sorted_names(&cert), ["c.example.test"]);
    assert_chains_to_pebble_root(cert["chain_pem"].as_str().unwrap());

    let challenges = daemon.json(&["challenge", "list"]);
    let record = &challenges[0];
    assert_eq!(record["provider"], "pdns");
    assert_eq!(record["status"], "valid");
    let value = record["value"].as_str().unwrap();
    let served = dig_txt(
        &peer("CERTKEEPER_TEST_PDNS_DNS"),
        "_acme-challenge.c.example.test",
    );
    assert!(
        !served.iter().any(|v| v == value),
        "the plugin left its value in PowerDNS: {served:?}"
    );
}

#[test]
fn manual_txt_waits_for_the_operators_record_then_validates() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let name = "manual.example.test";
    let order = daemon.json(&[
        "order",
        "create",
        "--account",
        "main",
        "-d",
        name,
        "--challenge",
        "dns-01",
        "--dns",
        "manual",
        "--finalize",
    ]);
    let id = order["id"].as_str().unwrap().to_owned();

    let record = wait_for_challenge(&daemon, &id);
    assert_eq!(
        record["record_name"],
        "_acme-challenge.manual.example.test."
    );
    assert_eq!(record["status"], "not-ready", "{record}");
    let shown = daemon.cli(&["order", "show", &id]);
    let text = String::from_utf8_lossy(&shown.stdout);
    let value = record["value"].as_str().unwrap();
    assert!(
        text.contains("Create these TXT records") && text.contains(value),
        "{text}"
    );

    std::thread::sleep(Duration::from_secs(2));
    let still = daemon.json(&["order", "show", &id]);
    assert_eq!(
        still["status"], "pending",
        "validated before the record existed: {still}"
    );

    pdns_patch(&format!(
        r#"{{"rrsets":[{{"name":"_acme-challenge.{name}.","type":"TXT","ttl":60,"changetype":"REPLACE","records":[{{"content":"\"{value}\"","disabled":false}}]}}]}}"#
    ));
    let done = daemon.json(&["order", "wait", &id, "--until", "valid", "--timeout", "90"]);
    assert_eq!(done["status"], "valid", "{done}");
    assert_eq!(done["challenges"][0]["status"], "valid");
    pdns_patch(&format!(
        r#"{{"rrsets":[{{"name":"_acme-challenge.{name}.","type":"TXT","changetype":"DELETE"}}]}}"#
    ));
}

fn wait_for_challenge(daemon: &Daemon, order_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let order = daemon.json(&["order", "show", order_id]);
        if let Some(first) = order["challenges"].as_array().and_then(|c| c.first()) {
            return first.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no challenge record appeared: {order}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
