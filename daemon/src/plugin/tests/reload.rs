//! Hot reload and the compiled-code cache, against a watched directory.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::*;

/// A name the test plugin answers by generation: `gen-aaaa.gen-bbbb.test.` from the first build,
/// `gen-bbbb.test.` once the marker is rewritten.
const NAME: &str = "_acme-challenge.gen-aaaa.gen-bbbb.test.";
const OLD_ZONE: &str = "gen-aaaa.gen-bbbb.test.";
const NEW_ZONE: &str = "gen-bbbb.test.";

/// The test plugin as built (`gen-aaaa`), or rewritten to the next generation (`gen-bbbb`).
fn generation(next: bool) -> Vec<u8> {
    let bytes = std::fs::read(hostile_wasm()).expect("read test_hostile.wasm");
    match next {
        false => bytes,
        true => replace_every(&bytes, b"gen-aaaa", b"gen-bbbb"),
    }
}

fn replace_every(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut at = 0;
    while let Some(found) = find(&out[at..], from) {
        let start = at + found;
        out[start..start + to.len()].copy_from_slice(to);
        at = start + to.len();
    }
    assert_ne!(
        out, bytes,
        "the generation marker is missing from the plugin"
    );
    out
}

/// Writes `bytes` to `path` the way an installer should: whole, then renamed into place.
fn install(path: &Path, bytes: &[u8]) {
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, bytes).expect("write the new plugin");
    std::fs::rename(&temporary, path).expect("rename it into place");
}

fn slow(name: &str, delay_ms: u32) -> ProviderConfig {
    let config = serde_json::json!({
        "name": name, "plugin": "test-hostile",
        "settings": { "mode": "slow", "delay_ms": delay_ms.to_string() },
    });
    serde_json::from_value(config).expect("slow provider config")
}

/// A watched host over a directory holding the test plugin as `hostile.wasm`.
fn watched(providers: Vec<ProviderConfig>) -> (tempfile::TempDir, Arc<PluginHost>, PluginWatcher) {
    let dir = dir_with("hostile.wasm", &generation(false));
    let host = Arc::new(PluginHost::load(dir.path(), providers).expect("load"));
    let watcher = host.watch().expect("watch the plugin directory");
    (dir, host, watcher)
}

/// Waits up to 30 s for `done`; panics naming `what` otherwise.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn version(host: &PluginHost) -> String {
    let plugins = host.plugins();
    let plugin = plugins.iter().find(|p| p.name == "test-hostile");
    plugin.map(|p| p.version.clone()).unwrap_or_default()
}

/// Log lines that mention `needle`, once one does.
async fn logged(needle: &str, also: &str) -> String {
    let logs = captured_logs();
    let found = || {
        let text = logs.text();
        text.lines()
            .find(|line| line.contains(needle) && line.contains(also))
            .map(str::to_owned)
    };
    eventually(&format!("a log line with {needle:?} and {also:?}"), || {
        found().is_some()
    })
    .await;
    found().expect("found above")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replacing_a_plugin_under_load_fails_no_call_and_new_calls_reach_the_new_version() {
    let (dir, host, _watcher) = watched(vec![slow("quick", 20), slow("long", 10_000)]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for _ in 0..3 {
        let (host, stop) = (Arc::clone(&host), Arc::clone(&stop));
        callers.push(tokio::spawn(async move {
            let mut zones = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                zones.push(host.find_zone("quick", NAME).await);
            }
            zones
        }));
    }
    let in_flight = tokio::spawn({
        let host = Arc::clone(&host);
        async move { host.find_zone("long", NAME).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    install(&dir.path().join("hostile.wasm"), &generation(true));
    eventually("the new version", || version(&host) == "0.1.0+gen-bbbb").await;
    assert!(
        !in_flight.is_finished(),
        "the long call ended before the swap"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);

    let mut zones = Vec::new();
    for caller in callers {
        zones.extend(caller.await.unwrap());
    }
    let failed: Vec<_> = zones
        .iter()
        .filter_map(|zone| zone.as_ref().err())
        .collect();
    assert!(
        failed.is_empty(),
        "calls failed during the swap: {failed:?}"
    );
    let zones: Vec<String> = zones.into_iter().map(Result::unwrap).collect();
    assert!(zones.iter().any(|zone| zone == OLD_ZONE), "{zones:?}");
    assert_eq!(zones.last().map(String::as_str), Some(NEW_ZONE));
    let long = in_flight
        .await
        .unwrap()
        .expect("the call in flight finishes");
    assert_eq!(
        long, OLD_ZONE,
        "the call in flight finished on the old version"
    );
    assert_eq!(host.find_zone("quick", NAME).await.unwrap(), NEW_ZONE);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_or_incompatible_replacement_is_refused_and_the_old_version_keeps_serving() {
    let (dir, host, _watcher) = watched(vec![slow("steady", 1)]);
    let path = dir.path().join("hostile.wasm");
    let future = replace_all(
        &generation(false),
        b"certkeeper:plugin/",
        b"@0.1.0",
        b"@0.9.0",
    );

    for (bytes, why) in [
        (b"garbage, not wasm".to_vec(), "not a WebAssembly file"),
        (future, "@0.9.0"),
    ] {
        std::fs::write(&path, bytes).expect("overwrite the plugin in place");

        let line = logged("previous version keeps serving", why).await;
        assert!(
            line.contains("WARN") && line.contains(&*path.to_string_lossy()),
            "{line}"
        );
        assert_eq!(host.find_zone("steady", NAME).await.unwrap(), OLD_ZONE);
        assert_eq!(version(&host), "0.1.0+gen-aaaa");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_garbage_file_is_refused_and_loads_nothing() {
    let (dir, host, _watcher) = watched(Vec::new());

    std::fs::write(dir.path().join("junk.wasm"), b"\0asm\x0d\0\x01\0junk").unwrap();

    let line = logged("nothing loaded from it", "junk.wasm").await;
    assert!(line.contains("WARN"), "{line}");
    assert_eq!(host.plugins().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_plugin_that_providers_use_keeps_it_serving() {
    let (dir, host, _watcher) = watched(vec![slow("kept", 1)]);
    let unused = dir.path().join("powerdns.wasm");
    install(&unused, &std::fs::read(powerdns_wasm()).unwrap());
    eventually("powerdns loaded", || host.plugins().len() == 2).await;

    std::fs::remove_file(dir.path().join("hostile.wasm")).unwrap();
    std::fs::remove_file(&unused).unwrap();

    let line = logged("keeps serving until the daemon restarts", "providers=kept").await;
    assert!(
        line.contains("WARN") && line.contains("plugin=test-hostile"),
        "{line}"
    );
    eventually("powerdns unloaded", || host.plugins().len() == 1).await;
    assert_eq!(host.find_zone("kept", NAME).await.unwrap(), OLD_ZONE);
}

#[test]
fn a_restart_takes_unchanged_plugins_from_the_compiled_code_cache() {
    let dir = dir_with_powerdns();
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("plugin-cache");

    let first = PluginHost::load_with_cache(dir.path(), Vec::new(), Some(&cache_dir)).unwrap();
    let second = PluginHost::load_with_cache(dir.path(), Vec::new(), Some(&cache_dir)).unwrap();

    assert_eq!(first.cache_hits(), 0);
    assert_eq!(second.cache_hits(), 1);
    assert_eq!(second.plugins()[0].name, "powerdns");
    let mode = std::fs::metadata(&cache_dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let entries = std::fs::read_dir(&cache_dir).unwrap().count();
    assert_eq!(entries, 1, "one compiled plugin, no temporary files left");
}

#[test]
fn a_cache_directory_others_may_write_to_is_not_used() {
    let dir = dir_with_powerdns();
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();

    for _ in 0..2 {
        let host = PluginHost::load_with_cache(dir.path(), Vec::new(), Some(cache.path())).unwrap();
        assert_eq!(host.cache_hits(), 0);
    }

    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
}
