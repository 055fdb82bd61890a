//! Load: 1,000 orders placed in one burst through the admin API, against a pebble of their own
//! (`pebble-load` in `scripts/peers.sh`: its in-memory database keeps every order, and pebble
//! 2.4 can deadlock with that many requests in flight, so the shared one stays out of it).
//!
//! Every order must end valid, the store must hold exactly one certificate per name after a
//! restart, and the daemon's peak resident memory must stay under `RSS_BOUND_KIB`. The time of
//! each phase and the peak are printed, for docs/BENCHMARKS.md.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const ORDERS: usize = 1_000;

/// Clients placing orders at once.
const CLIENTS: usize = 16;

/// Peak resident memory allowed (VmHWM), in KiB: measured about 100 MiB for 1,000 orders with
/// a debug build.
const RSS_BOUND_KIB: u64 = 256 * 1024;

/// How long every order may take to become valid, from the first request.
const DEADLINE: Duration = Duration::from_secs(240);

/// One HTTP/1.1 request over the admin socket; the status code and the body.
fn admin(socket: &Path, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = UnixStream::connect(socket).expect("admin socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: certkeeper\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply read");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

fn get_json(socket: &Path, path: &str) -> Value {
    let (status, body) = admin(socket, "GET", path, "");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

fn name(i: usize) -> String {
    format!("load{i}.example.test")
}

/// Place every order from `CLIENTS` threads; panics naming the first refused one.
fn burst(socket: &Path) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= ORDERS {
                        return;
                    }
                    let body = format!(
                        r#"{{"account":"main","names":["{}"],"challenge":"http-01","auto_finalize":true}}"#,
                        name(i)
                    );
                    let (status, reply) = admin(socket, "POST", "/v1/orders", &body);
                    assert_eq!(status, 201, "order for {} refused: {reply}", name(i));
                }
            });
        }
    });
}

/// Wait until no order is pending, ready or processing; the orders by status.
fn wait_settled(socket: &Path, started: Instant) -> BTreeMap<String, Vec<Value>> {
    loop {
        let orders = get_json(socket, "/v1/orders");
        let mut by_status: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for order in orders.as_array().expect("orders").iter().cloned() {
            let status = order["status"].as_str().unwrap_or_default().to_owned();
            let stopped = !order["error"].is_null();
            let key = if stopped {
                format!("{status} (stopped)")
            } else {
                status
            };
            by_status.entry(key).or_default().push(order);
        }
        let open = ["pending", "ready", "processing"];
        if !open.iter().any(|s| by_status.contains_key(*s)) || started.elapsed() > DEADLINE {
            return by_status;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// User plus system CPU seconds the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the parenthesized command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse().unwrap_or(0.0);
    ticks / 100.0
}

#[test]
fn a_thousand_orders_in_one_burst_all_end_valid_with_bounded_memory() {
    let _turn = pebble_turn();
    let directory = peer("CERTKEEPER_TEST_PEBBLE_LOAD_DIRECTORY");
    let out = curl(&["-fsS", "--cacert", path_str(&pebble_tls_ca()), &directory]);
    assert!(
        out.status.success(),
        "pebble-load does not answer at {directory}"
    );
    let mut daemon = Daemon::start(|dir| {
        base_config(dir, "").replace(&peer("CERTKEEPER_TEST_PEBBLE_DIRECTORY"), &directory)
    });
    daemon.wait_for_account("main");
    let socket = daemon.dir.path().join("admin.sock");
    let pid = daemon.pid().expect("running");

    let started = Instant::now();
    burst(&socket);
    let placed = started.elapsed();
    let by_status = wait_settled(&socket, started);
    let settled = started.elapsed();
    let peak = peak_rss_kib(pid);
    eprintln!(
        "load: {ORDERS} orders placed in {placed:.1?}, settled in {settled:.1?}, \
         peak RSS {} MiB, daemon CPU {:.1} s",
        peak / 1024,
        cpu_seconds(pid)
    );

    let counts: BTreeMap<&String, usize> = by_status.iter().map(|(k, v)| (k, v.len())).collect();
    let not_valid: Vec<String> = by_status
        .iter()
        .filter(|(status, _)| *status != "valid")
        .flat_map(|(_, orders)| orders.iter().take(5))
        .map(|o| format!("{} {} {}: {}", o["id"], o["names"], o["status"], o["error"]))
        .collect();
    assert_eq!(
        counts.get(&"valid".to_owned()),
        Some(&ORDERS),
        "{counts:?}\n{not_valid:#?}"
    );
    assert!(
        peak < RSS_BOUND_KIB,
        "peak RSS {peak} KiB over {RSS_BOUND_KIB} KiB"
    );

    daemon.stop();
    daemon.restart();
    assert_one_certificate_per_name(&socket);
}

/// After a restart the store holds exactly one certificate for each name, and every order.
fn assert_one_certificate_per_name(socket: &Path) {
    let orders = get_json(socket, "/v1/orders");
    assert_eq!(orders.as_array().map(Vec::len), Some(ORDERS));
    let certs = get_json(socket, "/v1/certificates");
    let certs = certs.as_array().expect("certificates");
    let names: Vec<String> = certs.iter().map(|c| sorted_names(c).join(",")).collect();
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(certs.len(), ORDERS, "certificates stored");
    assert_eq!(unique.len(), ORDERS, "duplicate certificates");
    let wanted: HashSet<String> = (0..ORDERS).map(name).collect();
    let have: HashSet<String> = names.into_iter().collect();
    assert_eq!(have, wanted);
}
