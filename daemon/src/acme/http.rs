//! The HTTP client certkeeper gives instant-acme.
//!
//! instant-acme reads a CA's directory without looking at the status code, so a CA that answers
//! 500 or an HTML maintenance page surfaces as "missing field `newNonce`". This client checks
//! every GET (directory, renewal information) itself and turns a non-JSON or failed answer into
//! an error that carries the URL, the status and the CA's own words. It also bounds how long any
//! request may wait for an answer, so a CA that hangs cannot stall an order forever.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};

/// How long a request may wait for the CA's response headers.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an unexpected body is quoted in an error.
const QUOTE_LIMIT: usize = 200;

/// An HTTPS client for one CA, trusting either one configured root or the system's roots.
pub(crate) struct CaHttp {
    inner: HyperClient<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>,
}

impl CaHttp {
    /// A client that trusts the certificates in `tls_root`, or the system's roots when `None`.
    pub(crate) fn new(tls_root: Option<&Path>) -> Result<Self, String> {
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match tls_root {
            Some(path) => builder.with_tls_config(client_config(path)?),
            None => builder
                .with_native_roots()
                .map_err(|e| format!("no system TLS roots: {e}"))?,
        };
        let connector = builder.https_only().enable_http1().build();
        let inner = HyperClient::builder(TokioExecutor::new()).build(connector);
        Ok(Self { inner })
    }
}

fn client_config(path: &Path) -> Result<rustls::ClientConfig, String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    let blocks = pem::parse_many(&text).map_err(|e| format!("not PEM: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for block in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
        let der = rustls::pki_types::CertificateDer::from(block.contents().to_vec());
        roots
            .add(der)
            .map_err(|e| format!("unusable certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err("holds no CERTIFICATE block".into());
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl HttpClient for CaHttp {
    fn request(
        &self,
        req: hyper::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let url = req.uri().to_string();
        let checked = req.method() == Method::GET;
        let has_body = req.method() != Method::HEAD;
        let response = HttpClient::request(&self.inner, req);
        Box::pin(async move {
            let response = tokio::time::timeout(REQUEST_TIMEOUT, response)
                .await
                .map_err(|_| other(format!("{url}: no answer within {REQUEST_TIMEOUT:?}")))??;
            if checked && !is_json_success(&response) {
                return Err(unexpected(&url, response).await);
            }
            if has_body && is_json(&response) {
                well_formed(&url, response).await
            } else {
                Ok(response)
            }
        })
    }
}

fn is_json(response: &BytesResponse) -> bool {
    let content_type = response.parts.headers.get(hyper::header::CONTENT_TYPE);
    content_type
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

fn is_json_success(response: &BytesResponse) -> bool {
    response.parts.status.is_success() && is_json(response)
}

/// Pass a JSON answer on only if it is JSON: instant-acme reads some bodies (a new account's)
/// only for their headers, and would otherwise store an account the CA never described.
async fn well_formed(url: &str, mut response: BytesResponse) -> Result<BytesResponse, Error> {
    let body = response.body.into_bytes().await.map_err(Error::Other)?;
    let parsed = serde_json::from_slice::<serde::de::IgnoredAny>(&body);
    if let (false, Err(e)) = (body.is_empty(), parsed) {
        let status = response.parts.status;
        return Err(other(format!(
            "{url} answered HTTP {status} with malformed JSON ({e}): {}",
            quote(&body)
        )));
    }
    let parts = response.parts;
    Ok(BytesResponse::from(hyper::Response::from_parts(
        parts,
        http_body_util::Full::new(body),
    )))
}

/// An error for an answer that is not a JSON success, quoting the CA's problem detail or the
/// start of its body.
async fn unexpected(url: &str, mut response: BytesResponse) -> Error {
    let status = response.parts.status;
    let body = response.body.into_bytes().await.unwrap_or_default();
    let detail = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_owned))
        .unwrap_or_else(|| quote(&body));
    other(format!(
        "GET {url} answered HTTP {status} without an ACME JSON body: {detail}"
    ))
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(QUOTE_LIMIT)]);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("\"{}\"", flat.trim())
}

fn other(message: String) -> Error {
    Error::Other(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_short_and_single_line() {
        let quoted = quote("<html>\n<body>".repeat(100).as_bytes());
        assert!(quoted.len() <= QUOTE_LIMIT + 2 && !quoted.contains('\n'));
    }

    #[test]
    fn a_root_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "nothing here").unwrap();
        assert!(CaHttp::new(Some(&path)).is_err());
    }
}
