//! The Cloudflare, Route53, Akamai and acme-dns plugins against local fake APIs.
//!
//! None of these services can be reached from a test, so `tests/fakes/fake_dns_api.py` stands in
//! for each on 127.0.0.1 at a random port. The fakes check what the real service checks: the
//! bearer token, the SigV4 or EdgeGrid signature (recomputed from the shared secret in Python,
//! independently of the SDK's signers, which are checked against the providers' published
//! vectors in the SDK's unit tests) and the shape of each request body. `GET /_fake/txt` shows
//! what the fake would serve at a name.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use certkeeper::plugin::{PluginHost, ProviderConfig, ProviderError};
use serde_json::{Value, json};

use crate::support::{built_plugins, curl, workspace_root};

const NAME: &str = "_acme-challenge.www.example.test.";

/// A fake API process, killed when dropped.
pub(crate) struct FakeApi {
    child: Child,
    port: u16,
}

impl FakeApi {
    /// Starts the fake `kind` with `secrets` (see the script's usage) and waits for its port.
    pub(crate) fn start(kind: &str, secrets: &[&str]) -> Self {
        let script = workspace_root().join("tests/fakes/fake_dns_api.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(kind)
            .args(secrets)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3 (package python3)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the fake's port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("{} did not print its port: {line:?}", script.display())
        });
        Self { child, port }
    }

    pub(crate) fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.authority())
    }

    /// The TXT values the fake serves at `name`, sorted.
    pub(crate) fn served(&self, name: &str) -> Vec<String> {
        let url = format!("{}/_fake/txt?name={name}", self.url());
        let output = curl(&["-fsS", &url]);
        assert!(output.status.success(), "fake at {url} did not answer");
        serde_json::from_slice(&output.stdout).expect("a JSON list of values")
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A host with only the built plugin `wasm` (one compile, not one per plugin) and two provider
/// instances of `plugin`: `test` with the `right` settings and `wrong` with a wrong credential.
fn host(wasm: &str, plugin: &str, fake: &FakeApi, right: Value, wrong: Value) -> PluginHost {
    let built = built_plugins().join(wasm);
    assert!(
        built.is_file(),
        "{} is missing: run scripts/build-plugins.sh first",
        built.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(&built, dir.path().join(wasm)).expect("copy the component");

    let provider = |name: &str, settings: Value| -> ProviderConfig {
        serde_json::from_value(json!({
            "name": name, "plugin": plugin, "allowed_hosts": [fake.authority()],
            "settings": settings,
        }))
        .expect("provider config")
    };
    let providers = vec![provider("test", right), provider("wrong", wrong)];
    PluginHost::load(dir.path(), providers).expect("load the built plugin")
}

/// Presents two values at one name, checks both are served, cleans one up and checks the other
/// stays, then cleans up the second: what an order for a wildcard and its apex does.
async fn two_values_on_one_name(host: &PluginHost, fake: &FakeApi) {
    host.test_connection("test").await.expect("test-connection");
    let zone = host.find_zone("test", NAME).await.expect("find-zone");
    assert_eq!(zone, "example.test.");
    let outside = host
        .find_zone("test", "_acme-challenge.www.example.invalid.")
        .await;
    let outside = outside.expect_err("no zone of the account holds example.invalid");
    assert!(
        matches!(
            outside.provider_error(),
            Some(ProviderError::ZoneNotFound(_))
        ),
        "expected zone-not-found, got {outside}"
    );

    host.present("test", NAME, "wildcard-value", 60)
        .await
        .expect("present the first value");
    host.present("test", NAME, "apex-value", 60)
        .await
        .expect("present the second value");
    host.present("test", NAME, "apex-value", 60)
        .await
        .expect("presenting again is Ok");
    assert_eq!(fake.served(NAME), ["apex-value", "wildcard-value"]);

    host.cleanup("test", NAME, "wildcard-value")
        .await
        .expect("clean up the first value");
    assert_eq!(
        fake.served(NAME),
        ["apex-value"],
        "the other value must stay"
    );
    host.cleanup("test", NAME, "wildcard-value")
        .await
        .expect("cleaning up twice is Ok");
    host.cleanup("test", NAME, "apex-value")
        .await
        .expect("clean up the last value");
    assert!(fake.served(NAME).is_empty(), "a value was left behind");
}

/// `present` through the `wrong` instance fails as `auth-failed`, and the credential is not in the
/// error.
async fn refused_as_auth_failed(host: &PluginHost, wrong: &str) {
    let error = host
        .present("wrong", NAME, "some-value", 60)
        .await
        .unwrap_err();
    assert!(
        matches!(error.provider_error(), Some(ProviderError::AuthFailed(_))),
        "expected auth-failed, got {error}"
    );
    assert!(
        !error.to_string().contains(wrong),
        "the credential leaked: {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudflare_plugin_keeps_one_record_per_value() {
    let fake = FakeApi::start("cloudflare", &["cf-token-right"]);
    let settings = |token: &str| json!({ "api_token": token, "api_base": fake.url() });
    let (right, wrong) = (settings("cf-token-right"), settings("cf-token-wrong"));
    let host = host("cloudflare.wasm", "cloudflare", &fake, right, wrong);

    two_values_on_one_name(&host, &fake).await;
    refused_as_auth_failed(&host, "cf-token-wrong").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn route53_plugin_signs_changes_and_waits_until_insync() {
    let fake = FakeApi::start("route53", &["AKIDTEST", "route53-secret-right"]);
    let settings = |secret: &str| {
        json!({
            "access_key_id": "AKIDTEST", "secret_access_key": secret,
            "endpoint": fake.url(), "poll_interval_ms": "20",
        })
    };
    let (right, wrong) = (
        settings("route53-secret-right"),
        settings("route53-secret-wrong"),
    );
    let host = host("route53.wasm", "route53", &fake, right, wrong);

    two_values_on_one_name(&host, &fake).await;
    let unrelated = fake.served("zz-unrelated.example.test.");
    assert_eq!(unrelated, ["keep-me"], "another name's set must not change");
    refused_as_auth_failed(&host, "route53-secret-wrong").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn akamai_plugin_merges_rdata_under_edgegrid() {
    let (client, access) = ("akab-client-test", "akab-access-test");
    let fake = FakeApi::start("akamai", &[client, "edgegrid-secret-right", access]);
    let settings = |secret: &str| {
        json!({
            "host": fake.url(), "client_token": client, "client_secret": secret,
            "access_token": access,
        })
    };
    let (right, wrong) = (
        settings("edgegrid-secret-right"),
        settings("edgegrid-secret-wrong"),
    );
    let host = host("akamai.wasm", "akamai", &fake, right, wrong);

    two_values_on_one_name(&host, &fake).await;
    refused_as_auth_failed(&host, "edgegrid-secret-wrong").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acme_dns_plugin_updates_and_the_server_keeps_the_two_newest_values() {
    let fake = FakeApi::start("acme-dns", &["user-1", "acme-dns-password", "sub-1"]);
    let settings = |password: &str| {
        json!({
            "server_url": fake.url(), "username": "user-1", "password": password,
            "subdomain": "sub-1",
        })
    };
    let (right, wrong) = (settings("acme-dns-password"), settings("acme-dns-wrong"));
    let host = host("acme_dns.wasm", "acme-dns", &fake, right, wrong);
    // acme-dns accepts only 43-character values: base64url SHA-256 digests, as DNS-01 has them.
    let (first, second, third) = ("a".repeat(43), "b".repeat(43), "c".repeat(43));

    host.test_connection("test").await.expect("test-connection");
    for value in [&first, &second] {
        let presented = host.present("test", NAME, value, 60).await;
        presented.expect("present");
    }
    assert_eq!(fake.served(NAME), [first.clone(), second.clone()]);

    let cleaned = host.cleanup("test", NAME, &first).await;
    cleaned.expect("cleanup changes nothing");
    let served = fake.served(NAME);
    assert!(served.contains(&second), "the other value must stay");
    host.present("test", NAME, &third, 60)
        .await
        .expect("present a third");
    assert_eq!(
        fake.served(NAME),
        [second, third],
        "only the two newest are kept"
    );

    refused_as_auth_failed(&host, "acme-dns-wrong").await;
}
