//! Store and scale: a store holding 10,000 certificates (self-signed, written through the store
//! API with an issuing order and an automatic-renewal plan each) and ten plugins in `plugin_dir`,
//! served by the release daemon. Measures the daemon's start time (compiled-code cache cold and
//! warm), the renewal scan (the daemon's own `renewal pass done` timing, one pass at start and one
//! per SIGHUP), `cert list` through the CLI and the admin socket, and resident memory once idle.
//!
//! `cargo bench -p certkeeper --bench store_scale` (needs scripts/build-plugins.sh's
//! target/plugins; `BENCH_CERTIFICATES` sets the count, 10,000 by default).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use certkeeper::schedule::RenewalRecord;
use certkeeper::store::{CertificateRecord, OrderRecord, OrderStatus, Store};
use time::OffsetDateTime;

const PLUGINS: usize = 10;
const PASSES: usize = 3;
const LISTS: usize = 5;

fn main() -> anyhow::Result<()> {
    let count: usize = std::env::var("BENCH_CERTIFICATES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let config = write_config(dir.path())?;

    let started = Instant::now();
    fill_store(&dir.path().join("certkeeper.redb"), count)?;
    println!(
        "store: {count} certificates written in {:.2} s",
        secs(started)
    );

    let cold = Daemon::start(&config)?;
    let cold_start = cold.ready_after;
    cold.stop();
    let mut daemon = Daemon::start(&config)?;
    let passes = daemon.passes(PASSES)?;
    let rss_idle = daemon.rss_mib()?;
    let (list_json, rows) = median_list(&config, &["--json", "cert", "list"])?;
    let (list_table, _) = median_list(&config, &["cert", "list"])?;
    let socket = median(
        (0..LISTS)
            .map(|_| admin_get(dir.path()))
            .collect::<Result<_, _>>()?,
    );
    std::thread::sleep(Duration::from_secs(2));
    let rss_after = daemon.rss_mib()?;
    let warm_start = daemon.ready_after;
    daemon.stop();

    println!("start (plugin cache cold): {:7.1} ms", cold_start * 1e3);
    let start = warm_start * 1e3;
    println!("start (plugin cache warm): {start:7.1} ms");
    let pass_ms = median(passes);
    println!(
        "renewal scan, {count} due-later certificates: {pass_ms:7.1} ms  {}",
        verdict(pass_ms, 1000.0)
    );
    let json_ms = list_json * 1e3;
    println!(
        "cert list --json ({rows} rows): {json_ms:7.1} ms  {}",
        verdict(json_ms, 100.0)
    );
    println!(
        "  of which the admin socket answering GET /v1/certificates: {:7.1} ms",
        socket * 1e3
    );
    let table_ms = list_table * 1e3;
    println!(
        "cert list (table): {table_ms:7.1} ms  {}",
        verdict(table_ms, 100.0)
    );
    println!(
        "RSS idle, {PLUGINS} plugins, after the first passes: {rss_idle:.1} MiB  {}",
        verdict(rss_idle, 40.0)
    );
    println!("RSS after the listings: {rss_after:.1} MiB");
    Ok(())
}

/// Writes `count` certificates, their orders and their renewal plans, a thousand per transaction.
fn fill_store(path: &Path, count: usize) -> anyhow::Result<()> {
    let store = Store::open(path)?;
    let key = rcgen::KeyPair::generate()?;
    let key_pem = key.serialize_pem();
    let now = OffsetDateTime::now_utc();
    for chunk in (0..count).collect::<Vec<_>>().chunks(1000) {
        let mut certs = Vec::with_capacity(chunk.len());
        let mut orders = Vec::with_capacity(chunk.len());
        let mut plans = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let name = format!("s{i:05}.scale.example.test");
            let mut params = rcgen::CertificateParams::new(vec![name.clone()])?;
            params.not_before = now - time::Duration::days(10);
            params.not_after = now + time::Duration::days(80);
            let pem = params.self_signed(&key)?.pem();
            let cert = certificate(&name, i, pem, key_pem.clone(), now);
            orders.push(order(&cert, now));
            plans.push(plan(&cert, now));
            certs.push(cert);
        }
        store.put_all(&certs)?;
        store.put_all(&orders)?;
        store.put_all(&plans)?;
    }
    Ok(())
}

fn certificate(
    name: &str,
    i: usize,
    pem: String,
    key: String,
    now: OffsetDateTime,
) -> CertificateRecord {
    CertificateRecord {
        id: format!("cert-{i:05}"),
        name: name.to_owned(),
        order_id: format!("order-{i:05}"),
        names: vec![name.to_owned()],
        issuer: format!("CN={name}"),
        serial: format!("{i:040x}"),
        not_before: now - time::Duration::days(10),
        not_after: now + time::Duration::days(80),
        chain_pem: pem,
        private_key_pem: Some(key),
        revoked_at: None,
        revocation_reason: None,
        created_at: now - time::Duration::days(10),
    }
}

fn order(cert: &CertificateRecord, now: OffsetDateTime) -> OrderRecord {
    OrderRecord {
        id: cert.order_id.clone(),
        account_id: "bench-account".into(),
        url: format!("https://ca.invalid/order/{}", cert.order_id),
        names: cert.names.clone(),
        status: OrderStatus::Valid,
        challenge: "http-01".into(),
        dns: None,
        csr_id: format!("csr-{}", cert.id),
        certificate_name: None,
        profile: None,
        auto_finalize: true,
        certificate_id: Some(cert.id.clone()),
        error: None,
        hidden: false,
        created_at: now - time::Duration::days(10),
        updated_at: now - time::Duration::days(10),
    }
}

/// Renewal turned on, planned for the certificate, due in 50 days: a pass finds nothing to do.
fn plan(cert: &CertificateRecord, now: OffsetDateTime) -> RenewalRecord {
    RenewalRecord {
        auto: true,
        planned_for: Some(cert.id.clone()),
        next_at: Some(now + time::Duration::days(50)),
        source: Some("lifetime".into()),
        ..RenewalRecord::new(&cert.name)
    }
}

/// A config over the store in `dir`, with the first ten plugins of target/plugins.
fn write_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&shipped)
        .with_context(|| format!("{} (run scripts/build-plugins.sh)", shipped.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    if files.len() < PLUGINS {
        bail!(
            "{} holds {} plugins; {PLUGINS} needed",
            shipped.display(),
            files.len()
        );
    }
    for file in &files[..PLUGINS] {
        std::fs::copy(file, plugins.join(file.file_name().expect("a file")))?;
    }
    let config = dir.join("certkeeper.toml");
    let text = format!(
        "store = \"{d}/certkeeper.redb\"\nadmin_socket = \"{d}/admin.sock\"\nplugin_dir = \"{d}/plugins\"\n",
        d = dir.display()
    );
    std::fs::write(&config, text)?;
    Ok(config)
}

/// The release daemon under test, its log in a file next to the config.
struct Daemon {
    child: Child,
    log: PathBuf,
    ready_after: f64,
}

impl Daemon {
    /// Starts it and waits until the admin socket answers.
    fn start(config: &Path) -> anyhow::Result<Self> {
        let log = config.with_extension("log");
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_certkeeper"))
            .args(["run", "--config"])
            .arg(config)
            .env(
                "RUST_LOG",
                "info,hickory_server=warn,certkeeper::schedule=debug",
            )
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let mut daemon = Self {
            child,
            log,
            ready_after: 0.0,
        };
        while cli(config, &["--json", "plugin", "list"]).is_err() {
            if started.elapsed() > Duration::from_secs(120) || daemon.child.try_wait()?.is_some() {
                bail!("the daemon did not come up; log: {}", daemon.log.display());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        daemon.ready_after = secs(started);
        Ok(daemon)
    }

    /// The durations of the first `n` renewal passes, in ms: one at start, then one per SIGHUP.
    fn passes(&mut self, n: usize) -> anyhow::Result<Vec<f64>> {
        let mut seen = self.pass_times()?;
        let deadline = Instant::now() + Duration::from_secs(600);
        while seen.len() < n {
            if Instant::now() > deadline {
                bail!(
                    "only {} renewal passes in 600 s; log: {}",
                    seen.len(),
                    self.log.display()
                );
            }
            let before = seen.len();
            if before > 0 {
                Command::new("kill")
                    .args(["-HUP", &self.child.id().to_string()])
                    .status()?;
            }
            while seen.len() == before && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
                seen = self.pass_times()?;
            }
        }
        Ok(seen)
    }

    fn pass_times(&self) -> anyhow::Result<Vec<f64>> {
        let log = std::fs::read_to_string(&self.log)?;
        Ok(log
            .lines()
            .filter(|l| l.contains("renewal pass done"))
            .filter_map(|l| l.split("elapsed_ms=").nth(1))
            .filter_map(|v| v.split_whitespace().next()?.parse().ok())
            .collect())
    }

    fn rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .context("no VmRSS")?;
        Ok(kib / 1024.0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Runs the CLI against the daemon; its stdout when it succeeds.
fn cli(config: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_certkeeper"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stderr(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!("certkeeper {args:?} failed");
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Seconds for the admin socket to answer the listing the CLI asks for, read to the end.
fn admin_get(dir: &Path) -> anyhow::Result<f64> {
    use std::io::{Read, Write};
    let started = Instant::now();
    let mut stream = std::os::unix::net::UnixStream::connect(dir.join("admin.sock"))?;
    stream.write_all(
        b"GET /v1/certificates HTTP/1.1\r\nhost: certkeeper\r\nconnection: close\r\n\r\n",
    )?;
    let mut body = Vec::new();
    stream.read_to_end(&mut body)?;
    if !body.starts_with(b"HTTP/1.1 200") {
        bail!("the admin socket did not answer 200");
    }
    Ok(secs(started))
}

/// The median wall time of `LISTS` runs of the CLI, in s, and the rows of the last one.
fn median_list(config: &Path, args: &[&str]) -> anyhow::Result<(f64, usize)> {
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..LISTS {
        let started = Instant::now();
        let out = cli(config, args)?;
        times.push(secs(started));
        rows = match args.contains(&"--json") {
            true => out.matches("\"order_id\"").count(),
            false => out.lines().count().saturating_sub(1),
        };
    }
    Ok((median(times), rows))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

fn verdict(value: f64, target: f64) -> String {
    let met = if value < target { "met" } else { "MISSED" };
    format!("(target < {target}: {met})")
}
