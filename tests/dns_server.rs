//! The built-in DNS server seen through real DNS clients, and the propagation checker against
//! a real PowerDNS. The flood test is in `dns_flood.rs`.
//!
//! `dig` runs as a subprocess and always gets an explicit `@server`, so it never falls back to
//! the system resolver. PowerDNS comes from `scripts/peers.sh start` (DNS 127.0.0.1:5300, API
//! http://127.0.0.1:8081); `CERTKEEPER_TEST_PDNS_DNS`, `CERTKEEPER_TEST_PDNS_API` and
//! `CERTKEEPER_TEST_PDNS_KEY` point the tests elsewhere.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use certkeeper::challenge::Board;
use certkeeper::dns::{self, DnsServer, DnsServerConfig, PropagationChecker, PropagationConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;
use tokio::process::Command;

const ZONE: &str = "_acme-challenge.b.example.test.";
/// The other zone `support::base_config` delegates to the daemon.
pub(crate) const ZONE_D: &str = "_acme-challenge.d.example.test.";

async fn start(board: &Arc<Board>) -> DnsServer {
    let config = DnsServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        zones: vec![ZONE.into()],
        nameserver: "ns.certkeeper.test.".into(),
        ..DnsServerConfig::default()
    };
    dns::spawn(&config, board.clone())
        .await
        .expect("the DNS server starts on a free port")
}

/// Run `dig @server <args>` with one short try and return its output.
async fn dig(server: SocketAddr, args: &[&str]) -> String {
    let output = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .await
        .expect("dig runs (apt-get install dnsutils)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The header flags dig printed, e.g. `["qr", "aa"]`.
pub(crate) fn flags(output: &str) -> Vec<String> {
    let line = output
        .lines()
        .find(|l| l.starts_with(";; flags:"))
        .expect("dig printed flags");
    let flags = line
        .trim_start_matches(";; flags:")
        .split(';')
        .next()
        .unwrap_or_default();
    flags.split_whitespace().map(str::to_owned).collect()
}

pub(crate) fn status(output: &str) -> &str {
    let start = output.find("status: ").expect("dig printed a status") + "status: ".len();
    output[start..].split(',').next().unwrap_or_default()
}

/// The records of one section, without comments.
fn section<'a>(output: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!(";; {name} SECTION:");
    let lines = output.lines().skip_while(|l| *l != header).skip(1);
    lines.take_while(|l| !l.is_empty()).collect()
}

#[tokio::test]
async fn answers_both_txt_values_at_one_name() {
    let board = Arc::new(Board::new());
    board.add_txt(ZONE, "apex-token");
    board.add_txt(ZONE, "wildcard-token");
    let server = start(&board).await;

    let out = dig(server.local_addrs()[0], &["TXT", ZONE]).await;
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(flags(&out).contains(&"aa".to_owned()), "{out}");
    let answers = section(&out, "ANSWER");
    assert_eq!(answers.len(), 2, "{out}");
    assert!(
        out.contains("\"apex-token\"") && out.contains("\"wildcard-token\""),
        "{out}"
    );
}

#[tokio::test]
async fn answers_soa_and_ns_at_the_zone_apex() {
    let server = start(&Arc::new(Board::new())).await;
    let addr = server.local_addrs()[0];

    let soa = dig(addr, &["SOA", ZONE]).await;
    let soa_answer = section(&soa, "ANSWER");
    let rdata = format!("SOA\tns.certkeeper.test. hostmaster.{ZONE} ");
    assert!(soa_answer[0].contains(&rdata), "{soa}");
    // The SOA minimum is the negative-caching TTL: kept at the configured 60 s.
    assert!(soa_answer[0].ends_with(" 60"), "{soa}");

    let ns = dig(addr, &["NS", ZONE]).await;
    assert!(
        section(&ns, "ANSWER")[0].ends_with("NS\tns.certkeeper.test."),
        "{ns}"
    );
    assert!(flags(&ns).contains(&"aa".to_owned()), "{ns}");
}

#[tokio::test]
async fn answers_nodata_with_soa_for_an_existing_name_without_that_type() {
    let board = Arc::new(Board::new());
    board.add_txt(ZONE, "v");
    let server = start(&board).await;

    let out = dig(server.local_addrs()[0], &["A", ZONE]).await;
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(section(&out, "ANSWER").is_empty(), "{out}");
    assert!(section(&out, "AUTHORITY")[0].contains("SOA"), "{out}");
}

#[tokio::test]
async fn answers_nxdomain_with_soa_for_a_missing_name() {
    let server = start(&Arc::new(Board::new())).await;
    let name = format!("missing.{ZONE}");

    let out = dig(server.local_addrs()[0], &["TXT", &name]).await;
    assert_eq!(status(&out), "NXDOMAIN", "{out}");
    assert!(flags(&out).contains(&"aa".to_owned()), "{out}");
    assert!(section(&out, "AUTHORITY")[0].contains("SOA"), "{out}");
}

#[tokio::test]
async fn refuses_a_name_outside_its_zones() {
    let server = start(&Arc::new(Board::new())).await;
    let out = dig(
        server.local_addrs()[0],
        &["TXT", "_acme-challenge.other.test."],
    )
    .await;
    assert_eq!(status(&out), "REFUSED", "{out}");
    assert!(section(&out, "ANSWER").is_empty(), "{out}");
}

#[tokio::test]
async fn answers_over_tcp() {
    let board = Arc::new(Board::new());
    board.add_txt(ZONE, "over-tcp");
    let server = start(&board).await;

    let out = dig(server.local_addrs()[0], &["+tcp", "TXT", ZONE]).await;
    assert!(out.contains("\"over-tcp\""), "{out}");
    assert!(out.contains("(TCP)"), "{out}");
}

#[tokio::test]
async fn never_offers_recursion_even_when_asked_for_it() {
    let server = start(&Arc::new(Board::new())).await;
    let out = dig(server.local_addrs()[0], &["+rec", "SOA", ZONE]).await;
    let flags = flags(&out);
    assert!(flags.contains(&"rd".to_owned()), "{out}");
    assert!(!flags.contains(&"ra".to_owned()), "{out}");
}

#[tokio::test]
async fn echoes_the_query_names_case_in_the_answer() {
    let board = Arc::new(Board::new());
    board.add_txt(ZONE, "v");
    let server = start(&board).await;

    let asked = "_ACME-Challenge.B.Example.TEST.";
    let out = dig(server.local_addrs()[0], &["TXT", asked]).await;
    assert!(section(&out, "ANSWER")[0].starts_with(asked), "{out}");
}

#[tokio::test]
async fn answers_any_like_txt() {
    let board = Arc::new(Board::new());
    board.add_txt(ZONE, "any-token");
    let server = start(&board).await;

    let out = dig(server.local_addrs()[0], &["ANY", ZONE]).await;
    let answers = section(&out, "ANSWER");
    assert_eq!(answers.len(), 1, "{out}");
    assert!(answers[0].contains("\"any-token\""), "{out}");
}

#[tokio::test]
async fn answers_notimp_to_other_opcodes() {
    let server = start(&Arc::new(Board::new())).await;
    let out = dig(server.local_addrs()[0], &["+opcode=notify", "SOA", ZONE]).await;
    assert_eq!(status(&out), "NOTIMP", "{out}");
}

/// A query header: id 0x1234, opcode QUERY, the given section counts.
pub(crate) fn header(qdcount: u16) -> Vec<u8> {
    let mut packet = vec![0x12, 0x34, 0x01, 0x00];
    packet.extend_from_slice(&qdcount.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    packet
}

pub(crate) fn hostile_packets() -> Vec<Vec<u8>> {
    let mut many_labels = header(1);
    for _ in 0..200 {
        many_labels.extend_from_slice(&[1, b'a']);
    }
    many_labels.extend_from_slice(&[0, 0, 16, 0, 1]);

    let mut pointer_loop = header(1);
    pointer_loop.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1]);

    let mut overlong_label = header(1);
    overlong_label.extend_from_slice(&[63, b'x', b'y']);

    vec![
        Vec::new(),
        vec![0xff; 5],
        (0..=255u8).cycle().take(1500).collect(),
        many_labels,
        pointer_loop,
        overlong_label,
        header(u16::MAX),
    ]
}

#[tokio::test]
async fn survives_hostile_packets_and_keeps_answering() {
    let board = Arc::new(Board::new());
    board.add_txt(ZONE, "still-here");
    let server = start(&board).await;
    let addr = server.local_addrs()[0];

    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for packet in hostile_packets() {
        socket.send_to(&packet, addr).await.unwrap();
    }
    // Whatever comes back is a DNS response (QR set), never an echo of the garbage; the
    // packets with a readable header but a broken question get FORMERR.
    let mut buffer = [0; 2048];
    let mut formerr = 0;
    while let Ok(Ok((len, _))) =
        tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buffer)).await
    {
        assert!(
            len >= 12 && buffer[2] & 0x80 != 0,
            "not a response: {:?}",
            &buffer[..len]
        );
        formerr += usize::from(buffer[3] & 0x0f == 1);
    }
    assert!(formerr >= 3, "only {formerr} FORMERR answers");

    for framed in [
        &[0xff, 0xff, 1, 2, 3][..],
        &[0, 2, 0xde, 0xad],
        &[0, 12, 0, 0],
    ] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(framed).await.unwrap();
        drop(stream);
    }

    let out = dig(addr, &["TXT", ZONE]).await;
    assert!(out.contains("\"still-here\""), "{out}");
    let out = dig(addr, &["+tcp", "TXT", ZONE]).await;
    assert!(out.contains("\"still-here\""), "{out}");
}

#[tokio::test]
async fn truncates_a_large_udp_answer_within_the_asked_size() {
    let board = Arc::new(Board::new());
    for n in 0..20 {
        board.add_txt(ZONE, &format!("{n:02}{}", "v".repeat(200)));
    }
    let server = start(&board).await;
    let addr = server.local_addrs()[0];

    for (args, limit) in [
        (&["+bufsize=4096"][..], 1232),
        (&["+bufsize=800"], 800),
        (&["+noedns"], 512),
    ] {
        let mut all = vec!["+ignore", "TXT", ZONE];
        all.extend_from_slice(args);
        let out = dig(addr, &all).await;
        assert!(flags(&out).contains(&"tc".to_owned()), "{args:?}: {out}");
        // Regression: hickory's encoder left bytes of the record that did not fit after the end.
        assert!(!out.contains("extra bytes"), "{args:?}: {out}");
        let size: usize = out
            .lines()
            .find_map(|l| l.strip_prefix(";; MSG SIZE  rcvd: "))
            .and_then(|s| s.trim().parse().ok())
            .expect("dig printed the message size");
        assert!(size <= limit, "{args:?}: {size} bytes > {limit}");
    }

    let tcp = dig(addr, &["+tcp", "TXT", ZONE]).await;
    assert_eq!(section(&tcp, "ANSWER").len(), 20, "{tcp}");
}

// --- propagation checker against PowerDNS -------------------------------------------------

struct Pdns {
    dns: SocketAddr,
    api: String,
    key: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The PowerDNS from `scripts/peers.sh start`, or a failure saying to start it.
async fn pdns() -> Pdns {
    let pdns = Pdns {
        dns: env_or("CERTKEEPER_TEST_PDNS_DNS", "127.0.0.1:5300")
            .parse()
            .expect("a socket address"),
        api: env_or("CERTKEEPER_TEST_PDNS_API", "http://127.0.0.1:8081"),
        key: env_or("CERTKEEPER_TEST_PDNS_KEY", "test-api-key"),
    };
    let url = format!("{}/api/v1/servers/localhost/zones/example.test.", pdns.api);
    let ok = curl(&pdns.key, &["-f", "-o", "/dev/null", &url]).await;
    assert!(
        ok,
        "PowerDNS API {} (zone example.test.) not reachable: run `scripts/peers.sh start`",
        pdns.api
    );
    pdns
}

async fn curl(key: &str, args: &[&str]) -> bool {
    let status = Command::new("curl")
        .args([
            "-sS",
            "--noproxy",
            "*",
            "--max-time",
            "5",
            "-H",
            &format!("X-API-Key: {key}"),
        ])
        .args(args)
        .status()
        .await
        .expect("curl runs");
    status.success()
}

/// A PowerDNS PATCH body replacing the `rtype` set at `name` with `contents`, or deleting it.
fn patch_body(name: &str, rtype: &str, contents: &[String]) -> String {
    let records: Vec<_> = contents
        .iter()
        .map(|content| serde_json::json!({ "content": content, "disabled": false }))
        .collect();
    let change = if contents.is_empty() {
        "DELETE"
    } else {
        "REPLACE"
    };
    let rrset = serde_json::json!({
        "name": name, "type": rtype, "ttl": 60, "changetype": change, "records": records,
    });
    serde_json::json!({ "rrsets": [rrset] }).to_string()
}

/// An rrset at a unique name, set through the PowerDNS API and deleted when dropped.
struct PdnsRecord<'a> {
    pdns: &'a Pdns,
    name: String,
    rtype: &'static str,
}

impl<'a> PdnsRecord<'a> {
    fn new(pdns: &'a Pdns, prefix: &str, rtype: &'static str) -> Self {
        Self {
            pdns,
            name: unique_name(prefix),
            rtype,
        }
    }

    /// Replace the TXT values; PowerDNS wants each quoted inside the JSON string.
    async fn set_txt(&self, values: &[&str]) {
        let contents: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
        self.set(&contents).await;
    }

    async fn set(&self, contents: &[String]) {
        let body = patch_body(&self.name, self.rtype, contents);
        assert!(patch_zone(self.pdns, &body), "PowerDNS refused {body}");
    }
}

impl Drop for PdnsRecord<'_> {
    fn drop(&mut self) {
        patch_zone(self.pdns, &patch_body(&self.name, self.rtype, &[]));
    }
}

/// PATCH zone `example.test.` and say whether PowerDNS took it.
///
/// N.B. PowerDNS on sqlite answers 500 "database is locked" to concurrent writers, so writes
/// from this file are serialised and every write is retried (other tests may write too).
/// Blocking, so it can run in `Drop`.
fn patch_zone(pdns: &Pdns, body: &str) -> bool {
    static WRITES: Mutex<()> = Mutex::new(());
    let _serialised = WRITES.lock().unwrap_or_else(PoisonError::into_inner);
    let url = format!("{}/api/v1/servers/localhost/zones/example.test.", pdns.api);
    let key = format!("X-API-Key: {}", pdns.key);
    for attempt in 1..=5 {
        let status = std::process::Command::new("curl")
            .args([
                "-sS",
                "-f",
                "--noproxy",
                "*",
                "--max-time",
                "5",
                "-X",
                "PATCH",
            ])
            .args([
                "-H",
                &key,
                "-H",
                "Content-Type: application/json",
                "-d",
                body,
                &url,
            ])
            .status();
        if status.is_ok_and(|status| status.success()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200 * attempt));
    }
    false
}

fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "_acme-challenge.{prefix}-{}-{nanos}.example.test.",
        std::process::id()
    )
}

fn checker(pdns: &Pdns, timeout_secs: u64) -> PropagationChecker {
    PropagationChecker::new(PropagationConfig {
        resolvers: vec![pdns.dns],
        nameserver_port: pdns.dns.port(),
        timeout_secs,
        interval_secs: 1,
        query_timeout_ms: 2000,
    })
    .expect("explicit resolvers need no resolv.conf")
}

#[tokio::test]
async fn finds_the_zone_and_its_server_through_powerdns() {
    let pdns = pdns().await;
    let found = checker(&pdns, 5)
        .authoritative_servers("_acme-challenge.c.example.test.")
        .await
        .unwrap();
    assert_eq!(found.zone, "example.test.");
    assert_eq!(found.name, "_acme-challenge.c.example.test.");
    let expected: SocketAddr = format!("127.0.0.1:{}", pdns.dns.port()).parse().unwrap();
    assert_eq!(found.servers, vec![expected]);
}

#[tokio::test]
async fn sees_a_txt_value_only_after_powerdns_serves_it() {
    let pdns = pdns().await;
    let record = PdnsRecord::new(&pdns, "seen", "TXT");
    let checker = checker(&pdns, 5);

    let before = checker.check(&record.name, "token-1").await.unwrap();
    assert!(
        before.iter().all(|a| !a.seen && a.error.is_none()),
        "{before:?}"
    );

    record.set_txt(&["token-0", "token-1"]).await;
    let after = checker.check(&record.name, "token-1").await.unwrap();
    assert!(
        !after.is_empty() && after.iter().all(|a| a.seen),
        "{after:?}"
    );
    checker
        .wait_until_visible(&record.name, "token-0")
        .await
        .unwrap();
}

#[tokio::test]
async fn gives_up_naming_the_value_and_the_servers_that_lack_it() {
    let pdns = pdns().await;
    let record = PdnsRecord::new(&pdns, "never", "TXT");
    record.set_txt(&["some-other-value"]).await;

    let started = std::time::Instant::now();
    let error = checker(&pdns, 1)
        .wait_until_visible(&record.name, "never-created")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(error.contains("never-created"), "{error}");
    assert!(error.contains(&record.name), "{error}");
    assert!(
        error.contains(&format!("127.0.0.1:{}", pdns.dns.port())),
        "{error}"
    );
}

#[tokio::test]
async fn follows_a_cname_on_the_challenge_name_to_where_the_record_lives() {
    let pdns = pdns().await;
    let target = PdnsRecord::new(&pdns, "target", "TXT");
    target.set_txt(&["delegated-token"]).await;
    let alias = PdnsRecord::new(&pdns, "alias", "CNAME");
    alias.set(std::slice::from_ref(&target.name)).await;

    let checker = checker(&pdns, 5);
    let found = checker.authoritative_servers(&alias.name).await.unwrap();
    assert_eq!(found.name, target.name);
    assert_eq!(found.zone, "example.test.");
    let answers = checker.check(&alias.name, "delegated-token").await.unwrap();
    assert!(answers.iter().all(|a| a.seen), "{answers:?}");
}
