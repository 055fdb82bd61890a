//! A CA that answers garbage: 5xx, HTML instead of JSON, a malformed account, a rate limit. Each
//! gets a clear error naming the CA, nothing is stored, and the daemon keeps serving.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::*;

/// The fake CA from tests/fakes/hostile_acme.py, killed when dropped.
pub(crate) struct HostileCa {
    child: Child,
    port: u16,
    log_dir: tempfile::TempDir,
}

/// One request the fake CA answered, from its own log.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// When the fake answered, in seconds since the epoch.
    pub(crate) t: f64,
    /// HTTP method.
    pub(crate) method: String,
    /// Request path.
    pub(crate) path: String,
}

impl HostileCa {
    pub(crate) fn start() -> Self {
        let tls = pebble_tls_ca().parent().expect("tls dir").to_owned();
        let log_dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new("python3")
            .arg(workspace_root().join("tests/fakes/hostile_acme.py"))
            .arg(tls.join("tls-cert.pem"))
            .arg(tls.join("tls-key.pem"))
            .arg(log_dir.path().join("requests.jsonl"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        let port = line.trim().parse().expect("the fake prints its port");
        Self {
            child,
            port,
            log_dir,
        }
    }

    pub(crate) fn directory(&self, behaviour: &str) -> String {
        format!("https://127.0.0.1:{}/{behaviour}/dir", self.port)
    }

    /// A `[[ca]]` section for `behaviour`, named after it.
    pub(crate) fn ca_section(&self, behaviour: &str) -> String {
        format!(
            "\n[[ca]]\nname = \"{behaviour}\"\ndirectory = \"{}\"\ntls_root = \"{}\"\n",
            self.directory(behaviour),
            pebble_tls_ca().display()
        )
    }

    /// Every request answered so far, oldest first.
    pub(crate) fn requests(&self) -> Vec<Seen> {
        let text =
            std::fs::read_to_string(self.log_dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).expect("log line is JSON");
                Seen {
                    t: v["t"].as_f64().expect("t"),
                    method: v["method"].as_str().expect("method").to_owned(),
                    path: v["path"].as_str().expect("path").to_owned(),
                }
            })
            .collect()
    }

    /// The times of the POSTs to the URL path of `order_url`.
    pub(crate) fn polls_of(&self, order_url: &str) -> Vec<f64> {
        let path = order_url.splitn(4, '/').nth(3).expect("URL with a path");
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == format!("/{path}"))
            .map(|r| r.t)
            .collect()
    }
}

impl Drop for HostileCa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn garbage_from_a_ca_is_a_clear_error_and_nothing_is_stored() {
    let _turn = pebble_turn();
    require_pebble();
    let ca = HostileCa::start();
    let extra: String = ["500", "garbage", "badacct", "ratelimit"]
        .map(|behaviour| ca.ca_section(behaviour))
        .concat();
    let daemon = Daemon::start(|dir| base_config(dir, &extra));
    daemon.wait_for_account("main");
    let before = daemon.json(&["account", "list"]);

    let cases = [
        ("500", "the CA is on fire"),
        ("garbage", "CA garbage"),
        ("badacct", "CA badacct"),
        ("ratelimit", "too many new accounts"),
    ];
    for (behaviour, expected) in cases {
        let out = daemon.cli(&[
            "account",
            "register",
            "--name",
            behaviour,
            "--ca",
            behaviour,
            "--email",
            "ops@example.test",
            "--agree-tos",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{behaviour}: registration succeeded");
        assert!(
            stderr.contains(expected),
            "{behaviour}: expected {expected:?} in {stderr}"
        );
        assert!(
            stderr.contains(&ca.directory(behaviour)),
            "{behaviour}: the CA URL is not named: {stderr}"
        );
    }
    assert_eq!(
        daemon.json(&["account", "list"]),
        before,
        "a failed registration stored something"
    );
    let order = daemon.json(&[
        "order",
        "create",
        "--account",
        "main",
        "-d",
        "after-garbage.example.test",
        "--challenge",
        "http-01",
        "--finalize",
    ]);
    let id = order["id"].as_str().unwrap();
    let done = daemon.json(&["order", "wait", id, "--until", "valid", "--timeout", "60"]);
    assert_eq!(
        done["status"], "valid",
        "the daemon stopped serving after a hostile CA: {done}"
    );
}

#[test]
fn a_configured_account_the_ca_refuses_is_tried_less_and_less_often_and_again_after_a_reload() {
    let _turn = pebble_turn();
    let ca = HostileCa::start();
    let extra = format!(
        "\n[renewal]\ncheck_interval_secs = 1\nbackoff_base_secs = 3600\n{}\n[[account]]\n\
         name = \"down\"\nca = \"500\"\nemail = \"ops@example.test\"\nagree_tos = true\n\n\
         [[certificate]]\nname = \"waits\"\nnames = [\"waits.example.test\"]\n\
         account = \"down\"\nchallenge = \"http-01\"\n",
        ca.ca_section("500")
    );
    let daemon = Daemon::start(|dir| config_without_main_account(dir, &extra));
    let failed = || {
        daemon
            .log()
            .matches("cannot register configured account")
            .count()
    };

    // A pass every second; the account is tried after 1, 2, 4 s (at 0, 1, 3, 7 s), not 9 times.
    std::thread::sleep(std::time::Duration::from_secs(9));
    let tries = failed();
    assert!(
        (3..=5).contains(&tries),
        "{tries} registration attempts in 9 s:\n{}",
        daemon.log()
    );
    assert!(daemon.log().contains("retry_in_secs=4"), "{}", daemon.log());
    assert!(ca.requests().iter().any(|r| r.path == "/500/dir"));
    // The certificate on that account says why it cannot be ordered, not only that the
    // account is missing.
    let listed = daemon.json(&["cert", "list"]);
    let row = &listed[0];
    assert_eq!(row["name"], "waits", "{listed}");
    let error = row["renewal_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("account \"down\" is not registered") && error.contains("500"),
        "{row}"
    );

    // A reload forgets the failures: the account is tried at the next pass.
    let pid = daemon.pid().expect("running").to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status();
    assert!(hup.expect("kill runs").success());
    daemon.wait_for_log("config reloaded", 1, std::time::Duration::from_secs(5));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while failed() == tries {
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt after the reload:\n{}",
            daemon.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
