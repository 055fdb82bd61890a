//! Bad input gets a clear error that names it, and nothing stored changes.

use std::process::Command;

use crate::support::*;

/// SHA-256 of a file, so a failed comparison prints two short strings.
fn file_digest(path: &std::path::Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn store_listing(daemon: &Daemon) -> Vec<serde_json::Value> {
    ["account", "csr", "order", "cert"]
        .iter()
        .map(|kind| daemon.json(&[kind, "list"]))
        .collect()
}

#[test]
fn a_config_with_an_unknown_key_or_wrong_type_is_refused_and_the_store_is_untouched() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    daemon.stop();
    let store = daemon.dir.path().join("certkeeper.redb");
    let before = file_digest(&store);
    let good = std::fs::read_to_string(&daemon.config).unwrap();

    let cases = [
        (
            good.replace("agree_tos = true", "agree_tos = true\ncolour = \"blue\""),
            "unknown field `colour`",
        ),
        (
            good.replace(
                "listen = [\"127.0.0.1:5002\"]",
                "listen = \"127.0.0.1:5002\"",
            ),
            "invalid type",
        ),
        (
            good.replace("interval_secs = 1", "interval_secs = -1"),
            "interval_secs",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&daemon.config, &text).unwrap();
        for command in ["check-config", "run"] {
            let out = Command::new(certkeeper_bin())
                .args([command, "--config", path_str(&daemon.config)])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{command} accepted a bad config");
            assert!(
                stderr.contains(path_str(&daemon.config)),
                "error does not name the file: {stderr}"
            );
            assert!(
                stderr.contains(expected),
                "{command}: expected {expected:?} in {stderr}"
            );
        }
    }
    assert_eq!(
        file_digest(&store),
        before,
        "a refused config changed the store"
    );

    std::fs::write(&daemon.config, good).unwrap();
    daemon.restart();
    assert_eq!(
        daemon.json(&["account", "list"]).as_array().unwrap().len(),
        1
    );
}

#[test]
fn a_file_that_is_not_a_csr_is_refused_and_nothing_is_stored() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let before = store_listing(&daemon);

    let garbage = daemon.dir.path().join("not-a-csr.pem");
    let cases: [(&[u8], &str); 3] = [
        (
            b"hello, I am not a CSR\n",
            "not a certificate signing request",
        ),
        (
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            "not a certificate signing request",
        ),
        (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "not a CERTIFICATE REQUEST",
        ),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&garbage, bytes).unwrap();
        let out = daemon.cli(&["csr", "import", path_str(&garbage)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "garbage was imported as a CSR");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
    assert_eq!(store_listing(&daemon), before);
}

#[test]
fn a_file_over_the_admin_request_limit_is_refused_with_a_message_naming_it_and_the_limit() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let before = store_listing(&daemon);

    // 4 MB: over the limit as a file. 900 kB of binary: under it, but over once PEM-encoded.
    let huge = daemon.dir.path().join("huge.csr");
    let cases = [
        (4_000_000, path_str(&huge)),
        (900_000, "POST /v1/csrs/import"),
    ];
    for (size, named) in cases {
        std::fs::write(&huge, vec![0x30u8; size]).unwrap();
        let out = daemon.cli(&["csr", "import", path_str(&huge)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.code().is_some(), "killed by a signal: {out:?}");
        assert!(!out.status.success(), "a {size}-byte file was imported");
        assert!(
            stderr.contains(named) && stderr.contains("1048576 bytes"),
            "{size} bytes: {stderr}"
        );
    }
    assert_eq!(store_listing(&daemon), before);
}

#[test]
fn a_csr_whose_names_do_not_match_the_order_is_refused_before_anything_is_sent() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let csr = daemon.json(&["csr", "create", "-d", "one.example.test"]);
    let before = store_listing(&daemon);
    let out = daemon.cli(&[
        "order",
        "create",
        "--account",
        "main",
        "-d",
        "two.example.test",
        "--challenge",
        "http-01",
        "--csr",
        csr["id"].as_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("but the order names"), "{stderr}");
    assert_eq!(store_listing(&daemon), before);
}

#[test]
fn names_that_are_not_domains_are_refused_and_no_order_is_placed() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let before = store_listing(&daemon);
    for bad in [
        "not a domain",
        "localhost",
        "-x.example.test",
        "a..example.test",
        "x.*.example.test",
    ] {
        let domain = format!("--domain={bad}");
        let args = [
            "order",
            "create",
            "--account",
            "main",
            &domain,
            "--challenge",
            "http-01",
        ];
        let out = daemon.cli(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} was accepted");
        assert!(stderr.contains("is not a domain name"), "{bad:?}: {stderr}");
    }
    let out = daemon.cli(&[
        "order",
        "create",
        "--account",
        "main",
        "-d",
        "*.w.example.test",
        "--challenge",
        "http-01",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("wildcards only by dns-01"));
    assert_eq!(store_listing(&daemon), before);
}

#[test]
fn registering_without_agreeing_to_the_terms_or_with_a_bad_email_sends_nothing() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let before = store_listing(&daemon);
    let out = daemon.cli(&[
        "account",
        "register",
        "--name",
        "x",
        "--ca",
        "pebble",
        "--email",
        "x@example.test",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--agree-tos"));
    let out = daemon.cli(&[
        "account",
        "register",
        "--name",
        "x",
        "--ca",
        "pebble",
        "--email",
        "nope",
        "--agree-tos",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\" is not an email address"));
    let out = daemon.cli(&[
        "account",
        "register",
        "--name",
        "x",
        "--ca",
        "nosuchca",
        "--email",
        "x@example.test",
        "--agree-tos",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no CA called \"nosuchca\""));
    assert_eq!(store_listing(&daemon), before);
}

#[test]
fn a_plugin_file_that_is_not_a_component_stops_the_start_and_the_store_is_untouched() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    daemon.stop();
    let store = daemon.dir.path().join("certkeeper.redb");
    let before = file_digest(&store);

    let plugins = daemon.dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::write(plugins.join("broken.wasm"), b"\0asm but not really").unwrap();
    let core_module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    std::fs::write(plugins.join("core.wasm"), core_module).unwrap();
    let text = std::fs::read_to_string(&daemon.config).unwrap();
    let old_dir = format!("plugin_dir = \"{}\"", plugin_dir().display());
    let new_dir = format!("plugin_dir = \"{}\"", plugins.display());
    std::fs::write(&daemon.config, text.replace(&old_dir, &new_dir)).unwrap();

    for bad in ["broken.wasm", "core.wasm"] {
        let out = Command::new(certkeeper_bin())
            .args(["run", "--config", path_str(&daemon.config)])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "the daemon started with {bad} in its plugin directory"
        );
        assert!(
            stderr.contains(bad),
            "the error does not name {bad}: {stderr}"
        );
        std::fs::remove_file(plugins.join(bad)).unwrap();
    }
    assert_eq!(
        file_digest(&store),
        before,
        "a refused plugin changed the store"
    );
}

#[test]
fn an_empty_id_or_name_is_an_error_and_not_the_listing() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    for args in [
        ["cert", "show", ""],
        ["order", "show", ""],
        ["csr", "show", ""],
        ["cert", "renew", ""],
    ] {
        for json in [false, true] {
            let out = if json {
                daemon.cli(&[&["--json"][..], &args].concat())
            } else {
                daemon.cli(&args)
            };
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} succeeded: {out:?}");
            assert!(err.contains("cannot be empty"), "{args:?}: {err}");
            assert!(out.stdout.is_empty(), "{args:?} printed {out:?}");
        }
    }
}

/// A CSR for `name` made by openssl with `newkey` (e.g. `rsa:1024`, `ec`, `ed25519`) and any
/// extra `-pkeyopt`/`-sigopt` arguments.
fn openssl_csr(
    dir: &std::path::Path,
    file: &str,
    newkey: &str,
    extra: &[&str],
) -> std::path::PathBuf {
    let out = dir.join(file);
    let key = dir.join(format!("{file}.key"));
    let status = Command::new("openssl")
        .args(["req", "-new", "-newkey", newkey, "-nodes", "-keyout"])
        .arg(&key)
        .args([
            "-subj",
            "/CN=odd.example.test",
            "-addext",
            "subjectAltName=DNS:odd.example.test",
            "-out",
        ])
        .arg(&out)
        .args(extra)
        .output()
        .expect("openssl runs");
    assert!(status.status.success(), "openssl: {status:?}");
    out
}

#[test]
fn a_csr_with_a_key_cas_do_not_take_is_refused_naming_the_key_not_the_signature() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let before = store_listing(&daemon);
    let dir = daemon.dir.path();
    let cases = [
        (
            openssl_csr(dir, "rsa1024.csr", "rsa:1024", &[]),
            "an RSA key of 1024 bits",
        ),
        (
            openssl_csr(
                dir,
                "p521.csr",
                "ec",
                &["-pkeyopt", "ec_paramgen_curve:P-521"],
            ),
            "an EC key on curve 1.3.132.0.35",
        ),
        (
            openssl_csr(dir, "ed25519.csr", "ed25519", &[]),
            "a key of algorithm 1.3.101.112",
        ),
        (
            openssl_csr(
                dir,
                "pss.csr",
                "rsa:2048",
                &["-sigopt", "rsa_padding_mode:pss"],
            ),
            "an RSA-PSS signature",
        ),
    ];
    for (csr, expected) in cases {
        let out = daemon.cli(&["csr", "import", path_str(&csr)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{} was imported", csr.display());
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
        assert!(!stderr.contains("signed with another key"), "{stderr}");
    }
    assert_eq!(store_listing(&daemon), before);
    // The key types certkeeper makes itself still import.
    let good = openssl_csr(
        dir,
        "p384.csr",
        "ec",
        &["-pkeyopt", "ec_paramgen_curve:P-384"],
    );
    let out = daemon.cli(&["csr", "import", path_str(&good)]);
    assert!(out.status.success(), "{out:?}");
}
