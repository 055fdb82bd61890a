//! The HTTPS client every request to a CA goes through, and what certkeeper reads from a CA's
//! directory itself (RFC 8555 §7.1.1) because instant-acme keeps it private: whether External
//! Account Binding is required.
//!
//! A client made `keeping` one URL keeps the body of the last response from it, so the engine
//! can read the account object the CA returns to a `newAccount` lookup (RFC 8555 §7.3.1) — its
//! `status` is how `account list --refresh` learns whether the account is still valid. Other
//! clients keep nothing: an account's client lives as long as the daemon, and keeping every
//! order, authorization and certificate body it ever fetched grew without bound.
//!
//! It also checks what instant-acme does not: instant-acme reads a directory without looking at
//! the status code, so a CA that answers 500 or an HTML maintenance page would surface as
//! "missing field `newNonce`", and it reads a new account's body only for its headers. Every GET
//! must be a JSON success and every JSON body must parse, or the request fails with the URL, the
//! status and the CA's own words. Each request's wait for an answer is bounded, so a CA that
//! hangs cannot stall an order forever.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use serde::Deserialize;

/// Largest response body kept for reading back (an account object or a directory).
const MAX_KEPT: usize = 64 * 1024;

/// How long a request may wait for the CA's response headers.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an unexpected body is quoted in an error.
const QUOTE_LIMIT: usize = 200;

/// An HTTPS client for one CA that remembers the last response body per URL.
#[derive(Clone)]
pub(crate) struct CaHttp {
    /// The CA's configured name, for the badNonce count.
    ca: Arc<str>,
    inner: HyperClient<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>,
    kept: Arc<Mutex<HashMap<String, Bytes>>>,
    keep: Option<Arc<str>>,
}

/// What certkeeper needs from a CA's directory (profiles it reads through instant-acme).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DirectoryInfo {
    /// The `newAccount` URL.
    pub(crate) new_account: String,
    /// The directory's `meta` object.
    #[serde(default)]
    pub(crate) meta: DirectoryMeta,
}

/// The `meta` object of a directory (RFC 8555 §7.1.1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DirectoryMeta {
    /// Whether `newAccount` requests must carry an External Account Binding (§7.3.4).
    #[serde(default)]
    pub(crate) external_account_required: bool,
}

impl CaHttp {
    /// A client for CA `ca` trusting only the PEM roots in `tls_root`, or the system's roots
    /// without one.
    pub(crate) fn new(ca: &str, tls_root: Option<&Path>) -> Result<Self, String> {
        let builder = match tls_root {
            Some(path) => HttpsConnectorBuilder::new().with_tls_config(
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots_from(path)?)
                    .with_no_client_auth(),
            ),
            None => HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| format!("system roots: {e}"))?,
        };
        let connector = builder.https_only().enable_http1().build();
        Ok(Self {
            ca: ca.into(),
            inner: HyperClient::builder(TokioExecutor::new()).build(connector),
            kept: Arc::default(),
            keep: None,
        })
    }

    /// This client, keeping the body of responses from `url` (and from no other URL).
    pub(crate) fn keeping(mut self, url: &str) -> Self {
        self.keep = Some(Arc::from(url));
        self
    }

    /// GET the directory at `url` and read the parts instant-acme does not expose.
    pub(crate) async fn directory(&self, url: &str) -> Result<DirectoryInfo, String> {
        let request = Request::get(url)
            .header(
                "user-agent",
                concat!("certkeeper/", env!("CARGO_PKG_VERSION")),
            )
            .body(BodyWrapper::default())
            .map_err(|e| e.to_string())?;
        let response = HttpClient::request(self, request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.parts.status;
        let mut body = response.body;
        let bytes = body.into_bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("the directory answered HTTP {status}"));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("the directory is not valid: {e}"))
    }

    /// The body of the last response from `url`, if one was kept.
    pub(crate) fn last_body(&self, url: &str) -> Option<Bytes> {
        self.kept
            .lock()
            .expect("kept-body map poisoned only by a panic")
            .get(url)
            .cloned()
    }
}

impl HttpClient for CaHttp {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let url = req.uri().to_string();
        let method = req.method().clone();
        let pending = self.inner.request(req);
        let kept = Arc::clone(&self.kept);
        let ca = Arc::clone(&self.ca);
        let keep = self.keep.as_deref() == Some(url.as_str());
        Box::pin(async move {
            super::hold::wait_turn(&ca).await;
            let response = tokio::time::timeout(REQUEST_TIMEOUT, pending)
                .await
                .map_err(|_| other(format!("{url}: no answer within {REQUEST_TIMEOUT:?}")))?
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let (parts, body) = response.into_parts();
            super::hold::note(&ca, &url, &parts);
            let bytes = body
                .collect()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?
                .to_bytes();
            check(&url, &method, &parts, &bytes)?;
            if parts.status == hyper::StatusCode::BAD_REQUEST
                && super::nonce::body_is_bad_nonce(&bytes)
            {
                super::nonce::record_rejection(&ca, &url);
            }
            if keep && bytes.len() <= MAX_KEPT {
                kept.lock()
                    .expect("kept-body map poisoned only by a panic")
                    .insert(url, bytes.clone());
            }
            Ok(BytesResponse::from(Response::from_parts(
                parts,
                Full::new(bytes),
            )))
        })
    }
}

/// Refuse a GET that is not a JSON success, and any JSON body that does not parse.
fn check(
    url: &str,
    method: &Method,
    parts: &hyper::http::response::Parts,
    body: &[u8],
) -> Result<(), instant_acme::Error> {
    let content_type = parts.headers.get(hyper::header::CONTENT_TYPE);
    let json = content_type
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let status = parts.status;
    if method == Method::GET && !(status.is_success() && json) {
        let detail = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or_else(|| quote(body));
        let msg = format!("GET {url} answered HTTP {status} without an ACME JSON body: {detail}");
        return Err(other(msg));
    }
    let parsed = serde_json::from_slice::<serde::de::IgnoredAny>(body);
    if let (true, false, Err(e)) = (json, body.is_empty(), parsed) {
        let msg = format!(
            "{url} answered HTTP {status} with malformed JSON ({e}): {}",
            quote(body)
        );
        return Err(other(msg));
    }
    Ok(())
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(QUOTE_LIMIT)]);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("\"{}\"", flat.trim())
}

fn other(message: String) -> instant_acme::Error {
    instant_acme::Error::Other(message.into())
}

fn roots_from(path: &Path) -> Result<rustls::RootCertStore, String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    let blocks = pem::parse_many(&text).map_err(|e| format!("not PEM: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for block in blocks.into_iter().filter(|b| b.tag() == "CERTIFICATE") {
        roots
            .add(block.into_contents().into())
            .map_err(|e| format!("unusable certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err("no CERTIFICATE block".into());
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_meta_reads_the_eab_requirement() {
        let json = r#"{"newAccount":"https://ca/new-acct","newNonce":"n","newOrder":"o",
            "meta":{"externalAccountRequired":true,
                    "profiles":{"classic":"the usual","shortlived":"6 days"}}}"#;
        let info: DirectoryInfo = serde_json::from_str(json).unwrap();
        assert!(info.meta.external_account_required);
        assert_eq!(info.new_account, "https://ca/new-acct");
    }

    #[test]
    fn a_directory_without_meta_requires_nothing() {
        let info: DirectoryInfo = serde_json::from_str(r#"{"newAccount":"x"}"#).unwrap();
        assert!(!info.meta.external_account_required);
    }

    #[test]
    fn quotes_are_short_and_single_line() {
        let quoted = quote("<html>\n<body>".repeat(100).as_bytes());
        assert!(quoted.len() <= QUOTE_LIMIT + 2 && !quoted.contains('\n'));
    }

    #[test]
    fn a_tls_root_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "nothing here").unwrap();
        assert!(CaHttp::new("test", Some(&path)).is_err());
    }
}
