//! Certificates with every key type certkeeper generates, issued by real pebble.

use crate::support::*;

#[test]
fn pebble_issues_for_rsa_and_ecdsa_keys_and_the_certificate_carries_the_csr_key() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");

    for (key_type, algorithm) in [
        ("rsa-2048", "rsaEncryption"),
        ("ecdsa-p384", "id-ecPublicKey"),
    ] {
        let name = format!("{key_type}.example.test");
        let order = daemon.json(&[
            "order",
            "create",
            "--account",
            "main",
            "-d",
            &name,
            "--challenge",
            "http-01",
            "--key-type",
            key_type,
            "--finalize",
        ]);
        let id = order["id"].as_str().unwrap().to_owned();
        daemon.json(&["order", "wait", &id, "--until", "valid", "--timeout", "60"]);
        let chain = daemon.json(&["order", "download", &id]);
        let pem = chain["chain_pem"].as_str().unwrap();
        assert_chains_to_pebble_root(pem);

        let dir = tempfile::tempdir().unwrap();
        let leaf = dir.path().join("leaf.pem");
        std::fs::write(&leaf, pem).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in", path_str(&leaf)])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let want = format!("Public Key Algorithm: {algorithm}");
        assert!(text.contains(&want), "{key_type}: {text}");
    }
}
