//! Encryption at rest: with `store_key_file`, the store file holds no private key in any
//! readable form, a restart with the key carries on, and a start without it or with another key
//! is refused with the store left byte for byte as it was. A plaintext store is sealed on the
//! first start with a key. Deployed files and `cert export` stay plain PEM.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const NAME: &str = "sealed.example.test";

/// The certificate section: issued over HTTP-01 and deployed to `out/` in the daemon's dir,
/// with a scheduler pass every second so the deploy follows the issuance at once.
fn certificate(dir: &Path) -> String {
    format!(
        "\n[renewal]\ncheck_interval_secs = 1\n\n[[certificate]]\nname = \"{NAME}\"\nnames = [\"{NAME}\"]\naccount = \"main\"\n\
         challenge = \"http-01\"\n\n[[certificate.deploy]]\nfullchain = \"{d}/out/fullchain.pem\"\n\
         key = \"{d}/out/key.pem\"\n",
        d = dir.display()
    )
}

/// The config with `key` as the store key file, or none.
fn config(dir: &Path, key: Option<&Path>) -> String {
    let body = base_config(dir, &certificate(dir));
    match key {
        Some(key) => format!("store_key_file = \"{}\"\n{body}", key.display()),
        None => body,
    }
}

/// `certkeeper store keygen PATH`, through the CLI.
fn keygen(path: &Path) {
    let out = Command::new(certkeeper_bin())
        .args(["store", "keygen", path_str(path)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    let key = std::fs::read(path).unwrap();
    assert!(!printed.contains(&hex(&key)), "keygen printed the key");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn store_file(daemon: &Daemon) -> PathBuf {
    daemon.dir.path().join("certkeeper.redb")
}

fn deployed_key(daemon: &Daemon) -> String {
    let path = daemon.dir.path().join("out/key.pem");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "never deployed:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::read_to_string(path).unwrap()
}

/// The raw private scalar of a PKCS#8 P-256 key: the 32-byte OCTET STRING after
/// ECPrivateKey's version 1 (RFC 5915 §3).
fn ec_scalar(key_pem: &str) -> Vec<u8> {
    let der = pem::parse(key_pem).unwrap().into_contents();
    let at = der
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
        .expect("a P-256 ECPrivateKey");
    der[at + 5..at + 37].to_vec()
}

/// Fail unless the store file holds the key neither as PEM, nor as DER, nor as its scalar.
fn assert_no_key_in(store: &Path, key_pem: &str) {
    let bytes = std::fs::read(store).unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"PRIVATE KEY"), "a PEM private key is in the store");
    assert!(
        !has(b"key_pkcs8"),
        "the account credentials are in the store"
    );
    let der = pem::parse(key_pem).unwrap().into_contents();
    assert!(!has(&der), "the deployed key's DER is in the store");
    assert!(
        !has(&ec_scalar(key_pem)),
        "the deployed key's scalar is in the store"
    );
}

/// Start the daemon on `config` expecting it to refuse; its stderr.
fn refused_start(config: &Path) -> String {
    let mut child = Command::new(certkeeper_bin())
        .args(["run", "--config", path_str(config)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the daemon started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8(out.stderr).unwrap()
}

/// Refused with `config_text`, naming each of `named`, the store unchanged.
fn assert_refused(daemon: &Daemon, config_text: &str, named: &[&str]) {
    let store = store_file(daemon);
    let before = std::fs::read(&store).unwrap();
    let path = daemon.dir.path().join("refused.toml");
    std::fs::write(&path, config_text).unwrap();
    let err = refused_start(&path);
    for name in named {
        assert!(err.contains(name), "{name} not named in: {err}");
    }
    assert!(
        std::fs::read(&store).unwrap() == before,
        "the store changed"
    );
}

/// The private key `cert export` prints after the chain.
fn export_key(daemon: &Daemon) -> String {
    let out = daemon.cli(&["cert", "export", NAME]);
    assert!(out.status.success(), "{out:?}");
    let bundle = String::from_utf8(out.stdout).unwrap();
    let at = bundle
        .find("-----BEGIN PRIVATE KEY-----")
        .expect("a PEM key");
    bundle[at..].to_owned()
}

fn certificates(daemon: &Daemon) -> Vec<Value> {
    let list = daemon.json(&["cert", "list"]);
    let all = list.as_array().unwrap().iter();
    all.filter(|c| c["name"] == NAME).cloned().collect()
}

#[test]
fn a_sealed_store_holds_no_private_key_and_opens_only_with_its_key() {
    let _turn = pebble_turn();
    require_pebble();
    let mut key = PathBuf::new();
    let mut daemon = Daemon::start(|dir| {
        key = dir.join("store.key");
        keygen(&key);
        config(dir, Some(&key))
    });
    daemon.wait_for_certificate(NAME, Duration::from_secs(60));
    let deployed = deployed_key(&daemon);
    assert!(
        deployed.contains("BEGIN PRIVATE KEY"),
        "deployed files stay PEM"
    );
    assert_eq!(export_key(&daemon), deployed, "export stays PEM");
    daemon.stop();
    assert_no_key_in(&store_file(&daemon), &deployed);

    daemon.restart();
    assert_eq!(export_key(&daemon), deployed);
    daemon.json(&["cert", "renew", NAME]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while certificates(&daemon).len() < 2 {
        assert!(Instant::now() < deadline, "no renewal:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(300));
    }
    let renewed = export_key(&daemon);
    assert_ne!(renewed, deployed, "the renewal has a fresh key");
    daemon.stop();
    assert_no_key_in(&store_file(&daemon), &renewed);

    let dir = daemon.dir.path();
    assert_refused(
        &daemon,
        &config(dir, None),
        &["store_key_file", "is sealed"],
    );
    let other = dir.join("other.key");
    keygen(&other);
    assert_refused(&daemon, &config(dir, Some(&other)), &[path_str(&other)]);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_refused(
        &daemon,
        &config(dir, Some(&key)),
        &[path_str(&key), "chmod 600"],
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let missing = dir.join("missing.key");
    assert_refused(&daemon, &config(dir, Some(&missing)), &[path_str(&missing)]);

    daemon.restart();
    assert_eq!(
        export_key(&daemon),
        renewed,
        "the refused starts changed nothing"
    );
}

#[test]
fn a_plaintext_store_from_before_is_sealed_on_the_first_start_with_a_key() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start(|dir| config(dir, None));
    daemon.wait_for_certificate(NAME, Duration::from_secs(60));
    let deployed = deployed_key(&daemon);
    daemon.stop();
    let store = store_file(&daemon);
    let before = std::fs::read(&store).unwrap();
    assert!(
        before.windows(11).any(|w| w == b"PRIVATE KEY"),
        "not plaintext before"
    );

    let key = daemon.dir.path().join("store.key");
    keygen(&key);
    std::fs::write(&daemon.config, config(daemon.dir.path(), Some(&key))).unwrap();
    daemon.restart();
    let log = daemon.log();
    assert!(
        log.contains("sealed the store's plaintext key records"),
        "{log}"
    );
    assert!(
        log.contains("count=3"),
        "account, CSR and certificate: {log}"
    );
    assert!(
        !log.contains(deployed.lines().nth(1).unwrap()),
        "a key was logged"
    );
    assert_eq!(export_key(&daemon), deployed);
    daemon.stop();
    assert_no_key_in(&store, &deployed);
}

#[test]
fn check_config_refuses_a_store_key_file_others_can_read_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("store.key");
    keygen(&key);
    let config = dir.path().join("certkeeper.toml");
    std::fs::write(&config, config_text_for_check(dir.path(), &key)).unwrap();
    let check = || {
        Command::new(certkeeper_bin())
            .args(["check-config", "--config", path_str(&config)])
            .output()
            .unwrap()
    };
    assert!(check().status.success(), "{:?}", check());

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = check();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(path_str(&key)) && err.contains("chmod 600"),
        "{err}"
    );
}

/// A config that needs no peers: only the store and its key file.
fn config_text_for_check(dir: &Path, key: &Path) -> String {
    format!(
        "store = \"{}/certkeeper.redb\"\nstore_key_file = \"{}\"\n",
        dir.display(),
        key.display()
    )
}
