//! A CA that misbehaves after finalize (tests/fakes/hostile_acme.py): it asks for patience with
//! `Retry-After`, a short and an absurd one; it never finishes processing; it sends a
//! certificate that is not for the CSR. Timings are measured from the fake's own request log.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::hostile_ca::HostileCa;
use crate::support::*;

/// An account on each fake CA in `behaviours`, named after it.
fn accounts_on(ca: &HostileCa, behaviours: &[&str]) -> String {
    behaviours
        .iter()
        .map(|b| {
            format!(
                "{}\n[[account]]\nname = \"{b}\"\nca = \"{b}\"\nemail = \"ops@example.test\"\n\
                 agree_tos = true\n",
                ca.ca_section(b)
            )
        })
        .collect()
}

fn order_finalized(daemon: &Daemon, account: &str, name: &str) -> Value {
    daemon.json(&[
        "order",
        "create",
        "--account",
        account,
        "-d",
        name,
        "--challenge",
        "http-01",
        "--finalize",
    ])
}

/// Poll `order show` until the order's status is one of `states`.
fn wait_for_status(daemon: &Daemon, id: &str, states: &[&str], timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let order = daemon.json(&["order", "show", id]);
        if states.iter().any(|s| order["status"] == *s) {
            return order;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} never reached {states:?}: {order}\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pauses between consecutive polls of an order after its finalization.
fn gaps_after_finalize(ca: &HostileCa, order: &Value) -> Vec<f64> {
    let url = order["url"].as_str().expect("order url");
    let finalized = ca
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/finalize/"))
        .expect("the order was finalized")
        .t;
    let polls: Vec<f64> = ca
        .polls_of(url)
        .into_iter()
        .filter(|t| *t > finalized)
        .collect();
    polls.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn retry_after_is_obeyed_and_a_day_long_one_is_capped_by_retry_after_cap_secs() {
    let _turn = pebble_turn();
    let slow = HostileCa::start();
    let huge = HostileCa::start();
    let extra = format!(
        "\n[acme]\nretry_after_cap_secs = 3\nprocessing_timeout_secs = 60\n{}{}",
        accounts_on(&slow, &["slow"]),
        accounts_on(&huge, &["huge"])
    );
    let daemon = Daemon::start(|dir| config_without_main_account(dir, &extra));
    daemon.wait_for_account("slow");
    daemon.wait_for_account("huge");

    // The fake answers two polls with "processing" and Retry-After: 2, then "valid".
    let order = order_finalized(&daemon, "slow", "slow.example.test");
    let id = order["id"].as_str().unwrap();
    let done = wait_for_status(&daemon, id, &["valid", "invalid"], Duration::from_secs(60));
    assert_eq!(done["status"], "valid", "{done}");
    let gaps = gaps_after_finalize(&slow, &done);
    assert_eq!(
        gaps.len(),
        2,
        "expected 3 polls after finalize, gaps {gaps:?}"
    );
    for gap in &gaps {
        assert!(
            (2.0..5.0).contains(gap),
            "Retry-After: 2 not obeyed: {gaps:?}"
        );
    }

    // Retry-After: 86400 is shortened to the 3 s cap, with a warning naming the setting.
    let order = order_finalized(&daemon, "huge", "huge.example.test");
    let id = order["id"].as_str().unwrap();
    let done = wait_for_status(&daemon, id, &["valid", "invalid"], Duration::from_secs(60));
    assert_eq!(done["status"], "valid", "{done}");
    let gaps = gaps_after_finalize(&huge, &done);
    assert_eq!(
        gaps.len(),
        1,
        "expected 2 polls after finalize, gaps {gaps:?}"
    );
    assert!(
        (3.0..6.0).contains(&gaps[0]),
        "a day-long Retry-After was not capped at 3 s: {gaps:?}"
    );
    let log = daemon.log();
    assert!(
        log.contains("retry_after_cap_secs") && log.contains("retry_after_secs=86"),
        "capping the Retry-After was not logged:\n{log}"
    );
}

#[test]
fn an_order_stuck_in_processing_is_failed_after_processing_timeout_secs_and_no_longer_polled() {
    let _turn = pebble_turn();
    let ca = HostileCa::start();
    let extra = format!(
        "\n[acme]\nprocessing_timeout_secs = 4\nretry_after_cap_secs = 2\n{}",
        accounts_on(&ca, &["stuck"])
    );
    let mut daemon = Daemon::start(|dir| config_without_main_account(dir, &extra));
    daemon.wait_for_account("stuck");
    let accounts = daemon.json(&["account", "list"]);

    let order = order_finalized(&daemon, "stuck", "stuck.example.test");
    let id = order["id"].as_str().unwrap().to_owned();
    let failed = wait_for_status(&daemon, &id, &["invalid", "valid"], Duration::from_secs(30));
    assert_eq!(failed["status"], "invalid", "{failed}");
    let error = failed["error"].as_str().unwrap_or_default();
    for part in [
        id.as_str(),
        "CA stuck",
        "processing",
        "processing_timeout_secs",
    ] {
        assert!(
            error.contains(part),
            "{part:?} missing from the error: {error}"
        );
    }

    // No poll after giving up, not even after a restart.
    let url = failed["url"].as_str().unwrap().to_owned();
    let polls = ca.polls_of(&url).len();
    assert!(polls >= 2, "the order was polled {polls} times");
    std::thread::sleep(Duration::from_secs(3));
    daemon.stop();
    daemon.restart();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        ca.polls_of(&url).len(),
        polls,
        "polling went on after the order failed"
    );

    let after = daemon.json(&["order", "show", &id]);
    assert_eq!(after["status"], "invalid", "{after}");
    assert_eq!(daemon.json(&["account", "list"]), accounts);
    assert_eq!(daemon.json(&["cert", "list"]), serde_json::json!([]));
}

#[test]
fn a_certificate_for_another_key_or_other_names_is_refused_and_never_deployed() {
    let _turn = pebble_turn();
    let ca = HostileCa::start();
    let mut extra = String::from(
        "\n[renewal]\ncheck_interval_secs = 1\nbackoff_base_secs = 3600\nbackoff_cap_secs = 3600\n",
    );
    extra.push_str(&accounts_on(&ca, &["wrongkey", "wrongnames"]));
    let certificate = |b: &str, d: &std::path::Path| {
        let out = d.join(b);
        format!(
            "\n[[certificate]]\nname = \"{b}\"\nnames = [\"{b}.example.test\"]\naccount = \"{b}\"\n\
             challenge = \"http-01\"\n\n[[certificate.deploy]]\ncert = \"{o}/cert.pem\"\n\
             fullchain = \"{o}/fullchain.pem\"\nkey = \"{o}/key.pem\"\n",
            o = out.display()
        )
    };
    let daemon = Daemon::start(|dir| {
        let mut extra = extra.clone();
        extra.push_str(&certificate("wrongkey", dir));
        extra.push_str(&certificate("wrongnames", dir));
        config_without_main_account(dir, &extra)
    });

    let expected = [
        ("wrongkey", "another public key than CSR"),
        ("wrongnames", "other.example.test"),
    ];
    for (name, words) in expected {
        let order = wait_for_order_of(&daemon, name);
        let id = order["id"].as_str().unwrap();
        let failed = wait_for_status(&daemon, id, &["invalid", "valid"], Duration::from_secs(30));
        assert_eq!(failed["status"], "invalid", "{failed}");
        assert!(failed["certificate_id"].is_null(), "{failed}");
        let error = failed["error"].as_str().unwrap_or_default();
        for part in [id, &format!("CA {name}"), words, "not stored"] {
            assert!(
                error.contains(part),
                "{part:?} missing from the error: {error}"
            );
        }
        assert!(
            !daemon.dir.path().join(name).exists(),
            "{name}: something was deployed"
        );
    }
    // Nothing stored; `cert list` shows both as configured, not issued, and why.
    let listed = daemon.json(&["cert", "list"]);
    let rows = listed.as_array().expect("a list");
    assert_eq!(rows.len(), 2, "{listed}");
    for (name, words) in expected {
        let row = rows.iter().find(|r| r["name"] == name).expect("a row");
        assert!(row["id"].is_null() && row["serial"].is_null(), "{row}");
        assert_eq!(
            row["names"],
            serde_json::json!([format!("{name}.example.test")])
        );
        assert_eq!(row["status"], "retrying", "{row}");
        let error = row["renewal_error"].as_str().unwrap_or_default();
        assert!(error.contains(words), "{row}");
    }
    let table = String::from_utf8(daemon.cli(&["cert", "list"]).stdout).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("wrongkey") && l.contains("retrying")),
        "{table}"
    );
}

/// The first order the daemon placed for config certificate `name`.
fn wait_for_order_of(daemon: &Daemon, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let orders = daemon.json(&["order", "list"]);
        let found = orders
            .as_array()
            .and_then(|a| a.iter().find(|o| o["certificate_name"] == name).cloned());
        if let Some(order) = found {
            return order;
        }
        assert!(
            Instant::now() < deadline,
            "no order for {name}:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn after_a_503_with_retry_after_nothing_is_sent_to_that_ca_until_the_time_has_passed() {
    let _turn = pebble_turn();
    let busy = HostileCa::start();
    let extra = accounts_on(&busy, &["busy"]);
    let daemon = Daemon::start(|dir| config_without_main_account(dir, &extra));
    daemon.wait_for_account("busy");

    // The first new order gets 503 with Retry-After: 3: a clear error naming the CA's answer.
    let refused = daemon.cli(&[
        "order",
        "create",
        "--account",
        "busy",
        "-d",
        "busy.example.test",
        "--challenge",
        "http-01",
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success(), "a 503 placed an order");
    assert!(stderr.contains("overloaded"), "{stderr}");

    // Asked again at once, the daemon holds the request until the 3 s have passed.
    let order = order_finalized(&daemon, "busy", "busy.example.test");
    assert!(order["id"].is_string(), "{order}");
    let requests = busy.requests();
    let refused_at = requests
        .iter()
        .position(|r| r.method == "POST" && r.path == "/busy/order")
        .expect("the first new order reached the fake");
    let next = &requests[refused_at + 1];
    let gap = next.t - requests[refused_at].t;
    assert!(
        gap >= 2.9,
        "{} {} was sent {gap:.2} s after a Retry-After: 3",
        next.method,
        next.path
    );
    assert!(
        daemon.log().contains("the CA asked to wait"),
        "the hold was not logged:\n{}",
        daemon.log()
    );
}

#[test]
fn finalize_download_and_the_driver_get_through_a_ca_rejecting_four_nonces_in_a_row() {
    let _turn = pebble_turn();
    let ca = HostileCa::start();
    let extra = accounts_on(&ca, &["nonces"]);
    let daemon = Daemon::start(|dir| config_without_main_account(dir, &extra));
    daemon.wait_for_account("nonces");

    // By hand: placed without --finalize, then downloaded. The fake refuses the finalize and
    // the certificate request 4 times each, one more than instant-acme tries by itself.
    let order = daemon.json(&[
        "order",
        "create",
        "--account",
        "nonces",
        "-d",
        "by-hand.example.test",
        "--challenge",
        "http-01",
    ]);
    let id = order["id"].as_str().unwrap();
    wait_for_status(&daemon, id, &["ready"], Duration::from_secs(30));
    let cert = daemon.json(&["order", "download", id]);
    let chain = cert["chain_pem"].as_str().unwrap_or_default();
    assert!(chain.contains("BEGIN CERTIFICATE"), "{cert}");
    let n = order["url"].as_str().unwrap().rsplit('/').next().unwrap();
    for step in ["finalize", "cert"] {
        let path = format!("/nonces/{step}/{n}");
        let posts = ca.requests().iter().filter(|r| r.path == path).count();
        assert_eq!(posts, 5, "{path}: 4 refusals and one answer expected");
    }

    // By its driver: `order wait --until valid` returns once the certificate is stored, not
    // when the CA says valid (the fake sends the certificate 1 s after that).
    let order = order_finalized(&daemon, "nonces", "driven.example.test");
    let id = order["id"].as_str().unwrap();
    let done = daemon.json(&["order", "wait", id, "--until", "valid", "--timeout", "60"]);
    assert!(
        done["certificate_id"].is_string(),
        "valid without a certificate: {done}"
    );
    let shown = daemon.json(&["cert", "show", done["certificate_id"].as_str().unwrap()]);
    assert_eq!(shown["order_id"], *id, "{shown}");
    let log = daemon.log();
    assert!(
        log.contains("still badNonce after instant-acme's tries"),
        "the extra rounds were not logged:\n{log}"
    );
}
