//! A CA that answers garbage: 5xx, HTML instead of JSON, a malformed account, a rate limit. Each
//! gets a clear error naming the CA, nothing is stored, and the daemon keeps serving.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::*;

/// The fake CA from tests/fakes/hostile_acme.py, killed when dropped.
struct HostileCa {
    child: Child,
    port: u16,
}

impl HostileCa {
    fn start() -> Self {
        let tls = pebble_tls_ca().parent().expect("tls dir").to_owned();
        let mut child = Command::new("python3")
            .arg(workspace_root().join("tests/fakes/hostile_acme.py"))
            .arg(tls.join("tls-cert.pem"))
            .arg(tls.join("tls-key.pem"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        let port = line.trim().parse().expect("the fake prints its port");
        Self { child, port }
    }

    fn directory(&self, behaviour: &str) -> String {
        format!("https://127.0.0.1:{}/{behaviour}/dir", self.port)
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
    let mut extra = String::new();
    for behaviour in ["500", "garbage", "badacct", "ratelimit"] {
        extra.push_str(&format!(
            "\n[[ca]]\nname = \"{behaviour}\"\ndirectory = \"{}\"\ntls_root = \"{}\"\n",
            ca.directory(behaviour),
            pebble_tls_ca().display()
        ));
    }
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
