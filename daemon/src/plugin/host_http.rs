//! The `http` import: requests a plugin asks the host to send.
//!
//! The host sends a request only when the URL's host and port are in the provider instance's
//! `allowed_hosts`; a refusal is logged as a warning naming plugin, provider and host, and nothing
//! goes out. Redirects are not followed (a 3xx comes back as it is, and a plugin that follows it
//! asks again, through the same check). Each request is bounded by the shorter of the request
//! timeout and what is left of the call's time, and the body by the size limit. `https://` uses
//! the system's root certificates.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Uri;
use hyper::header::{HeaderName, HeaderValue};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tracing::{debug, warn};

use super::bindings::certkeeper::plugin::http::{Host, HttpError, Method, Request, Response};
use super::call::{CallState, HttpAccess};

/// The client every plugin request goes through; cheap to clone.
pub(super) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Builds the shared client. Without usable system roots, `https://` requests fail and `http://`
/// ones still work.
pub(super) fn client() -> HttpClient {
    let provider = rustls::crypto::ring::default_provider();
    let builder = HttpsConnectorBuilder::new();
    let builder = match builder.with_provider_and_native_roots(provider) {
        Ok(builder) => builder,
        Err(error) => {
            warn!(%error, "no system root certificates: plugins cannot use https");
            let roots = rustls::RootCertStore::empty();
            let config = rustls::ClientConfig::builder_with_provider(
                rustls::crypto::ring::default_provider().into(),
            )
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let connector = builder.https_or_http().enable_http1().build();
    Client::builder(TokioExecutor::new()).build(connector)
}

impl Host for CallState {
    fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let Some(access) = &self.http else {
            let why = "HTTP is not available while the plugin is loading";
            return Err(HttpError::InvalidRequest(why.into()));
        };
        let uri: Uri = request
            .url
            .parse()
            .map_err(|error| HttpError::InvalidRequest(format!("bad URL: {error}")))?;
        let target = Target::of(&uri)?;

        if !self
            .provider
            .allows(&target.host, target.port, target.default_port)
        {
            let (plugin, provider) = (self.plugin.as_str(), self.provider.name());
            let host = target.authority();
            warn!(%plugin, %provider, %host, "plugin request refused: host not in allowed_hosts");
            return Err(HttpError::HostNotAllowed(host));
        }
        send(
            access,
            request.method,
            uri,
            request.headers,
            request.body,
            &target,
        )
    }
}

/// Where a request goes, as `allowed_hosts` compares it.
struct Target {
    /// Lowercase; IPv6 without brackets.
    host: String,
    port: u16,
    default_port: u16,
}

impl Target {
    fn of(uri: &Uri) -> Result<Self, HttpError> {
        let default_port = match uri.scheme_str() {
            Some("http") => 80,
            Some("https") => 443,
            other => {
                let why = format!("scheme {other:?} is not supported, use http or https");
                return Err(HttpError::InvalidRequest(why));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| HttpError::InvalidRequest("URL has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(default_port);
        Ok(Self {
            host,
            port,
            default_port,
        })
    }

    /// `host:port`, IPv6 in brackets.
    fn authority(&self) -> String {
        match self.host.contains(':') {
            true => format!("[{}]:{}", self.host, self.port),
            false => format!("{}:{}", self.host, self.port),
        }
    }
}

fn send(
    access: &HttpAccess,
    method: Method,
    uri: Uri,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    target: &Target,
) -> Result<Response, HttpError> {
    let timeout = access.deadline.saturating_duration_since(Instant::now());
    let timeout = timeout.min(access.limits.http_timeout);
    if timeout.is_zero() {
        return Err(HttpError::Timeout);
    }
    let path = uri.path().to_owned();
    let request = build(method, uri, headers, body)?;

    let started = Instant::now();
    let limit = access.limits.max_response_bytes;
    let exchange = exchange(access.client.clone(), request, limit);
    let result = access
        .runtime
        .block_on(async { tokio::time::timeout(timeout, exchange).await });
    let response = result.map_err(|_| HttpError::Timeout)??;

    let elapsed_ms = elapsed_ms(started);
    let (host, status) = (target.authority(), response.status);
    debug!(%host, %path, ?method, status, elapsed_ms, "plugin http request");
    Ok(response)
}

fn build(
    method: Method,
    uri: Uri,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<hyper::Request<Full<Bytes>>, HttpError> {
    let mut request = hyper::Request::new(Full::new(Bytes::from(body)));
    *request.method_mut() = match method {
        Method::Get => hyper::Method::GET,
        Method::Head => hyper::Method::HEAD,
        Method::Post => hyper::Method::POST,
        Method::Put => hyper::Method::PUT,
        Method::Patch => hyper::Method::PATCH,
        Method::Delete => hyper::Method::DELETE,
    };
    *request.uri_mut() = uri;

    for (name, value) in headers {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| HttpError::InvalidRequest(format!("bad header name {name:?}")))?;
        if name == hyper::header::HOST || name == hyper::header::CONTENT_LENGTH {
            continue;
        }
        // N.B. the value may be a credential: the error names only the header.
        let value = HeaderValue::try_from(value)
            .map_err(|_| HttpError::InvalidRequest(format!("bad value for header {name}")))?;
        request.headers_mut().append(name, value);
    }
    Ok(request)
}

async fn exchange(
    client: HttpClient,
    request: hyper::Request<Full<Bytes>>,
    limit: usize,
) -> Result<Response, HttpError> {
    let response = client
        .request(request)
        .await
        .map_err(|error| HttpError::ConnectionFailed(chain(&error)))?;
    let (parts, body) = response.into_parts();

    let body = Limited::new(body, limit).collect().await.map_err(|error| {
        if error.is::<http_body_util::LengthLimitError>() {
            HttpError::BodyTooLarge(limit as u64)
        } else {
            HttpError::ConnectionFailed(chain(error.as_ref()))
        }
    })?;
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(Response {
        status: parts.status.as_u16(),
        headers,
        body: body.to_bytes().to_vec(),
    })
}

/// An error and its sources, `: `-separated.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
