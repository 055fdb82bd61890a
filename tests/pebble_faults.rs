//! pebble with its own fault switches on (`pebble-faulty` in scripts/peers.sh): half of all good
//! nonces rejected with badNonce, and the VA sleeping 0–15 s before each validation. A
//! certificate must still be issued end to end, with the rejections retried and counted.

use std::net::TcpListener;

use certkeeper::metrics::parse;

use crate::support::*;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn require_faulty_pebble() {
    let dir = peer("CERTKEEPER_TEST_PEBBLE_FAULTY_DIRECTORY");
    let out = curl(&["-fsS", "--cacert", path_str(&pebble_tls_ca()), &dir]);
    assert!(
        out.status.success(),
        "pebble-faulty does not answer at {dir}: run `scripts/peers.sh start`"
    );
}

/// The badNonce rejections the daemon counted for CA `ca`, from its metrics page.
fn bad_nonces_counted(port: u16, ca: &str) -> f64 {
    let out = curl(&["-fsS", &format!("http://127.0.0.1:{port}/metrics")]);
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).expect("utf-8 page");
    let samples = parse(&page).unwrap_or_else(|| panic!("not the text format:\n{page}"));
    samples
        .iter()
        .filter(|s| s.name == "certkeeper_acme_bad_nonce_total")
        .filter(|s| s.labels.get("ca").map(String::as_str) == Some(ca))
        .map(|s| s.value)
        .sum()
}

#[test]
fn a_certificate_is_issued_through_bad_nonces_and_validation_sleeps_and_the_retries_are_counted() {
    let _turn = pebble_turn();
    require_faulty_pebble();
    let port = free_port();
    let extra = format!(
        r#"
[metrics]
listen = "127.0.0.1:{port}"

[[ca]]
name = "faulty"
directory = "{directory}"
tls_root = "{tls}"

[[account]]
name = "faulty"
ca = "faulty"
email = "ops@example.test"
agree_tos = true
"#,
        directory = peer("CERTKEEPER_TEST_PEBBLE_FAULTY_DIRECTORY"),
        tls = pebble_tls_ca().display(),
    );
    let daemon = Daemon::start(|dir| config_without_main_account(dir, &extra));
    daemon.wait_for_account("faulty");

    // Two orders, so the run holds enough signed requests (~20) that one rejection is certain
    // in practice (each is rejected with probability 1/2).
    for name in ["faulty-1.example.test", "faulty-2.example.test"] {
        let order = daemon.json(&[
            "order",
            "create",
            "--account",
            "faulty",
            "-d",
            name,
            "--challenge",
            "http-01",
            "--finalize",
        ]);
        let id = order["id"].as_str().expect("order id");
        let done = daemon.json(&["order", "wait", id, "--until", "valid", "--timeout", "150"]);
        assert_eq!(done["status"], "valid", "{done}\n{}", daemon.log());
        let cert = daemon.json(&["order", "download", id]);
        let chain = cert["chain_pem"].as_str().expect("chain_pem");
        assert_chains_to_root_of(chain, &peer("CERTKEEPER_TEST_PEBBLE_FAULTY_MGMT"));
    }

    let counted = bad_nonces_counted(port, "faulty");
    assert!(counted > 0.0, "no badNonce was counted:\n{}", daemon.log());
    let log = daemon.log();
    let logged = log.matches("the CA rejected the nonce (badNonce)").count();
    assert!(logged > 0, "no badNonce retry was logged:\n{log}");
    assert_eq!(logged as f64, counted, "the log and the metric disagree");
}
