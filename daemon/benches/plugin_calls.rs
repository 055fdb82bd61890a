//! Plugin calls: the host↔guest round trip of a provider call that touches no network, the time
//! to load and compile a component with and without the compiled-code cache, and hot reload from
//! a file change to the first call answered by the new version. Prints medians and the targets.
//!
//! `cargo bench -p certkeeper --bench plugin_calls` (needs scripts/build-plugins.sh's
//! target/wasm32-wasip2/plugin/{test_hostile,example,powerdns}.wasm).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use certkeeper::plugin::{PluginHost, ProviderConfig};

const CALLS: usize = 5_000;
const LOADS: usize = 5;
const RELOADS: [&str; 5] = ["gen-bbbb", "gen-cccc", "gen-dddd", "gen-eeee", "gen-ffff"];
const MARKER: &str = "gen-aaaa";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(round_trip())?;
    for file in ["example.wasm", "powerdns.wasm", "test_hostile.wasm"] {
        load_and_compile(file)?;
    }
    runtime.block_on(hot_reload())
}

/// `present` on the test plugin in mode `ok`: it returns at once, so the call is all host work:
/// a fresh instance from the pre-instantiated component, the arguments in, the answer out.
async fn round_trip() -> anyhow::Result<()> {
    let dir = dir_with("hostile.wasm", &std::fs::read(built("test_hostile.wasm"))?)?;
    let host = PluginHost::load(dir.path(), vec![provider("ok", "test-hostile")])?;
    let fqdn = "_acme-challenge.bench.gen-aaaa.test.";
    for _ in 0..100 {
        host.present("ok", fqdn, "value", 60).await?;
    }
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        host.present("ok", fqdn, "value", 60).await?;
        times.push(micros(started));
    }
    let (median, p90) = (percentile(&mut times, 50), percentile(&mut times, 90));
    let met = if median < 50.0 { "met" } else { "MISSED" };
    println!(
        "round trip, present() with no network: median {median:.1} µs, p90 {p90:.1} µs (target < 50 µs: {met})"
    );

    // The part of it that is only the hop to a blocking thread and back, which every call takes.
    let mut hops = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        tokio::task::spawn_blocking(|| ()).await?;
        hops.push(micros(started));
    }
    let hop = percentile(&mut hops, 50);
    println!("  of which the hop to a blocking thread and back: median {hop:.1} µs");
    Ok(())
}

/// Loading one plugin: compiled every time, compiled into an empty cache, and read back from it.
fn load_and_compile(file: &str) -> anyhow::Result<()> {
    let bytes = std::fs::read(built(file))?;
    let dir = dir_with(file, &bytes)?;
    let (mut plain, mut cold, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..LOADS {
        let started = Instant::now();
        PluginHost::load(dir.path(), Vec::new())?;
        plain.push(millis(started));

        let cache = tempfile::tempdir()?;
        let cache_dir = cache.path().join("cache");
        let started = Instant::now();
        PluginHost::load_with_cache(dir.path(), Vec::new(), Some(&cache_dir))?;
        cold.push(millis(started));
        let started = Instant::now();
        let host = PluginHost::load_with_cache(dir.path(), Vec::new(), Some(&cache_dir))?;
        warm.push(millis(started));
        if host.cache_hits() != 1 {
            bail!("{file}: the second load missed the cache");
        }
    }
    println!(
        "load {file} ({} KiB): no cache {:.1} ms, cache cold {:.1} ms, cache warm {:.2} ms",
        bytes.len() / 1024,
        percentile(&mut plain, 50),
        percentile(&mut cold, 50),
        percentile(&mut warm, 50)
    );
    Ok(())
}

/// Rewrites the watched plugin to a new generation and times until a call runs on it; the last
/// reload goes back to the first generation, whose compiled code is in the cache.
async fn hot_reload() -> anyhow::Result<()> {
    let original = std::fs::read(built("test_hostile.wasm"))?;
    let dir = dir_with("hostile.wasm", &original)?;
    let cache = tempfile::tempdir()?;
    let cache_dir = cache.path().join("cache");
    let providers = vec![provider("ok", "test-hostile")];
    let host = Arc::new(PluginHost::load_with_cache(
        dir.path(),
        providers,
        Some(&cache_dir),
    )?);
    let _watcher = host.watch()?;
    let path = dir.path().join("hostile.wasm");

    let mut times = Vec::new();
    for marker in RELOADS {
        times.push(reload(&host, &path, &replace(&original, marker)?, marker).await?);
    }
    let cached = reload(&host, &path, &original, MARKER).await?;
    let median = percentile(&mut times, 50);
    let met = if median < 1000.0 { "met" } else { "MISSED" };
    println!(
        "hot reload, file change to first call on the new version: median {median:.0} ms, \
         max {:.0} ms, back to a cached version {cached:.0} ms (target < 1 s: {met})",
        percentile(&mut times, 100)
    );
    Ok(())
}

async fn reload(host: &PluginHost, path: &Path, bytes: &[u8], marker: &str) -> anyhow::Result<f64> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    let started = Instant::now();
    std::fs::rename(&partial, path)?;
    loop {
        // A call keeps the plugin it started with, so once the new version is listed, this
        // call runs on it.
        if host.plugins().iter().any(|p| p.version.ends_with(marker)) {
            host.present("ok", "_acme-challenge.x.test.", "value", 60)
                .await?;
            return Ok(millis(started));
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("version {marker} not loaded 30 s after the change");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The plugin with its generation marker rewritten (same length, so offsets stay valid).
fn replace(bytes: &[u8], marker: &str) -> anyhow::Result<Vec<u8>> {
    let (from, to) = (MARKER.as_bytes(), marker.as_bytes());
    let mut out = bytes.to_vec();
    let mut found = false;
    let mut at = 0;
    while let Some(i) = out[at..].windows(from.len()).position(|w| w == from) {
        out[at + i..at + i + to.len()].copy_from_slice(to);
        at += i + to.len();
        found = true;
    }
    if !found {
        bail!("the generation marker {MARKER} is missing from the test plugin");
    }
    Ok(out)
}

fn built(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/plugin")
        .join(file)
}

fn dir_with(name: &str, bytes: &[u8]) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join(name), bytes).with_context(|| name.to_owned())?;
    Ok(dir)
}

fn provider(name: &str, plugin: &str) -> ProviderConfig {
    serde_json::from_value(serde_json::json!({ "name": name, "plugin": plugin }))
        .expect("a name and a plugin make a provider config")
}

fn percentile(values: &mut [f64], p: usize) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) * p) / 100]
}

fn micros(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e6
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
