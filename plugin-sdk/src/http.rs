//! HTTP requests through the host, with JSON bodies.
//!
//! The host sends a request only to the hosts in the provider instance's `allowed_hosts`; a
//! refused host comes back as a `bad-config` error that names it, since the fix is in the config.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ProviderError;
use crate::bindings::certkeeper::plugin::http as host;
use crate::sign::{self, Sign};

pub use host::{HttpError, Method};

/// A client for one API: a base URL, headers sent with every request, and optionally a signer
/// that authenticates each request.
#[derive(Clone)]
pub struct Client {
    base_url: String,
    headers: Vec<(String, String)>,
    signer: Option<Arc<dyn Sign>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // N.B. header values may be credentials: show only the names.
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("headers", &names)
            .field("signed", &self.signer.is_some())
            .finish()
    }
}

/// A response of any status.
#[derive(Clone, Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Client {
    /// A client for the API at `base_url` (e.g. `http://127.0.0.1:8081`); request paths are
    /// appended to it.
    pub fn new(base_url: &str) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        Self {
            base_url,
            headers: vec![("accept".into(), "application/json".into())],
            signer: None,
        }
    }

    /// Signs every request with `signer` (e.g. [`sign::SigV4`] or [`sign::EdgeGrid`]) just
    /// before it is sent, after all other headers are set.
    pub fn with_signer(mut self, signer: impl Sign + 'static) -> Self {
        self.signer = Some(Arc::new(signer));
        self
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Adds a header to every request, e.g. an API key.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Response, ProviderError> {
        self.send(Method::Get, path, None)
    }

    /// `POST path` with `body` as JSON.
    pub fn post<B: Serialize>(&self, path: &str, body: &B) -> Result<Response, ProviderError> {
        self.send(Method::Post, path, Some(to_json(body)?))
    }

    /// `PUT path` with `body` as JSON.
    pub fn put<B: Serialize>(&self, path: &str, body: &B) -> Result<Response, ProviderError> {
        self.send(Method::Put, path, Some(to_json(body)?))
    }

    /// `PATCH path` with `body` as JSON.
    pub fn patch<B: Serialize>(&self, path: &str, body: &B) -> Result<Response, ProviderError> {
        self.send(Method::Patch, path, Some(to_json(body)?))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<Response, ProviderError> {
        self.send(Method::Delete, path, None)
    }

    /// Sends a request with an optional JSON body; any status is a response.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<Vec<u8>>,
    ) -> Result<Response, ProviderError> {
        match json {
            Some(body) => self.send_body(method, path, Some("application/json"), body),
            None => self.send_body(method, path, None, Vec::new()),
        }
    }

    /// Sends a request with a body of any type (e.g. XML) and its `content-type`; any status is a
    /// response.
    pub fn send_body(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response, ProviderError> {
        let mut headers = self.headers.clone();
        if let Some(content_type) = content_type {
            headers.push(("content-type".into(), content_type.to_owned()));
        }
        let url = format!("{}{path}", self.base_url);
        let request = match &self.signer {
            Some(signer) => signed(signer.as_ref(), method, url, headers, body),
            None => host::Request {
                method,
                url,
                headers,
                body,
            },
        };
        let response = host::send(&request).map_err(|error| http_error(&request.url, error))?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Parses the body as JSON; an unexpected shape is an `other` error quoting the start of the
    /// body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            ProviderError::other(format!("unexpected JSON ({error}): {}", self.snippet()))
        })
    }

    /// Passes 2xx through and maps the statuses every API shares: 401 and 403 to `auth-failed`,
    /// 429 to `rate-limited` (with `Retry-After` seconds when given), anything else to `other`.
    /// Handle API-specific statuses (such as 404 for a zone) before calling this.
    pub fn error_for_status(self) -> Result<Self, ProviderError> {
        match self.status {
            200..=299 => Ok(self),
            401 | 403 => Err(ProviderError::auth_failed(format!(
                "HTTP {}: {}",
                self.status,
                self.snippet()
            ))),
            429 => Err(ProviderError::RateLimited(self.retry_after())),
            status => Err(ProviderError::other(format!(
                "HTTP {status}: {}",
                self.snippet()
            ))),
        }
    }

    /// The `Retry-After` header in seconds, when it is a number.
    pub fn retry_after(&self) -> Option<u32> {
        self.header("retry-after")?.trim().parse().ok()
    }

    /// The first 200 characters of the body, for error messages.
    pub fn snippet(&self) -> String {
        self.text().chars().take(200).collect()
    }
}

/// Serializes `body` as JSON.
pub fn to_json<B: Serialize>(body: &B) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(body).map_err(|error| ProviderError::other(format!("JSON body: {error}")))
}

/// The request with the signer's headers added.
fn signed(
    signer: &dyn Sign,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> host::Request {
    let mut request = sign::Request {
        method: method_name(method).to_owned(),
        url,
        headers,
        body,
    };
    signer.sign(&mut request);
    host::Request {
        method,
        url: request.url,
        headers: request.headers,
        body: request.body,
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

fn http_error(url: &str, error: HttpError) -> ProviderError {
    // N.B. some APIs take credentials in the query string: keep it out of messages.
    let url = url.split('?').next().unwrap_or_default();
    match error {
        HttpError::HostNotAllowed(host) => ProviderError::bad_config(format!(
            "host {host} is not allowed: add it to the provider's allowed_hosts or fix the URL"
        )),
        HttpError::InvalidRequest(why) => {
            ProviderError::bad_config(format!("bad URL {url}: {why}"))
        }
        HttpError::Timeout => ProviderError::other(format!("no answer in time from {url}")),
        HttpError::ConnectionFailed(why) => ProviderError::other(format!("{url}: {why}")),
        HttpError::BodyTooLarge(limit) => {
            ProviderError::other(format!("response from {url} is larger than {limit} bytes"))
        }
    }
}
