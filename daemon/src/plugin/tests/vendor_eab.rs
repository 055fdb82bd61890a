//! The ZeroSSL vendor plugin's EAB fetch, through the host's HTTP import, against a one-shot
//! fake of ZeroSSL's API on loopback (API shape: <https://zerossl.com/documentation/acme/generate-eab-credentials>).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// Answers one request with HTTP 200 and `body`; hands back the request it got.
async fn fake_api(body: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let seen = read_request(&mut socket).await;
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(reply.as_bytes()).await.unwrap();
        seen
    });
    (port, task)
}

/// One request: the head, then as many body bytes as its content-length says.
async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
    let mut seen = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        let n = socket.read(&mut chunk).await.unwrap();
        seen.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            if n == 0 {
                return text;
            }
            continue;
        };
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_owned)
            })
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if body.len() >= length || n == 0 {
            return text;
        }
    }
}

/// A host with `file` loaded and provider instance `v` on it, pointed at the fake API.
fn vendor_host(file: &str, plugin: &str, port: u16) -> (tempfile::TempDir, PluginHost) {
    let bytes = std::fs::read(built(file)).unwrap();
    let dir = dir_with(file, &bytes);
    let config = serde_json::from_value(serde_json::json!({
        "name": "v",
        "plugin": plugin,
        "allowed_hosts": [format!("127.0.0.1:{port}")],
        "settings": { "api_url": format!("http://127.0.0.1:{port}") },
    }))
    .unwrap();
    let host = PluginHost::load(dir.path(), vec![config]).unwrap();
    (dir, host)
}

#[tokio::test]
async fn zerossl_credentials_for_an_email_are_posted_as_a_form_and_returned() {
    let (port, seen) =
        fake_api(r#"{"success":true,"eab_kid":"GD-VvWydSVFuss_GhBwYQQ","eab_hmac_key":"YWJjZA"}"#)
            .await;
    let (_dir, host) = vendor_host("vendor_zerossl.wasm", "vendor-zerossl", port);
    let eab = host
        .fetch_eab("v", "zerossl", "ops+tls@example.test", None)
        .await
        .unwrap();
    assert_eq!(
        (eab.kid.as_str(), eab.hmac_key.as_str()),
        ("GD-VvWydSVFuss_GhBwYQQ", "YWJjZA")
    );
    assert!(!format!("{eab:?}").contains("YWJjZA"));
    let request = seen.await.unwrap();
    assert!(
        request.starts_with("POST /acme/eab-credentials-email "),
        "{request}"
    );
    assert!(
        request.ends_with("email=ops%2Btls%40example.test"),
        "{request}"
    );
}

#[tokio::test]
async fn a_zerossl_refusal_inside_an_http_200_is_an_error_with_its_code() {
    let (port, _seen) = fake_api(
        r#"{"success":false,"error":{"code":2904,"type":"too_many_eab_credentials_created_today"}}"#,
    )
    .await;
    let (_dir, host) = vendor_host("vendor_zerossl.wasm", "vendor-zerossl", port);
    let err = host
        .fetch_eab("v", "zerossl", "ops@example.test", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2904") && err.contains("too_many_eab"),
        "{err}"
    );
    assert!(
        err.contains("fetch-eab") && err.contains("vendor-zerossl"),
        "{err}"
    );
}

#[tokio::test]
async fn a_zerossl_access_key_goes_in_the_query_and_never_into_errors() {
    let (port, seen) = fake_api("not json").await;
    let (_dir, host) = vendor_host("vendor_zerossl.wasm", "vendor-zerossl", port);
    let err = host
        .fetch_eab("v", "zerossl", "ops@example.test", Some("s3cr3t-key"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        !err.contains("s3cr3t-key") && err.contains("not the expected JSON"),
        "{err}"
    );
    let request = seen.await.unwrap();
    assert!(
        request.starts_with("POST /acme/eab-credentials?access_key=s3cr3t-key "),
        "{request}"
    );
}

#[tokio::test]
async fn an_api_error_quoting_the_url_encoded_access_key_comes_back_redacted() {
    let body = r#"{"success":false,"error":{"code":999,"type":"bad key /acme/eab-credentials?access_key=k3y%2Becho"}}"#;
    let (port, _seen) = fake_api(body).await;
    let (_dir, host) = vendor_host("vendor_zerossl.wasm", "vendor-zerossl", port);
    let err = host
        .fetch_eab("v", "zerossl", "ops@example.test", Some("k3y+echo"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        !err.contains("k3y%2Becho") && !err.contains("k3y+echo") && err.contains("error 999"),
        "{err}"
    );
}

#[tokio::test]
async fn a_vendor_without_an_eab_api_says_so_naming_the_profile() {
    let (_dir, host) = vendor_host("vendor_letsencrypt.wasm", "vendor-letsencrypt", 9);
    let err = host
        .fetch_eab("v", "letsencrypt", "ops@example.test", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("letsencrypt") && err.contains("no EAB credentials by API"),
        "{err}"
    );
}

#[tokio::test]
async fn a_profile_fetch_runs_on_the_configured_instance_of_the_plugin() {
    let (port, seen) =
        fake_api(r#"{"success":true,"eab_kid":"kid-9","eab_hmac_key":"YWJjZA"}"#).await;
    let (_dir, host) = vendor_host("vendor_zerossl.wasm", "vendor-zerossl", port);
    assert!(host.eab_fetching_profile("zerossl").is_some());
    let eab = host
        .fetch_profile_eab("zerossl", "ops@example.test", Some("k3y"))
        .await
        .unwrap();
    assert_eq!(eab.kid, "kid-9");
    let request = seen.await.unwrap();
    assert!(
        request.starts_with("POST /acme/eab-credentials?access_key=k3y "),
        "{request}"
    );
}

#[tokio::test]
async fn a_profile_whose_plugin_fetches_no_eab_is_refused_before_any_call() {
    let (_dir, host) = vendor_host("vendor_letsencrypt.wasm", "vendor-letsencrypt", 9);
    assert!(host.eab_fetching_profile("letsencrypt").is_none());
    let err = host
        .fetch_profile_eab("letsencrypt", "ops@example.test", None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PluginCallError::NoEabApi(ref p) if p == "letsencrypt"),
        "{err}"
    );
}

#[test]
fn without_a_configured_instance_the_fetch_may_reach_only_the_profiles_api_hosts() {
    let bytes = std::fs::read(built("vendor_zerossl.wasm")).unwrap();
    let dir = dir_with("vendor_zerossl.wasm", &bytes);
    let host = PluginHost::load(dir.path(), Vec::new()).unwrap();
    let profile = host.eab_fetching_profile("zerossl").unwrap();
    assert_eq!(profile.eab_api_hosts, ["api.zerossl.com"]);
    let instance = super::super::vendor_eab::implicit_instance(&profile).unwrap();
    assert_eq!(instance.config.allowed_hosts, ["api.zerossl.com"]);
    assert!(instance.config.settings.is_empty());
}
