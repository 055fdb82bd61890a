//! ZeroSSL's REST API for External Account Binding credentials: it hands out a key id and an
//! HMAC key for an email address (`POST /acme/eab-credentials-email`, form field `email`) or for
//! an API access key (`POST /acme/eab-credentials?access_key=...`).
//! Source: <https://zerossl.com/documentation/acme/generate-eab-credentials>.
//!
//! N.B. the API can answer HTTP 200 with `"success": false` and an error object, so the body's
//! `success` field decides, not the status line.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use super::eab::EabCredentials;

/// ZeroSSL's API host.
pub const ZEROSSL_API: &str = "https://api.zerossl.com";

/// Why no EAB credentials came back from ZeroSSL.
#[derive(Debug, thiserror::Error)]
pub enum ZeroSslError {
    /// The API could not be reached or answered something unreadable.
    #[error("ZeroSSL API {url}: {message}")]
    Transport {
        /// The URL asked.
        url: String,
        /// Why.
        message: String,
    },
    /// The API said no (`success` false), with its error code and type.
    #[error("ZeroSSL API {url} refused: error {code} ({kind})")]
    Refused {
        /// The URL asked.
        url: String,
        /// ZeroSSL's error code, e.g. 2904.
        code: i64,
        /// ZeroSSL's error type, e.g. `too_many_eab_credentials_created_today`.
        kind: String,
    },
}

/// Who the credentials are for.
#[derive(Debug, Clone)]
pub enum ZeroSslIdentity<'a> {
    /// An email address; ZeroSSL ties the credentials to it.
    Email(&'a str),
    /// A ZeroSSL API access key. Secret.
    AccessKey(&'a str),
}

/// Ask ZeroSSL's API at `base` for EAB credentials.
pub async fn fetch_eab(
    base: &str,
    identity: ZeroSslIdentity<'_>,
) -> Result<EabCredentials, ZeroSslError> {
    let (url, shown, form) = match identity {
        ZeroSslIdentity::Email(email) => {
            let url = format!("{base}/acme/eab-credentials-email");
            (url.clone(), url, format!("email={}", form_encode(email)))
        }
        ZeroSslIdentity::AccessKey(key) => {
            let url = format!(
                "{base}/acme/eab-credentials?access_key={}",
                form_encode(key)
            );
            (url, format!("{base}/acme/eab-credentials"), String::new())
        }
    };
    let body = post_form(&url, form)
        .await
        .map_err(|message| ZeroSslError::Transport {
            url: shown.clone(),
            message,
        })?;
    read_answer(&shown, &body)
}

async fn post_form(url: &str, form: String) -> Result<Bytes, String> {
    let connector = HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("system roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: HyperClient<_, Full<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build(connector);
    let request = Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "user-agent",
            concat!("certkeeper/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::from(form)))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(body.to_bytes())
}

fn read_answer(url: &str, body: &[u8]) -> Result<EabCredentials, ZeroSslError> {
    #[derive(Deserialize)]
    struct Answer {
        success: serde_json::Value,
        eab_kid: Option<String>,
        eab_hmac_key: Option<String>,
        error: Option<ApiError>,
    }
    #[derive(Deserialize)]
    struct ApiError {
        code: i64,
        #[serde(rename = "type")]
        kind: String,
    }
    let transport = |message: String| ZeroSslError::Transport {
        url: url.to_owned(),
        message,
    };
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| transport(format!("the answer is not the expected JSON: {e}")))?;
    let succeeded = matches!(&answer.success, serde_json::Value::Bool(true))
        || answer.success.as_i64() == Some(1);
    match (succeeded, answer.eab_kid, answer.eab_hmac_key, answer.error) {
        (true, Some(kid), Some(key), _) => {
            EabCredentials::parse(&kid, &key).map_err(|e| transport(e.to_string()))
        }
        (_, _, _, Some(error)) => Err(ZeroSslError::Refused {
            url: url.to_owned(),
            code: error.code,
            kind: error.kind,
        }),
        _ => Err(transport(
            "no credentials and no error in the answer".into(),
        )),
    }
}

/// `application/x-www-form-urlencoded` for one value: unreserved bytes stay, the rest is `%XX`.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A one-shot fake of ZeroSSL's API on loopback: answers `body` with HTTP 200 and hands
    /// back the request it got.
    async fn fake_api(body: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
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
        (base, task)
    }

    /// Read one request: the head, then as many body bytes as its content-length says.
    async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
        let mut seen = Vec::new();
        let mut chunk = [0; 1024];
        loop {
            let n = socket.read(&mut chunk).await.unwrap();
            seen.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&seen).into_owned();
            if n == 0 {
                return text;
            }
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
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
            if body.len() >= length {
                return text;
            }
        }
    }

    #[tokio::test]
    async fn credentials_for_an_email_are_posted_as_a_form_and_decoded() {
        let (base, seen) =
            fake_api(r#"{"success":1,"eab_kid":"GD-VvWydSVFuss_GhBwYQQ","eab_hmac_key":"YWJjZA"}"#)
                .await;
        let eab = fetch_eab(&base, ZeroSslIdentity::Email("ops+tls@example.test"))
            .await
            .unwrap();
        assert_eq!(eab.kid, "GD-VvWydSVFuss_GhBwYQQ");
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
    async fn a_refusal_inside_an_http_200_is_an_error_with_its_code() {
        let (base, _seen) = fake_api(
            r#"{"success":false,"error":{"code":2904,"type":"too_many_eab_credentials_created_today"}}"#,
        )
        .await;
        let err = fetch_eab(&base, ZeroSslIdentity::Email("ops@example.test"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2904") && err.contains("too_many_eab"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_access_key_goes_in_the_query_and_never_into_errors() {
        let (base, seen) = fake_api("not json").await;
        let err = fetch_eab(&base, ZeroSslIdentity::AccessKey("s3cr3t-key"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("s3cr3t-key") && err.contains("not the expected JSON"),
            "{err}"
        );
        let request = seen.await.unwrap();
        assert!(request.starts_with("POST /acme/eab-credentials?access_key=s3cr3t-key "));
    }

    #[tokio::test]
    async fn an_hmac_key_in_the_wrong_encoding_from_the_api_is_refused() {
        let (base, _seen) =
            fake_api(r#"{"success":true,"eab_kid":"k","eab_hmac_key":"a+b/"}"#).await;
        let err = fetch_eab(&base, ZeroSslIdentity::Email("ops@example.test"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not base64url"), "{err}");
    }
}
