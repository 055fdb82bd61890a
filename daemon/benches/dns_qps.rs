//! Port-53 throughput: TXT queries per second for `_acme-challenge` names answered by
//! certkeeper's authoritative server, by knot and by PowerDNS (when `scripts/peers.sh` runs it),
//! each loaded by `dnsperf` on loopback in the same run. Prints qps and the ratios.
//!
//! `cargo bench -p certkeeper --bench dns_qps` (needs the Debian packages dnsperf and knot;
//! `BENCH_SECONDS` sets each run's length, 10 by default).

use std::fmt::Write as _;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use certkeeper::challenge::Board;
use certkeeper::dns::{DnsServerConfig, spawn};

const ZONE: &str = "bench.test.";
const NAMES: usize = 100;

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let queries = dir.path().join("queries.txt");
    std::fs::write(&queries, query_file()).expect("query file");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let ours = runtime.block_on(start_certkeeper());
    let ours_port = ours.local_addrs()[0].port();
    let ours_qps = dnsperf(ours_port, &queries, seconds);

    let knot = Knot::start(dir.path());
    let knot_qps = dnsperf(knot.port, &queries, seconds);
    drop(knot);

    let pdns_qps = powerdns_port().map(|port| dnsperf(port, &queries, seconds));
    report(ours_qps, knot_qps, pdns_qps);
    runtime.block_on(ours.shutdown());
}

fn value(i: usize) -> String {
    format!("bench-value-{i:04}-{}", "x".repeat(32))
}

fn query_file() -> String {
    let mut out = String::new();
    for i in 0..NAMES {
        let _ = writeln!(out, "_acme-challenge.h{i}.{ZONE} TXT");
    }
    out
}

async fn start_certkeeper() -> certkeeper::dns::DnsServer {
    let board = Arc::new(Board::new());
    for i in 0..NAMES {
        board.add_txt(&format!("_acme-challenge.h{i}.{ZONE}"), &value(i));
    }
    let config = DnsServerConfig {
        listen: vec!["127.0.0.1:0".parse().expect("address")],
        zones: vec![ZONE.into()],
        nameserver: "ns.bench.test.".into(),
        ..DnsServerConfig::default()
    };
    spawn(&config, board)
        .await
        .expect("certkeeper's DNS server starts")
}

/// knotd serving the same records from a zone file, stopped when dropped.
struct Knot {
    child: Child,
    port: u16,
}

impl Knot {
    fn start(dir: &Path) -> Self {
        let port = free_port();
        let mut zone = format!(
            "$ORIGIN {ZONE}\n$TTL 60\n@ SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 60\n@ NS ns.bench.test.\n"
        );
        for i in 0..NAMES {
            let _ = writeln!(zone, "_acme-challenge.h{i} TXT \"{}\"", value(i));
        }
        std::fs::write(dir.join("bench.test.zone"), zone).expect("zone file");
        let conf = format!(
            "server:\n  listen: 127.0.0.1@{port}\n  rundir: \"{d}\"\ndatabase:\n  storage: \"{d}\"\n\
             template:\n  - id: default\n    storage: \"{d}\"\nzone:\n  - domain: {ZONE}\n    file: bench.test.zone\n",
            d = dir.display()
        );
        std::fs::write(dir.join("knot.conf"), conf).expect("knot config");
        let child = Command::new("knotd")
            .arg("-c")
            .arg(dir.join("knot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("knotd runs (apt-get install knot)");
        wait_until_answering(port);
        Self { child, port }
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port()
}

fn wait_until_answering(port: u16) {
    for _ in 0..100 {
        let out = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &port.to_string(),
                "+short",
                "+time=1",
                "+tries=1",
                "TXT",
            ])
            .arg(format!("_acme-challenge.h0.{ZONE}"))
            .output();
        if out.is_ok_and(|o| !o.stdout.is_empty()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server on port {port} never answered");
}

/// PowerDNS from `scripts/peers.sh`, with the bench zone created through its API.
fn powerdns_port() -> Option<u16> {
    let api = std::env::var("CERTKEEPER_TEST_PDNS_API")
        .unwrap_or_else(|_| "http://127.0.0.1:8081".into());
    let key = std::env::var("CERTKEEPER_TEST_PDNS_KEY").unwrap_or_else(|_| "test-api-key".into());
    let mut rrsets = vec![
        format!(
            r#"{{"name":"{ZONE}","type":"SOA","ttl":60,"records":[{{"content":"ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 60","disabled":false}}]}}"#
        ),
        format!(
            r#"{{"name":"{ZONE}","type":"NS","ttl":60,"records":[{{"content":"ns.bench.test.","disabled":false}}]}}"#
        ),
    ];
    for i in 0..NAMES {
        rrsets.push(format!(
            r#"{{"name":"_acme-challenge.h{i}.{ZONE}","type":"TXT","ttl":60,"records":[{{"content":"\"{}\"","disabled":false}}]}}"#,
            value(i)
        ));
    }
    let body = format!(
        r#"{{"name":"{ZONE}","kind":"Native","nameservers":[],"rrsets":[{}]}}"#,
        rrsets.join(",")
    );
    let url = format!("{api}/api/v1/servers/localhost/zones");
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            "-X",
            "POST",
        ])
        .args(["-H", &format!("X-API-Key: {key}"), "-d", &body, &url])
        .output()
        .ok()?;
    let code = String::from_utf8_lossy(&status.stdout).to_string();
    if code != "201" && code != "409" {
        eprintln!("PowerDNS not measured (API answered {code:?}); run scripts/peers.sh start");
        return None;
    }
    let dns = std::env::var("CERTKEEPER_TEST_PDNS_DNS").unwrap_or_else(|_| "127.0.0.1:5300".into());
    dns.rsplit(':').next()?.parse().ok()
}

/// Queries per second dnsperf measured against 127.0.0.1:`port`.
fn dnsperf(port: u16, queries: &Path, seconds: u64) -> f64 {
    let out = Command::new("dnsperf")
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-l",
            &seconds.to_string(),
        ])
        .args(["-c", "4", "-q", "200", "-d"])
        .arg(queries)
        .output()
        .expect("dnsperf runs (apt-get install dnsperf)");
    let text = String::from_utf8_lossy(&out.stdout);
    let lost = text
        .lines()
        .find(|l| l.contains("Queries lost:"))
        .unwrap_or("")
        .trim()
        .to_owned();
    let qps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Queries per second:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no qps in dnsperf output:\n{text}"));
    eprintln!("port {port}: {qps:.0} qps; {lost}");
    qps
}

fn report(ours: f64, knot: f64, pdns: Option<f64>) {
    println!(
        "\nTXT queries per second on loopback ({NAMES} _acme-challenge names, dnsperf -c 4 -q 200)"
    );
    println!("{:<12} {:>10} {:>14}", "server", "qps", "certkeeper ÷");
    println!("{:<12} {:>10.0} {:>14}", "certkeeper", ours, "-");
    println!("{:<12} {:>10.0} {:>14.2}", "knot", knot, ours / knot);
    if let Some(pdns) = pdns {
        println!("{:<12} {:>10.0} {:>14.2}", "powerdns", pdns, ours / pdns);
    }
    println!("targets: certkeeper ÷ knot ≥ 0.8, certkeeper ÷ powerdns > 1");
}
