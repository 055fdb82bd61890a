//! Issue #6, hostile network: the built-in DNS server flooded from local sockets with valid
//! queries, queries outside its zones, garbage, oversize and response packets, while pebble
//! validates a DNS-01 order through it and `dig` asks for the challenge name.
//!
//! `dig` always gets an explicit `@server`, so it never falls back to the system resolver.

use std::net::SocketAddr;
use std::time::Duration;

use crate::dns_server::{ZONE_D, flags, header, hostile_packets, status};
use crate::support::{Daemon, base_config, pebble_turn, require_pebble};

/// How long the flood lasts at least, and at most.
const FLOOD_MIN: Duration = Duration::from_secs(6);
const FLOOD_MAX: Duration = Duration::from_secs(120);
/// An upper bound on packets sent, whatever the machine's speed.
const FLOOD_PACKETS: u64 = 50_000_000;
/// The flood's pace, in packets per second: several times what a busy authoritative server for
/// a few challenge names sees, yet within what the debug build answers on two shared cores.
/// Beyond its capacity any server loses queries in the kernel's socket buffer at random, and
/// pebble's VA asks only once, so an unpaced flood would make this test a coin toss.
const FLOOD_RATE: u64 = 8_000;
/// How much the daemon's resident memory may grow while flooded.
const FLOOD_RSS_GROWTH_KIB: u64 = 64 * 1024;

/// What the flood's own sockets saw come back.
#[derive(Debug, Default)]
struct FloodReport {
    sent: u64,
    answers: u64,
    /// Replies without QR set or longer than 512 bytes (the flood never offers EDNS).
    bad_replies: u64,
}

/// A query for `name` (dotted, without the final dot) of type `qtype`, without EDNS.
fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut packet = header(1);
    packet[..2].copy_from_slice(&id.to_be_bytes());
    for label in name.split('.') {
        packet.push(u8::try_from(label.len()).unwrap());
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&[0, 1]);
    packet
}

/// The flood's mix: valid queries in and out of the zones, garbage, and oversize packets.
fn flood_packets() -> Vec<Vec<u8>> {
    let mut packets = vec![
        query(1, "_acme-challenge.d.example.test", 16),
        query(2, "x._acme-challenge.d.example.test", 16),
        query(3, "_acme-challenge.d.example.test", 6),
        query(4, "_ACME-challenge.B.example.test", 255),
        query(5, "example.org", 1),
        query(6, "_acme-challenge.d.example.test", 252),
        vec![0; 5000],
        (0..=255u8).cycle().take(4097).collect(),
        (0..=255u8).rev().cycle().take(1400).collect(),
    ];
    let mut response = query(7, "_acme-challenge.d.example.test", 16);
    response[2] |= 0x80;
    packets.push(response);
    packets.extend(hostile_packets());
    packets
}

/// Send `flood_packets` from four sockets to `target` at `FLOOD_RATE` until `stop` is set,
/// reading whatever comes back.
fn flood(target: SocketAddr, stop: &std::sync::atomic::AtomicBool) -> FloodReport {
    use std::sync::atomic::Ordering;
    let packets = flood_packets();
    let sockets: Vec<_> = (0..4)
        .map(|_| {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.set_nonblocking(true).unwrap();
            socket
        })
        .collect();
    let started = std::time::Instant::now();
    let mut report = FloodReport::default();
    let mut buffer = [0; 4096];
    while report.sent < FLOOD_PACKETS
        && started.elapsed() < FLOOD_MAX
        && (started.elapsed() < FLOOD_MIN || !stop.load(Ordering::Relaxed))
    {
        let due = started.elapsed().as_millis() as u64 * FLOOD_RATE / 1000;
        if report.sent > due {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        for (i, socket) in sockets.iter().enumerate() {
            let packet = &packets[(report.sent as usize + i) % packets.len()];
            report.sent += u64::from(socket.send_to(packet, target).is_ok());
            while let Ok(len) = socket.recv(&mut buffer) {
                report.answers += 1;
                report.bad_replies += u64::from(len > 512 || buffer[2] & 0x80 == 0);
            }
        }
    }
    report
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// dig's status line and flags for `qtype` at `name`, retried as a resolver would under loss.
fn dig_sync(qtype: &str, name: &str) -> String {
    let out = std::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", "5353", "+norec", "+time=1", "+tries=5"])
        .args([qtype, name])
        .output()
        .expect("dig runs (apt-get install dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn completes_a_dns01_order_and_answers_dig_while_flooded() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let pid = daemon.pid().expect("the daemon runs");
    let rss_before = rss_kib(pid);

    let stop = AtomicBool::new(false);
    let (report, rss_peak, order, seen) = std::thread::scope(|scope| {
        let flood = scope.spawn(|| flood("127.0.0.1:5353".parse().unwrap(), &stop));
        let watch = scope.spawn(|| {
            let mut peak = 0;
            let started = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < FLOOD_MAX {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(200));
            }
            peak
        });
        // Stops the flood and the watch also when an assertion below panics.
        let _stop = StopOnDrop(&stop);

        let order = daemon.json(&[
            "order",
            "create",
            "--account",
            "main",
            "-d",
            "d.example.test",
            "--challenge",
            "dns-01",
            "--dns",
            "builtin",
            "--finalize",
        ]);
        let id = order["id"].as_str().expect("an order id").to_owned();
        let seen = dig_sync("TXT", "_acme-challenge.d.example.test");
        let done = daemon.json(&["order", "wait", &id, "--until", "valid", "--timeout", "90"]);
        stop.store(true, Ordering::Relaxed);
        (flood.join().unwrap(), watch.join().unwrap(), done, seen)
    });

    eprintln!("flood: {report:?}; daemon RSS {rss_before} KiB before, {rss_peak} KiB at most");
    assert_eq!(order["status"], "valid", "{order}\n{}", daemon.log());
    assert!(
        flags(&seen).contains(&"aa".to_owned()),
        "no answer during the flood: {seen}"
    );
    assert!(matches!(status(&seen), "NOERROR" | "NXDOMAIN"), "{seen}");
    assert!(
        report.answers > 100,
        "the server stopped answering the flood: {report:?}"
    );
    assert_eq!(report.bad_replies, 0, "{report:?}");
    assert!(
        rss_peak < rss_before + FLOOD_RSS_GROWTH_KIB,
        "memory grew from {rss_before} KiB to {rss_peak} KiB under the flood"
    );

    let after = dig_sync("SOA", ZONE_D);
    assert_eq!(status(&after), "NOERROR", "{after}");
}
