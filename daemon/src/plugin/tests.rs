//! Host tests that load the real, built plugin components (`scripts/build-plugins.sh`).
//!
//! `hostile` runs the misbehaving test plugin (`plugins/test-hostile`), `reload` swaps plugins
//! under a running host.

mod hostile;
mod reload;
mod vendor;
mod vendor_eab;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::*;

/// Where `scripts/build-plugins.sh` puts the plugins, or `CERTKEEPER_PLUGIN_DIR`.
fn plugin_dir() -> PathBuf {
    std::env::var_os("CERTKEEPER_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/plugin")
        })
}

fn powerdns_wasm() -> PathBuf {
    built("powerdns.wasm")
}

/// The misbehaving test plugin, built from `plugins/test-hostile`.
fn hostile_wasm() -> PathBuf {
    built("test_hostile.wasm")
}

fn built(file: &str) -> PathBuf {
    let path = plugin_dir().join(file);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/build-plugins.sh first",
        path.display()
    );
    path
}

/// A directory holding only `bytes`, as file `name`.
fn dir_with(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(name), bytes).expect("write test plugin");
    dir
}

/// A directory holding a copy of the built `powerdns.wasm`.
fn dir_with_powerdns() -> tempfile::TempDir {
    let bytes = std::fs::read(powerdns_wasm()).expect("read powerdns.wasm");
    dir_with("powerdns.wasm", &bytes)
}

fn provider(name: &str, plugin: &str) -> ProviderConfig {
    serde_json::from_value(serde_json::json!({ "name": name, "plugin": plugin }))
        .expect("minimal provider config")
}

#[test]
fn loads_the_powerdns_component_and_reads_its_metadata() {
    let dir = dir_with_powerdns();

    let host = PluginHost::load(dir.path(), vec![provider("pdns", "powerdns")]).unwrap();

    let plugins = host.plugins();
    assert_eq!(plugins.len(), 1);
    let info = &plugins[0];
    assert_eq!(info.name, "powerdns");
    assert_eq!(info.kind, "dns-provider");
    assert_eq!(info.contract_version, CONTRACT_VERSION);
    assert_eq!(info.version, "0.1.0");
    assert_eq!(info.sha256.len(), 64);
    assert_eq!(info.file, dir.path().join("powerdns.wasm"));
    assert!(host.has_provider("pdns"));
    assert!(!host.has_provider("other"));
}

#[test]
fn a_file_of_garbage_bytes_is_refused_with_an_error_naming_it() {
    let dir = dir_with("garbage.wasm", b"this is not webassembly at all");

    let error = PluginHost::load(dir.path(), Vec::new())
        .err()
        .expect("garbage must be refused");

    assert!(
        matches!(error, PluginError::NotAComponent { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("garbage.wasm"), "{message}");
    assert!(message.contains("not a WebAssembly file"), "{message}");
}

#[test]
fn a_core_module_is_refused_as_not_a_component() {
    // The smallest valid core module: magic and version 1, no sections.
    let dir = dir_with("core.wasm", b"\0asm\x01\0\0\0");

    let error = PluginHost::load(dir.path(), Vec::new())
        .err()
        .expect("core module refused");

    let message = error.to_string();
    assert!(
        matches!(error, PluginError::NotAComponent { .. }),
        "{message}"
    );
    assert!(message.contains("core.wasm") && message.contains("core WebAssembly module"));
}

#[test]
fn a_component_built_for_another_contract_version_is_refused_naming_both_versions() {
    // Same-length rewrite of every versioned name keeps the binary valid.
    let bytes = std::fs::read(powerdns_wasm()).expect("read powerdns.wasm");
    let bytes = replace_all(&bytes, b"certkeeper:plugin/", b"@0.1.0", b"@0.9.0");
    let dir = dir_with("future.wasm", &bytes);

    let error = PluginHost::load(dir.path(), Vec::new())
        .err()
        .expect("other version refused");

    let message = error.to_string();
    assert!(
        matches!(error, PluginError::IncompatibleContract { .. }),
        "{message}"
    );
    assert!(
        message.contains("future.wasm") && message.contains("@0.9.0"),
        "{message}"
    );
    assert!(message.contains("@0.1.0"), "{message}");
}

#[test]
fn a_provider_naming_a_plugin_that_is_not_loaded_is_refused() {
    let dir = dir_with_powerdns();

    let error = PluginHost::load(dir.path(), vec![provider("cf", "cloudflare")])
        .err()
        .unwrap();

    let message = error.to_string();
    assert!(
        matches!(error, PluginError::UnknownPlugin { .. }),
        "{message}"
    );
    assert!(
        message.contains("cf") && message.contains("cloudflare"),
        "{message}"
    );
    assert!(message.contains("loaded: powerdns"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_setting_comes_back_as_the_plugins_bad_config_error() {
    let dir = dir_with_powerdns();
    let host = PluginHost::load(dir.path(), vec![provider("pdns", "powerdns")]).unwrap();

    let error = host
        .present("pdns", "_acme-challenge.example.test", "v", 60)
        .await
        .unwrap_err();

    let Some(ProviderError::BadConfig(message)) = error.provider_error() else {
        panic!("expected the plugin's bad-config error, got {error}");
    };
    assert!(message.contains("server_url"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_provider_is_an_error_naming_it() {
    let host = PluginHost::load(tempfile::tempdir().unwrap().path(), Vec::new()).unwrap();

    let error = host.test_connection("nope").await.unwrap_err();

    assert!(matches!(error, PluginCallError::UnknownProvider(ref name) if name == "nope"));
}

/// `bytes` with `from` replaced by `to` wherever it follows `after` within 40 bytes.
fn replace_all(bytes: &[u8], after: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut start = 0;
    while let Some(at) = find(&out[start..], after).map(|at| at + start) {
        let window = at..(at + after.len() + 40).min(out.len());
        if let Some(pos) = find(&out[window.clone()], from).map(|pos| pos + window.start) {
            out[pos..pos + to.len()].copy_from_slice(to);
        }
        start = at + after.len();
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_host_is_logged_as_a_warning_naming_plugin_provider_and_host() {
    let logs = captured_logs();
    let dir = dir_with_powerdns();
    let config = serde_json::json!({
        "name": "pdns-sandbox", "plugin": "powerdns", "allowed_hosts": ["127.0.0.1:8081"],
        "settings": { "server_url": "http://127.0.0.2:9", "api_key": "very-secret-key" },
    });
    let host = PluginHost::load(dir.path(), vec![serde_json::from_value(config).unwrap()]).unwrap();

    let error = host.test_connection("pdns-sandbox").await.unwrap_err();

    assert!(error.to_string().contains("127.0.0.2:9"), "{error}");
    let logs = logs.text();
    let line = logs
        .lines()
        .find(|line| line.contains("not in allowed_hosts"))
        .unwrap_or_else(|| {
            panic!("no refusal logged in:\n{logs}");
        });
    assert!(line.contains("WARN"), "{line}");
    for field in [
        "plugin=powerdns",
        "provider=pdns-sandbox",
        "host=127.0.0.2:9",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(
        !logs.contains("very-secret-key"),
        "the API key was logged:\n{logs}"
    );
}

/// Everything logged by any test of this binary, from the first call on.
///
/// N.B. global: plugin calls log on blocking threads, where a scoped default is not seen. Tests
/// run in parallel, so each looks only for lines naming its own provider or file.
fn captured_logs() -> &'static CapturedLogs {
    static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("only this sets a subscriber");
        logs
    })
}

/// Log output collected in memory.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}
