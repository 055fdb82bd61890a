//! The plugin platform through the daemon: `plugin list`, `plugin test` against the real
//! PowerDNS, hot reload of the daemon's plugin directory, and the compiled-code cache on restart.

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::support::*;

/// The built PowerDNS plugin's bytes.
fn powerdns_bytes() -> Vec<u8> {
    let path = plugin_dir().join("powerdns.wasm");
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; run scripts/build-plugins.sh first",
            path.display()
        )
    })
}

/// The base config with the PowerDNS provider, a second instance with a wrong API key, and a
/// plugin directory of the daemon's own holding only `powerdns.wasm`.
fn config(dir: &Path) -> String {
    let plugins = dir.join("plugins");
    std::fs::create_dir(&plugins).expect("plugin dir");
    std::fs::write(plugins.join("powerdns.wasm"), powerdns_bytes()).expect("copy plugin");
    let wrong_key = powerdns_provider()
        .replace("name = \"pdns\"", "name = \"pdns-wrong\"")
        .replace(&peer("CERTKEEPER_TEST_PDNS_KEY"), "wrong-key-e2e");
    let text = base_config(dir, &(powerdns_provider() + &wrong_key));
    let shared = format!("plugin_dir = \"{}\"", plugin_dir().display());
    text.replace(&shared, &format!("plugin_dir = \"{}\"", plugins.display()))
}

/// Waits up to 20 s for the daemon's log to contain `needle`.
fn wait_for_log(daemon: &Daemon, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = daemon.log();
        if let Some(line) = log.lines().find(|line| line.contains(needle)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn plugin_test_passes_with_the_right_key_and_reports_auth_failed_with_a_wrong_one() {
    let _turn = pebble_turn();
    let daemon = Daemon::start(config);

    let passed = daemon.json(&["plugin", "test", "pdns"]);
    assert_eq!(passed["provider"], "pdns");
    assert_eq!(passed["ok"], true);
    let table = daemon.cli(&["plugin", "test", "pdns"]);
    let stdout = String::from_utf8_lossy(&table.stdout);
    assert!(stdout.contains("pdns: connection test passed"), "{stdout}");

    let refused = daemon.cli(&["plugin", "test", "pdns-wrong"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a wrong key passed: {stderr}");
    assert!(stderr.contains("authentication failed"), "{stderr}");
    assert!(stderr.contains("pdns-wrong"), "{stderr}");
    assert!(
        !stderr.contains("wrong-key-e2e"),
        "the key was printed: {stderr}"
    );
    assert!(
        !daemon.log().contains("wrong-key-e2e"),
        "the key was logged"
    );

    let unknown = daemon.cli(&["plugin", "test", "nosuch"]);
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success() && stderr.contains("nosuch"),
        "{stderr}"
    );
}

#[test]
fn plugin_list_shows_name_kind_version_contract_hash_and_load_time() {
    let _turn = pebble_turn();
    let daemon = Daemon::start(config);
    let sha256 = hex::encode(sha2::Sha256::digest(powerdns_bytes()));

    let out = daemon.cli(&["plugin", "list"]);

    let table = String::from_utf8_lossy(&out.stdout);
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    for column in ["NAME", "KIND", "VERSION", "CONTRACT", "SHA256", "LOADED"] {
        assert!(header.contains(column), "{column} missing: {table}");
    }
    let row = lines.next().unwrap_or_default();
    for cell in ["powerdns", "dns-provider", "0.1.0", &sha256] {
        assert!(row.contains(cell), "{cell} missing: {table}");
    }
    let listed = daemon.json(&["plugin", "list"]);
    assert!(
        listed[0]["loaded_at"]
            .as_str()
            .is_some_and(|at| at.contains('T'))
    );
}

#[test]
fn a_garbage_file_in_the_plugin_directory_is_refused_while_the_daemon_keeps_serving() {
    let _turn = pebble_turn();
    let daemon = Daemon::start(config);
    let plugins = daemon.dir.path().join("plugins");

    std::fs::write(plugins.join("powerdns.wasm"), b"not a component").unwrap();

    let line = wait_for_log(&daemon, "previous version keeps serving");
    assert!(
        line.contains("WARN") && line.contains("powerdns.wasm"),
        "{line}"
    );
    daemon.json(&["plugin", "test", "pdns"]);

    std::fs::remove_file(plugins.join("powerdns.wasm")).unwrap();
    let line = wait_for_log(&daemon, "plugin file removed while DNS providers use it");
    assert!(line.contains("pdns, pdns-wrong"), "{line}");
    daemon.json(&["plugin", "test", "pdns"]);
}

#[test]
fn a_restart_loads_unchanged_plugins_from_the_compiled_code_cache() {
    let _turn = pebble_turn();
    let mut daemon = Daemon::start(config);
    let first = wait_for_log(&daemon, "plugin loaded");
    assert!(first.contains("cached=false"), "{first}");
    let cache = daemon.dir.path().join("plugin-cache");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);

    daemon.stop();
    std::fs::write(daemon.dir.path().join("daemon.log"), "").unwrap();
    daemon.restart();

    let second = wait_for_log(&daemon, "plugin loaded");
    assert!(second.contains("cached=true"), "{second}");
    daemon.json(&["plugin", "test", "pdns"]);
}
