//! kill -9 at the steps of an order where state is most spread out: once the challenge record is
//! presented at a DNS provider (the kill may land before or after the CA validated it), and after
//! the order was finalized. After a restart every order completes, and no challenge record is
//! left in DNS.

use std::time::{Duration, Instant};

use crate::support::*;

/// The TXT values PowerDNS serves for `name`.
fn served(name: &str) -> Vec<String> {
    dig_txt(&peer("CERTKEEPER_TEST_PDNS_DNS"), name)
}

#[test]
fn a_kill_after_the_record_is_presented_resumes_and_leaves_no_record_in_dns() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start(|dir| base_config(dir, &powerdns_provider()));
    daemon.wait_for_account("main");
    let name = "crash-presented.example.test";
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
        "pdns",
        "--finalize",
    ]);
    let id = order["id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(30);
    let value = loop {
        let shown = daemon.json(&["order", "show", &id]);
        let value = shown["challenges"][0]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let record = format!("_acme-challenge.{name}");
        if !value.is_empty() && served(&record).contains(&value) {
            break value;
        }
        assert!(
            Instant::now() < deadline,
            "the record was never presented: {shown}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    daemon.kill();

    daemon.restart();
    let done = daemon.json(&["order", "wait", &id, "--until", "valid", "--timeout", "90"]);
    assert_eq!(done["status"], "valid", "{done}");
    let left = served(&format!("_acme-challenge.{name}"));
    assert!(
        !left.contains(&value),
        "the challenge record was left in DNS: {left:?}"
    );
}

#[test]
fn a_kill_right_after_finalize_keeps_the_certificate_and_its_key() {
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
        "crash-final.example.test",
        "--challenge",
        "http-01",
    ]);
    let id = order["id"].as_str().unwrap().to_owned();
    daemon.json(&["order", "wait", &id, "--until", "ready", "--timeout", "60"]);
    daemon.json(&["order", "finalize", &id]);
    daemon.kill();

    daemon.restart();
    let shown = daemon.json(&["order", "show", &id]);
    assert_eq!(shown["status"], "valid", "{shown}");
    let chain = daemon.json(&["order", "download", &id]);
    assert_chains_to_pebble_root(chain["chain_pem"].as_str().unwrap());
    let out = daemon.cli(&[
        "cert",
        "export",
        chain["id"].as_str().unwrap(),
        "--format",
        "pem",
    ]);
    let exported = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && exported.contains("PRIVATE KEY"),
        "the key is gone: {exported}"
    );
    export_replaces_existing_files_owner_only(&daemon, chain["id"].as_str().unwrap());
}

/// Regression: exporting over an existing 0644 file kept its mode, and a symlink was followed.
fn export_replaces_existing_files_owner_only(daemon: &Daemon, cert_id: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = daemon.dir.path();
    let (existing, link, target) = (
        dir.join("exist.pem"),
        dir.join("link.pem"),
        dir.join("target"),
    );
    std::fs::write(&existing, "old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&target, "untouched").unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for out in [&existing, &link] {
        let args = [
            "cert",
            "export",
            cert_id,
            "--format",
            "pem",
            "--out",
            path_str(out),
        ];
        let run = daemon.cli(&args);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let meta = std::fs::symlink_metadata(out).unwrap();
        assert!(
            meta.file_type().is_file(),
            "{} is still a symlink",
            out.display()
        );
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{} is not owner-only",
            out.display()
        );
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
}
