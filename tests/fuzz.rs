//! Property-based fuzzing of everything that reads untrusted bytes: the config parser, CSR and
//! PEM import, the DNS server's packet handling, and the admin API's request parsing. Each
//! property is "never panics, always answers, keeps serving". CI runs a short budget
//! (`PROPTEST_CASES`, 256 by default); longer runs are `PROPTEST_CASES=100000 cargo test ...`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use certkeeper::challenge::Board;
use certkeeper::config::Config;
use certkeeper::dns::{DnsServerConfig, spawn};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GOOD_CONFIG: &str = include_str!("../config/certkeeper.toml");

fn cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A byte string with a few bytes of `base` replaced, inserted or cut.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len().max(1);
    prop::collection::vec((0..len, any::<u8>(), 0..3u8), 1..8).prop_map(move |edits| {
        let mut out = base.clone();
        for (at, byte, kind) in edits {
            let at = at.min(out.len().saturating_sub(1));
            match kind {
                0 if !out.is_empty() => out[at] = byte,
                1 => out.insert(at, byte),
                _ => out.truncate(at.max(1)),
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn the_config_parser_never_panics_on_mutated_configs(bytes in mutated(GOOD_CONFIG.as_bytes().to_vec())) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(error) = Config::parse(Path::new("fuzz.toml"), &text) {
            prop_assert!(error.to_string().starts_with("fuzz.toml:"), "{error}");
        }
    }

    #[test]
    fn the_config_parser_never_panics_on_arbitrary_text(text in ".{0,400}") {
        let _ = Config::parse(Path::new("fuzz.toml"), &text);
    }

    #[test]
    fn csr_import_never_panics_and_accepts_only_verified_csrs(bytes in mutated(sample_csr_der())) {
        if let Ok(record) = certkeeper::acme::csr::import(&bytes) {
            prop_assert!(!record.names.is_empty());
        }
    }

    #[test]
    fn pem_import_never_panics_on_armoured_garbage(body in "[A-Za-z0-9+/=\n]{0,300}") {
        let pem = format!("-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n");
        prop_assert!(certkeeper::acme::csr::import(pem.as_bytes()).is_err() || !body.is_empty());
    }
}

fn sample_csr_der() -> Vec<u8> {
    let names = vec![
        "fuzz.example.test".to_owned(),
        "*.fuzz.example.test".to_owned(),
    ];
    let record =
        certkeeper::acme::csr::generate(&names, certkeeper::acme::KeyType::EcdsaP256).unwrap();
    certkeeper::acme::csr::der_of(&record).unwrap()
}

/// A valid query for TXT `_acme-challenge.f.example.test`, the seed the packets mutate.
fn sample_query() -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["_acme-challenge", "f", "example", "test"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 16, 0, 1]);
    q
}

#[test]
fn the_dns_server_survives_mutated_packets_over_udp_and_tcp() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let board = Arc::new(Board::new());
        board.add_txt("_acme-challenge.f.example.test", "still-here");
        let config = DnsServerConfig {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            zones: vec!["_acme-challenge.f.example.test".into()],
            nameserver: "ns.fuzz.example.test.".into(),
            ..DnsServerConfig::default()
        };
        let server = spawn(&config, board).await.unwrap();
        let addr = server.local_addrs()[0];

        let mut runner = proptest::test_runner::TestRunner::new(cases());
        let packets = prop::collection::vec(mutated(sample_query()), 1..4);
        runner
            .run(&packets, |batch| {
                let handle = tokio::runtime::Handle::current();
                std::thread::scope(|s| {
                    s.spawn(|| handle.block_on(blast(addr, &batch)))
                        .join()
                        .unwrap();
                });
                Ok(())
            })
            .unwrap();

        let answer = udp_exchange(addr, &sample_query())
            .await
            .expect("the server stopped answering");
        assert!(
            answer.windows(10).any(|w| w == b"still-here"),
            "the TXT value is gone"
        );
        server.shutdown().await;
    });
}

async fn blast(addr: SocketAddr, packets: &[Vec<u8>]) {
    for packet in packets {
        let _ = udp_exchange(addr, packet).await;
        let Ok(mut tcp) = tokio::net::TcpStream::connect(addr).await else {
            continue;
        };
        let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(packet);
        let _ = tcp.write_all(&framed).await;
        let mut buf = [0u8; 512];
        let _ = tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut buf)).await;
    }
}

async fn udp_exchange(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
    socket.send_to(packet, addr).await.ok()?;
    let mut buf = vec![0u8; 4096];
    let wait = tokio::time::timeout(Duration::from_millis(200), socket.recv(&mut buf)).await;
    let n = wait.ok()?.ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Methods, paths and bodies the admin API must survive: routes with odd segments, escapes,
/// traversal attempts, and JSON that is almost right.
fn admin_requests() -> impl Strategy<Value = (String, String, Vec<u8>)> {
    let method = prop::sample::select(vec!["GET", "POST", "DELETE", "PUT", "PATCH", "BOGUS"]);
    let path = prop::collection::vec(
        prop::sample::select(vec![
            "v1",
            "orders",
            "accounts",
            "csrs",
            "import",
            "certificates",
            "challenges",
            "plugins",
            "finalize",
            "refresh",
            "certificate",
            "..",
            "%2e%2e",
            "%zz",
            "%",
            "x%00y",
            "",
            "*",
        ]),
        0..6,
    )
    .prop_map(|segs| format!("/{}", segs.join("/")));
    let body = prop_oneof![
        Just(b"{}".to_vec()),
        Just(br#"{"names":["a.example.test"],"key_type":"rsa-1"}"#.to_vec()),
        Just(br#"{"account":"main","names":[],"challenge":"dns-01"}"#.to_vec()),
        Just(br#"{"pem":"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----"}"#.to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
    ];
    (method.prop_map(str::to_owned), path, body)
}

#[test]
fn the_admin_api_answers_every_request_and_keeps_serving() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    runtime.block_on(async {
        let engine = in_process_engine(dir.path());
        let state = Arc::new(certkeeper::admin::AdminState {
            engine,
            plugins: Arc::new(
                certkeeper::plugin::PluginHost::load(dir.path(), Vec::new()).unwrap(),
            ),
            scheduler: None,
        });
        let task = certkeeper::admin::serve(&socket, state).unwrap();

        let mut runner = proptest::test_runner::TestRunner::new(cases());
        runner
            .run(&admin_requests(), |(method, path, body)| {
                let handle = tokio::runtime::Handle::current();
                let status = std::thread::scope(|s| {
                    s.spawn(|| handle.block_on(raw_request(&socket, &method, &path, &body)))
                        .join()
                        .unwrap()
                });
                prop_assert!(status.is_some(), "no answer to {method} {path}");
                prop_assert!(status != Some(500), "500 for {method} {path}");
                Ok(())
            })
            .unwrap();

        let status = raw_request(&socket, "GET", "/v1/status", b"").await;
        assert_eq!(status, Some(200));
        task.abort();
    });
}

fn in_process_engine(dir: &Path) -> Arc<certkeeper::acme::Engine> {
    let store = Arc::new(certkeeper::store::Store::open(&dir.join("s.redb")).unwrap());
    let plugins = Arc::new(certkeeper::plugin::PluginHost::load(dir, Vec::new()).unwrap());
    let config = certkeeper::dns::PropagationConfig {
        resolvers: vec!["127.0.0.1:9".parse().unwrap()],
        ..Default::default()
    };
    let propagation = Arc::new(certkeeper::dns::PropagationChecker::new(config).unwrap());
    Arc::new(certkeeper::acme::Engine::new(
        store,
        Arc::new(Board::new()),
        plugins,
        propagation,
        Vec::new(),
        Vec::new(),
    ))
}

/// Send one HTTP/1.1 request and return the status code of the answer, if any came.
async fn raw_request(socket: &Path, method: &str, path: &str, body: &[u8]) -> Option<u16> {
    let mut stream = tokio::net::UnixStream::connect(socket).await.ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body).await.ok()?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    let line = String::from_utf8_lossy(&out);
    line.get(9..12)?.parse().ok()
}

/// Regression: the API answered an unrouted request before reading its body, closed the
/// connection on the unread bytes, and the client got a reset instead of its 404.
#[test]
fn an_unrouted_request_with_a_body_still_gets_its_404() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    runtime.block_on(async {
        let state = Arc::new(certkeeper::admin::AdminState {
            engine: in_process_engine(dir.path()),
            plugins: Arc::new(
                certkeeper::plugin::PluginHost::load(dir.path(), Vec::new()).unwrap(),
            ),
            scheduler: None,
        });
        let task = certkeeper::admin::serve(&socket, state).unwrap();
        let status = raw_request(
            &socket,
            "BOGUS",
            "/accounts",
            br#"{"names":["a.example.test"]}"#,
        )
        .await;
        assert_eq!(status, Some(404));
        task.abort();
    });
}
