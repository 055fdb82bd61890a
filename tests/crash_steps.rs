//! kill -9 at each step of an order, landed exactly by the daemon's test-only crash points
//! (`daemon/src/crashpoint.rs`) rather than by sleeping: right after the account is registered,
//! once the answers are presented (built-in DNS server and PowerDNS), once the CA was asked to
//! validate, while the CA's validation request is at the HTTP-01 listener, between finalize and
//! download, and during deployment (while a hook runs, and between two files).
//!
//! After each restart on the same store: the order completes or is marked failed with a reason,
//! no answer is left in DNS or on the HTTP-01 listener, every certificate and key is whole and
//! they match, deployment happens again, and the store opened without a repair.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const REACHED: &str = "crash point reached";

fn create(daemon: &Daemon, name: &str, challenge: &str, dns: Option<&str>) -> String {
    let mut args = vec![
        "order",
        "create",
        "--account",
        "main",
        "-d",
        name,
        "--challenge",
        challenge,
        "--finalize",
    ];
    if let Some(dns) = dns {
        args.extend(["--dns", dns]);
    }
    let order = daemon.json(&args);
    order["id"].as_str().expect("order id").to_owned()
}

/// Wait until the order is valid or invalid, or stopped with an error; return its view.
fn settled(daemon: &Daemon, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let shown = daemon.json(&["order", "show", id]);
        let status = shown["status"].as_str().unwrap_or_default();
        if matches!(status, "valid" | "invalid") || !shown["error"].is_null() {
            return shown;
        }
        assert!(Instant::now() < deadline, "order never settled: {shown}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Restart after a kill and check the store opened as it was left.
fn restart_clean(daemon: &mut Daemon) {
    daemon.env.clear();
    daemon.restart();
    assert!(
        !daemon.log().contains("store needed repair"),
        "the store was repaired on open:\n{}",
        daemon.log()
    );
}

fn challenge_value(daemon: &Daemon, id: &str) -> (String, String) {
    let shown = daemon.json(&["order", "show", id]);
    let challenge = &shown["challenges"][0];
    let field = |k: &str| challenge[k].as_str().unwrap_or_default().to_owned();
    (field("value"), field("token"))
}

/// The HTTP status the HTTP-01 listener answers for `token`.
fn http01_status(token: &str) -> String {
    let url = format!("http://127.0.0.1:5002/.well-known/acme-challenge/{token}");
    let out = curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", &url]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The public key of a whole PEM certificate file; panics on a half-written one.
fn cert_key(path: &Path) -> String {
    openssl(&["x509", "-noout", "-pubkey", "-in", path_str(path)])
}

/// The public key of a whole PEM private key file; panics on a half-written one.
fn key_key(path: &Path) -> String {
    openssl(&["pkey", "-pubout", "-in", path_str(path)])
}

fn pdns_txt(name: &str) -> Vec<String> {
    dig_txt(&peer("CERTKEEPER_TEST_PDNS_DNS"), name)
}

fn builtin_txt(name: &str) -> Vec<String> {
    dig_txt("127.0.0.1:5353", name)
}

#[test]
fn a_kill_right_after_the_account_is_registered_keeps_that_account() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let before = daemon.json(&["account", "list"]);
    daemon.kill();

    restart_clean(&mut daemon);
    let after = daemon.json(&["account", "list"]);
    assert_eq!(after.as_array().map(Vec::len), Some(1), "{after}");
    assert_eq!(after[0]["id"], before[0]["id"], "{before} vs {after}");
    assert_eq!(after[0]["account_url"], before[0]["account_url"]);
    let id = create(&daemon, "crash-account.example.test", "http-01", None);
    assert_eq!(settled(&daemon, &id)["status"], "valid");
}

/// Park at `challenges-presented`, check `served` shows the answer, kill, restart, and check
/// the order completes and the answer is gone.
fn kill_once_presented(name: &str, dns: &str, extra: &str, served: fn(&str) -> Vec<String>) {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start_parked_at("challenges-presented", |dir| base_config(dir, extra));
    daemon.wait_for_account("main");
    let id = create(&daemon, name, "dns-01", Some(dns));
    daemon.wait_for_log(REACHED, 1, Duration::from_secs(60));
    let (value, _) = challenge_value(&daemon, &id);
    let record = format!("_acme-challenge.{name}");
    assert!(served(&record).contains(&value), "not presented: {value}");
    daemon.kill();

    restart_clean(&mut daemon);
    let done = settled(&daemon, &id);
    assert_eq!(done["status"], "valid", "{done}");
    let left = served(&record);
    assert!(!left.contains(&value), "{record} still answers {left:?}");
}

#[test]
fn a_kill_once_the_builtin_dns_answer_is_presented_resumes_and_takes_it_down() {
    kill_once_presented("b.example.test", "builtin", "", builtin_txt);
}

#[test]
fn a_kill_once_the_powerdns_record_is_presented_resumes_and_deletes_it() {
    let extra = powerdns_provider();
    kill_once_presented("crash-pdns.example.test", "pdns", &extra, pdns_txt);
}

#[test]
fn a_kill_after_the_ca_was_asked_to_validate_resumes_and_deletes_the_record() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start_parked_at("validation-requested", |dir| {
        base_config(dir, &powerdns_provider())
    });
    daemon.wait_for_account("main");
    let name = "crash-validating.example.test";
    let id = create(&daemon, name, "dns-01", Some("pdns"));
    daemon.wait_for_log(REACHED, 1, Duration::from_secs(60));
    let (value, _) = challenge_value(&daemon, &id);
    assert_eq!(daemon.json(&["order", "show", &id])["status"], "pending");
    daemon.kill();

    restart_clean(&mut daemon);
    let done = settled(&daemon, &id);
    assert_eq!(done["status"], "valid", "{done}");
    let left = pdns_txt(&format!("_acme-challenge.{name}"));
    assert!(!left.contains(&value), "record left in PowerDNS: {left:?}");
}

#[test]
fn a_kill_while_the_ca_fetches_the_http01_answer_ends_the_order_with_a_reason() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start_parked_at("http01-answering", |dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let id = create(&daemon, "crash-answering.example.test", "http-01", None);
    daemon.wait_for_log(REACHED, 1, Duration::from_secs(60));
    let (_, token) = challenge_value(&daemon, &id);
    daemon.kill();

    restart_clean(&mut daemon);
    let done = settled(&daemon, &id);
    if done["status"] != "valid" {
        let reason = done["error"].as_str().unwrap_or_default();
        assert!(!reason.is_empty(), "failed without a reason: {done}");
    }
    let challenge = &done["challenges"][0];
    assert_eq!(challenge["cleaned_up"], true, "{done}");
    assert_eq!(http01_status(&token), "404", "the answer is still served");
}

#[test]
fn a_kill_between_finalize_and_download_keeps_the_certificate_and_its_key() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start_parked_at("finalized", |dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let id = create(&daemon, "crash-finalized.example.test", "http-01", None);
    daemon.wait_for_log(REACHED, 1, Duration::from_secs(60));
    assert_eq!(
        daemon.json(&["order", "show", &id])["certificate_id"],
        Value::Null
    );
    daemon.kill();

    restart_clean(&mut daemon);
    let done = settled(&daemon, &id);
    assert_eq!(done["status"], "valid", "{done}");
    let chain = daemon.json(&["order", "download", &id]);
    assert_chains_to_pebble_root(chain["chain_pem"].as_str().expect("chain"));
    let out = daemon.dir.path().join("exported.pem");
    let cert_id = chain["id"].as_str().expect("certificate id");
    let args = ["cert", "export", cert_id, "--out", path_str(&out)];
    assert!(daemon.cli(&args).status.success());
    assert_eq!(cert_key(&out), key_key(&out), "the key does not match");
}

/// A config certificate deployed to `out/` with a hook `hook` (a `sh -c` script).
fn deploy_config(dir: &Path, name: &str, hook: &str) -> String {
    let d = dir.display();
    let extra = format!(
        r#"
[renewal]
check_interval_secs = 1

[[certificate]]
name = "deployed"
names = ["{name}"]
account = "main"
challenge = "http-01"

[[certificate.deploy]]
cert = "{d}/out/cert.pem"
fullchain = "{d}/out/fullchain.pem"
key = "{d}/out/key.pem"

[[certificate.deploy.hook]]
command = "/bin/sh"
args = ["-c", "{hook}"]
timeout_secs = 600
"#
    );
    base_config(dir, &extra)
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

fn wait_until(what: &str, daemon: &Daemon, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} never happened:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The deployed files are whole, belong together, and hold the store's newest certificate.
fn assert_deployed(daemon: &Daemon) {
    let out = daemon.dir.path().join("out");
    assert_whole_pair(&out);
    let stored = daemon.json(&["cert", "show", "deployed"]);
    let chain = stored["chain_pem"].as_str().expect("chain_pem");
    assert_eq!(
        std::fs::read_to_string(out.join("fullchain.pem")).unwrap(),
        chain
    );
}

/// The files in `out` parse, the certificate and key belong together, and no temporary file is
/// left.
fn assert_whole_pair(out: &Path) {
    let cert = out.join("cert.pem");
    assert_eq!(
        cert_key(&cert),
        key_key(&out.join("key.pem")),
        "cert and key differ"
    );
    assert_eq!(cert_key(&out.join("fullchain.pem")), cert_key(&cert));
    let leftovers: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_kill_while_the_deploy_hook_runs_deploys_and_runs_it_again_after_restart() {
    let _turn = pebble_turn();
    require_pebble();
    // The first run records its pid and sleeps (the test ends it); later runs finish.
    let mut daemon = Daemon::start(|dir| {
        let d = dir.display();
        let hook = format!(
            "echo run >> {d}/hook.runs; if [ $(wc -l < {d}/hook.runs) -eq 1 ]; then \
             echo $$ > {d}/hook.pid; exec sleep 300; fi; echo done >> {d}/hook.done"
        );
        deploy_config(dir, "crash-hook.example.test", &hook)
    });
    let dir = daemon.dir.path().to_owned();
    wait_until("the first hook run", &daemon, || {
        lines(&dir.join("hook.pid")) == 1
    });
    daemon.kill();
    let sleeper = std::fs::read_to_string(dir.join("hook.pid")).unwrap();
    let _ = Command::new("kill")
        .args(["-KILL", sleeper.trim()])
        .status();
    assert_whole_pair(&dir.join("out"));

    restart_clean(&mut daemon);
    wait_until("the hook's second run", &daemon, || {
        lines(&dir.join("hook.done")) == 1
    });
    assert_eq!(lines(&dir.join("hook.runs")), 2);
    assert_deployed(&daemon);
}

#[test]
fn a_kill_between_two_deployed_files_leaves_whole_files_and_deploys_again() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start_parked_at("deploy-file-written", |dir| {
        seed_old_files(&dir.join("out"));
        deploy_config(dir, "crash-files.example.test", "true")
    });
    let out = daemon.dir.path().join("out");
    let old_key = std::fs::read_to_string(out.join("key.pem")).unwrap();
    daemon.wait_for_log(REACHED, 1, Duration::from_secs(90));
    daemon.kill();

    // The first file is the new certificate; the rest are still the old ones, each whole.
    let new_cert = cert_key(&out.join("cert.pem"));
    assert_ne!(
        new_cert,
        key_key(&out.join("key.pem")),
        "the key was written too soon"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("key.pem")).unwrap(),
        old_key
    );
    assert_eq!(
        cert_key(&out.join("fullchain.pem")),
        key_key(&out.join("key.pem"))
    );

    restart_clean(&mut daemon);
    let key = out.join("key.pem");
    wait_until("the redeployment", &daemon, || {
        std::fs::read_to_string(&key).is_ok_and(|k| k != old_key)
    });
    assert_deployed(&daemon);
}

/// A whole self-signed certificate and key, as a server had them before this issuance.
fn seed_old_files(out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let (cert, key) = (out.join("cert.pem"), out.join("key.pem"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=old.example.test",
        "-keyout",
        path_str(&key),
        "-out",
        path_str(&cert),
    ]);
    std::fs::copy(&cert, out.join("fullchain.pem")).unwrap();
}

/// A UDP port on loopback where nothing answers.
fn dead_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}

#[test]
fn an_order_stopped_by_a_propagation_timeout_takes_its_record_down_and_is_not_resumed() {
    let _turn = pebble_turn();
    require_pebble();
    // PowerDNS takes the record, but the authoritative check asks a port where nothing answers,
    // so the record never "propagates" and the driver stops after 2 s.
    let dead = dead_udp_port();
    let mut daemon = Daemon::start(|dir| {
        let config = base_config(dir, &powerdns_provider());
        let pdns = peer("CERTKEEPER_TEST_PDNS_DNS");
        let port_line = format!("nameserver_port = {}", pdns.rsplit(':').next().unwrap());
        assert!(config.contains(&port_line), "{config}");
        config
            .replace(&port_line, &format!("nameserver_port = {dead}"))
            .replace("timeout_secs = 60", "timeout_secs = 2")
    });
    daemon.wait_for_account("main");
    let name = "stopped-pdns.example.test";
    let record = format!("_acme-challenge.{name}");
    let id = create(&daemon, name, "dns-01", Some("pdns"));
    let stopped = settled(&daemon, &id);
    assert_eq!(stopped["status"], "pending", "{stopped}");
    let error = stopped["error"].as_str().unwrap_or_default();
    assert!(error.contains(&record), "{stopped}");
    let (value, _) = challenge_value(&daemon, &id);
    wait_until("the record taken down", &daemon, || {
        !pdns_txt(&record).contains(&value)
    });

    daemon.stop();
    restart_clean(&mut daemon);
    std::thread::sleep(Duration::from_secs(3));
    let log = daemon.log();
    assert!(
        log.contains("not resuming an order that stopped with an error"),
        "{log}"
    );
    let after = daemon.json(&["order", "show", &id]);
    assert_eq!(after["status"], "pending", "{after}");
    assert_eq!(
        after["error"], stopped["error"],
        "the order was driven again"
    );
    assert!(!pdns_txt(&record).contains(&value));

    // Driven again by hand: the record is posted again and, stopped again, taken down again.
    let marker = log.len();
    daemon.json(&["order", "refresh", &id]);
    wait_until("the order stopped again", &daemon, || {
        daemon.log()[marker..].contains("order stopped")
    });
    wait_until("the record taken down again", &daemon, || {
        !pdns_txt(&record).contains(&value)
    });
    let challenges = daemon.json(&["challenge", "list"]);
    let ours: Vec<&Value> = challenges
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["order_id"] == id.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "one record for one name: {challenges}");
}
