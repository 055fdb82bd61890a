//! The PowerDNS plugin against a real PowerDNS: its HTTP API for writes, `dig` for what is served.
//!
//! `scripts/peers.sh start` brings PowerDNS up as PEERS.md §3 describes, with zone
//! `example.test.`. Override the addresses with `CERTKEEPER_TEST_PDNS_API`,
//! `CERTKEEPER_TEST_PDNS_KEY` and `CERTKEEPER_TEST_PDNS_DNS`; the plugin directory with
//! `CERTKEEPER_PLUGIN_DIR`.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use certkeeper::plugin::{PluginHost, ProviderConfig, ProviderError};

use crate::support::built_plugins;

const ZONE: &str = "example.test.";

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

fn api_url() -> String {
    env_or("CERTKEEPER_TEST_PDNS_API", "http://127.0.0.1:8081")
}

fn api_key() -> String {
    env_or("CERTKEEPER_TEST_PDNS_KEY", "test-api-key")
}

/// `host:port` of the URL, as `allowed_hosts` wants it.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// A directory holding `powerdns.wasm` alone (one compile per host, not one per built plugin),
/// or a failure that says how to build it.
fn plugin_dir() -> PathBuf {
    let wasm = built_plugins().join("powerdns.wasm");
    assert!(
        wasm.is_file(),
        "{} is missing: run scripts/build-plugins.sh first",
        wasm.display()
    );
    crate::support::plugin_dir()
}

fn provider(server_url: &str, api_key: &str, allowed_hosts: &[String]) -> ProviderConfig {
    serde_json::from_value(serde_json::json!({
        "name": "pdns-test",
        "plugin": "powerdns",
        "allowed_hosts": allowed_hosts,
        "settings": { "server_url": server_url, "api_key": api_key, "server_id": "localhost" },
    }))
    .expect("provider config")
}

fn host_for(config: ProviderConfig) -> PluginHost {
    PluginHost::load(&plugin_dir(), vec![config]).expect("load the built plugins")
}

/// A challenge name no other test run uses.
fn unique_name(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!(
        "_acme-challenge.{tag}-{}-{nanos}.{ZONE}",
        std::process::id()
    )
}

/// The TXT values PowerDNS serves at `name`, asked with `dig`, sorted.
fn dig_txt(name: &str) -> Vec<String> {
    let server = env_or("CERTKEEPER_TEST_PDNS_DNS", "127.0.0.1:5300");
    let (ip, port) = server
        .rsplit_once(':')
        .expect("CERTKEEPER_TEST_PDNS_DNS is ip:port");
    let output = Command::new("dig")
        .args([
            &format!("@{ip}"),
            "-p",
            port,
            "TXT",
            name,
            "+short",
            "+norec",
            "+tries=1",
        ])
        .output()
        .expect("run dig (package dnsutils)");
    assert!(
        output.status.success(),
        "dig failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut values: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.trim().trim_matches('"').to_owned())
        .filter(|line| !line.is_empty())
        .collect();
    values.sort();
    values
}

#[tokio::test(flavor = "multi_thread")]
async fn powerdns_plugin_keeps_other_values_when_presenting_and_cleaning_up() {
    let host = host_for(provider(&api_url(), &api_key(), &[authority(&api_url())]));
    let name = unique_name("two-values");
    host.test_connection("pdns-test")
        .await
        .expect("test-connection with the right key");
    assert_eq!(
        host.find_zone("pdns-test", &name).await.expect("find-zone"),
        ZONE
    );

    // At once, as an order for a wildcard and its apex does it.
    let (wildcard, apex) = tokio::join!(
        host.present("pdns-test", &name, "wildcard-value", 60),
        host.present("pdns-test", &name, "apex-value", 60),
    );
    wildcard.expect("present the wildcard's value");
    apex.expect("present the apex's value");
    host.present("pdns-test", &name, "apex-value", 60)
        .await
        .expect("present is idempotent");
    assert_eq!(dig_txt(&name), ["apex-value", "wildcard-value"]);

    host.cleanup("pdns-test", &name, "wildcard-value")
        .await
        .expect("clean up one value");
    assert_eq!(
        dig_txt(&name),
        ["apex-value"],
        "the other value must still be served"
    );

    host.cleanup("pdns-test", &name, "wildcard-value")
        .await
        .expect("cleaning up twice is Ok");
    host.cleanup("pdns-test", &name, "apex-value")
        .await
        .expect("clean up the last value");
    assert!(
        dig_txt(&name).is_empty(),
        "no TXT value may be left at {name}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn powerdns_plugin_reports_a_wrong_api_key_as_auth_failed() {
    let host = host_for(provider(&api_url(), "wrong-key", &[authority(&api_url())]));

    let error = host
        .present("pdns-test", &unique_name("bad-key"), "v", 60)
        .await
        .unwrap_err();

    assert!(
        matches!(error.provider_error(), Some(ProviderError::AuthFailed(_))),
        "expected auth-failed, got {error}"
    );
    assert!(
        !error.to_string().contains("wrong-key"),
        "the key leaked into: {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn powerdns_plugin_cannot_reach_a_server_outside_allowed_hosts() {
    // A server that would accept the request, were it sent.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local listener");
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let decoy = format!("http://{}", listener.local_addr().expect("local addr"));
    let host = host_for(provider(&decoy, &api_key(), &[authority(&api_url())]));

    let error = host
        .present("pdns-test", &unique_name("decoy"), "v", 60)
        .await
        .unwrap_err();

    let Some(ProviderError::BadConfig(message)) = error.provider_error() else {
        panic!("expected the not-allowed bad-config error, got {error}");
    };
    assert!(message.contains("not allowed"), "{message}");
    assert!(message.contains(&authority(&decoy)), "{message}");
    let accepted = listener.accept().map(drop).map_err(|error| error.kind());
    assert_eq!(
        accepted,
        Err(ErrorKind::WouldBlock),
        "the refused server was contacted"
    );
}
