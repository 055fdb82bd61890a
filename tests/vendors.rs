//! CA vendor profiles through the daemon: a retired vendor refuses new accounts before anything
//! is sent (Buypass's hosts are never contacted: tests reach only loopback).

use crate::support::*;

#[test]
fn a_new_account_at_retired_buypass_is_refused_with_the_date_and_nothing_is_stored() {
    let _turn = pebble_turn();
    require_pebble();
    let buypass = "\n[[ca]]\nname = \"bp\"\nvendor = \"buypass\"\n";
    let daemon = Daemon::start(|dir| base_config(dir, buypass));
    daemon.wait_for_account("main");

    let out = daemon.cli(&[
        "account",
        "register",
        "--name",
        "old",
        "--ca",
        "bp",
        "--email",
        "ops@example.test",
        "--agree-tos",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Buypass") && err.contains("2025-10-15"),
        "{err}"
    );
    let accounts = daemon.json(&["account", "list"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{accounts}");
}

/// pebble-eab's kid-1 MAC key (its test configuration, as scripts/peers.sh writes it).
const KID1_KEY: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
/// The access key the fake ZeroSSL API accepts.
const ACCESS_KEY: &str = "zs-access-5f1c9e";

/// The fake ZeroSSL EAB API from tests/fakes/fake_zerossl.py, handing out pebble-eab's kid-1;
/// killed when dropped.
struct FakeZeroSsl {
    child: std::process::Child,
    port: u16,
}

impl FakeZeroSsl {
    fn start() -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new("python3")
            .arg(workspace_root().join("tests/fakes/fake_zerossl.py"))
            .args(["kid-1", KID1_KEY, ACCESS_KEY])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        let port = line.trim().parse().expect("the fake prints its port");
        Self { child, port }
    }

    /// Every request the fake has seen.
    fn seen(&self) -> Vec<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/_fake/seen", self.port);
        let out = curl(&["-fsS", &url]);
        let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        seen.as_array().expect("a list").clone()
    }
}

impl Drop for FakeZeroSsl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The base config with only `vendor_zerossl.wasm` in its own plugin directory, the fake API as
/// that plugin's instance, and `[[ca]] zs` of vendor `zerossl` whose directory is pebble-eab
/// (plus `ca_extra` in that section).
fn zerossl_config(dir: &std::path::Path, api: &FakeZeroSsl, ca_extra: &str) -> String {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let wasm = built_plugins().join("vendor_zerossl.wasm");
    std::fs::copy(&wasm, plugins.join("vendor_zerossl.wasm"))
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-plugins.sh", wasm.display()));
    let extra = format!(
        r#"
[[ca]]
name = "zs"
vendor = "zerossl"
directory = "{directory}"
tls_root = "{tls}"
{ca_extra}

[[dns_provider]]
name = "zerossl-api"
plugin = "vendor-zerossl"
allowed_hosts = ["127.0.0.1:{port}"]
settings = {{ api_url = "http://127.0.0.1:{port}" }}
"#,
        directory = peer("CERTKEEPER_TEST_PEBBLE_EAB_DIRECTORY"),
        tls = pebble_tls_ca().display(),
        port = api.port,
    );
    // Only this test's plugin, and no `main` account at pebble: these tests talk to pebble-eab.
    let shared = format!("plugin_dir = \"{}\"", plugin_dir().display());
    let own = format!("plugin_dir = \"{}\"", plugins.display());
    let main = "[[account]]\nname = \"main\"\nca = \"pebble\"\nemail = \"ops@example.test\"\n\
                agree_tos = true\n";
    let config = base_config(dir, &extra).replace(&shared, &own);
    assert!(config.contains(main), "base_config's main account changed");
    config.replace(main, "")
}

fn register(daemon: &Daemon, name: &str, target: &[&str], extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--json", "account", "register", "--name", name];
    args.extend_from_slice(target);
    args.extend(["--email", "ops+zs@example.test", "--agree-tos"]);
    args.extend_from_slice(extra);
    daemon.cli(&args)
}

/// Neither the access key nor the MAC key shows in `text`.
fn assert_no_secrets(text: &str, what: &str) {
    assert!(!text.contains(KID1_KEY), "the MAC key is in the {what}");
    assert!(
        !text.contains(ACCESS_KEY),
        "the access key is in the {what}"
    );
}

#[test]
fn zerossl_at_pebble_eab_registers_without_eab_flags_through_the_vendor_plugin() {
    let _turn = pebble_turn();
    require_pebble();
    let api = FakeZeroSsl::start();
    let daemon = Daemon::start(|dir| zerossl_config(dir, &api, ""));

    // By email: the one [[ca]] of vendor zerossl is picked, the plugin asks the fake API.
    let out = register(&daemon, "zs-mail", &["--vendor", "zerossl"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr_of(&out),
        daemon.log()
    );
    let account: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            account["eab_kid"].as_str(),
            account["ca"].as_str(),
            account["vendor"].as_str()
        ),
        (Some("kid-1"), Some("zs"), Some("zerossl"))
    );
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["path"], "/acme/eab-credentials-email");
    assert_eq!(seen[0]["form"]["email"], "ops+zs@example.test");

    // By API access key, read from a file named on the command line.
    let key_file = daemon.dir.path().join("zerossl.key");
    std::fs::write(&key_file, format!("{ACCESS_KEY}\n")).unwrap();
    let key_arg = ["--eab-api-key-file", path_str(&key_file)];
    let out = register(&daemon, "zs-key", &["--ca", "zs"], &key_arg);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let seen = api.seen();
    assert_eq!(seen[1]["path"], "/acme/eab-credentials");
    assert_eq!(seen[1]["query"]["access_key"], ACCESS_KEY);
    assert_no_secrets(&String::from_utf8_lossy(&out.stdout), "--json output");

    let list = daemon.json(&["account", "list"]).to_string();
    assert!(
        list.contains("zs-mail") && list.contains("zs-key"),
        "{list}"
    );
    assert_no_secrets(&list, "account list");
    assert_no_secrets(&stdout, "--json output");
    assert_no_secrets(&daemon.log(), "daemon log");
}

#[test]
fn an_api_key_file_in_the_ca_section_goes_to_the_vendor_api_and_nowhere_else() {
    let _turn = pebble_turn();
    require_pebble();
    let api = FakeZeroSsl::start();
    let daemon = Daemon::start(|dir| {
        let key_file = dir.join("zerossl.key");
        std::fs::write(&key_file, format!("  {ACCESS_KEY}\n")).unwrap();
        let line = format!("eab_api_key_file = \"{}\"", key_file.display());
        zerossl_config(dir, &api, &line)
    });

    let out = register(&daemon, "zs-cfg", &["--ca", "zs"], &[]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr_of(&out),
        daemon.log()
    );
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["query"]["access_key"], ACCESS_KEY);
    assert_no_secrets(&String::from_utf8_lossy(&out.stdout), "--json output");
    assert_no_secrets(&daemon.log(), "daemon log");
}

#[test]
fn a_missing_key_file_or_an_unknown_vendor_is_refused_before_anything_is_sent() {
    let _turn = pebble_turn();
    require_pebble();
    let api = FakeZeroSsl::start();
    let daemon = Daemon::start(|dir| zerossl_config(dir, &api, ""));
    let before = daemon.json(&["account", "list"]);

    let missing = daemon.dir.path().join("no-such.key");
    let out = register(
        &daemon,
        "x",
        &["--ca", "zs"],
        &["--eab-api-key-file", path_str(&missing)],
    );
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains(path_str(&missing)),
        "{}",
        stderr_of(&out)
    );

    let out = register(&daemon, "x", &["--vendor", "verisign"], &[]);
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(err.contains("verisign") && err.contains("zerossl"), "{err}");

    let out = register(&daemon, "x", &["--vendor", "zerossl", "--ca", "zs"], &[]);
    assert!(
        !out.status.success(),
        "both --ca and --vendor were accepted"
    );

    assert!(api.seen().is_empty(), "the vendor API was called");
    assert_eq!(daemon.json(&["account", "list"]), before);
}

#[test]
fn an_api_error_quoting_the_access_key_shows_it_redacted_in_the_cli_error_and_the_log() {
    let _turn = pebble_turn();
    require_pebble();
    let api = FakeZeroSsl::start();
    let daemon = Daemon::start(|dir| zerossl_config(dir, &api, ""));
    let before = daemon.json(&["account", "list"]);
    // The fake quotes the request URL for a key starting with ECHO; `+` and `/` get encoded.
    let key = "ECHO-Secret+Key/123";
    let key_file = daemon.dir.path().join("echo.key");
    std::fs::write(&key_file, key).unwrap();

    let out = register(
        &daemon,
        "zs-echo",
        &["--ca", "zs"],
        &["--eab-api-key-file", path_str(&key_file)],
    );
    let err = stderr_of(&out);
    assert!(!out.status.success(), "registered with a refused key");
    assert!(err.contains("999"), "the API's refusal is not shown: {err}");
    assert_eq!(api.seen().len(), 1, "the vendor API was not asked");
    for text in [
        err,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        daemon.log(),
    ] {
        for form in [key, "ECHO-Secret%2BKey%2F123", "ECHO-Secret%2bKey%2f123"] {
            assert!(!text.contains(form), "{form} shows in: {text}");
        }
    }
    assert_eq!(daemon.json(&["account", "list"]), before);
}

#[test]
fn check_config_names_the_ca_the_unknown_vendor_and_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("certkeeper.toml");
    let text = format!(
        "store = \"{d}/s.redb\"\nadmin_socket = \"{d}/a.sock\"\nplugin_dir = \"{d}/plugins\"\n\n\
         [[ca]]\nname = \"old\"\nvendor = \"verisign\"\n",
        d = dir.path().display()
    );
    std::fs::write(&config, text).unwrap();
    let out = std::process::Command::new(certkeeper_bin())
        .args(["check-config", "--config", path_str(&config)])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("[[ca]] \"old\"") && err.contains("\"verisign\""),
        "{err}"
    );
    assert!(
        err.contains("letsencrypt") && err.contains("certkeeper.toml:7"),
        "{err}"
    );
    assert!(!dir.path().join("s.redb").exists(), "a store was created");
}

/// A config in a fresh directory whose plugin_dir holds `vendor_zerossl.wasm`, with `extra`
/// appended; `(dir, config path)`.
fn plugin_config(extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let wasm = built_plugins().join("vendor_zerossl.wasm");
    std::fs::copy(&wasm, plugins.join("vendor_zerossl.wasm"))
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-plugins.sh", wasm.display()));
    let text = format!(
        "store = \"{d}/s.redb\"\nadmin_socket = \"{d}/a.sock\"\nplugin_dir = \"{d}/plugins\"\n\n\
         [[ca]]\nname = \"pebble\"\ndirectory = \"https://127.0.0.1:14000/dir\"\n\n\
         [[account]]\nname = \"main\"\nca = \"pebble\"\nemail = \"ops@example.test\"\n\
         agree_tos = true\n{extra}",
        d = dir.path().display()
    );
    let config = dir.path().join("certkeeper.toml");
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

/// `certkeeper COMMAND --config config`, killed if it still runs after a minute (a `run` that
/// accepted the config).
fn refused(command: &str, config: &std::path::Path) -> String {
    let mut child = std::process::Command::new(certkeeper_bin())
        .args([command, "--config", path_str(config)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command} accepted {}", config.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{command} accepted the config");
    stderr_of(&out)
}

#[test]
fn check_config_and_run_both_refuse_a_provider_whose_plugin_is_not_loaded() {
    let extra = "\n[[dns_provider]]\nname = \"ghost\"\nplugin = \"no-such-plugin\"\n";
    let (dir, config) = plugin_config(extra);
    for command in ["check-config", "run"] {
        let err = refused(command, &config);
        assert!(
            err.contains("ghost") && err.contains("no-such-plugin"),
            "{command}: {err}"
        );
    }
    assert!(!dir.path().join("s.redb").exists(), "a store was created");
}

#[test]
fn check_config_and_run_both_refuse_a_certificate_whose_dns_provider_is_a_ca_vendor() {
    let extra = "\n[[dns_provider]]\nname = \"zs\"\nplugin = \"vendor-zerossl\"\n\n\
                 [[certificate]]\nname = \"a\"\nnames = [\"a.example.test\"]\n\
                 account = \"main\"\nchallenge = \"dns-01\"\ndns = \"zs\"\n";
    let (dir, config) = plugin_config(extra);
    for command in ["check-config", "run"] {
        let err = refused(command, &config);
        assert!(
            err.contains("certkeeper.toml:24:")
                && err.contains("certificate \"a\"")
                && err.contains("vendor-zerossl is a ca-vendor plugin"),
            "{command}: {err}"
        );
    }
    assert!(!dir.path().join("s.redb").exists(), "a store was created");
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
