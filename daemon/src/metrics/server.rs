//! The `/metrics` listener: plain HTTP/1.1 on the configured address, one page per GET.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::Exposition;

/// `[metrics]`: the endpoint is off unless this section is present.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address to serve `/metrics` on, e.g. `127.0.0.1:9107`.
    pub listen: SocketAddr,
}

/// The listener could not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics listener on {addr}: {source}")]
pub struct MetricsError {
    /// The address that failed.
    pub addr: SocketAddr,
    /// Why.
    pub source: std::io::Error,
}

/// What fills a page: the gauges read at scrape time.
pub type Gauges = Arc<dyn Fn(&mut Exposition) + Send + Sync>;

/// Bind `config.listen` and serve pages made of `gauges` plus every recorded counter.
pub async fn serve(config: &MetricsConfig, gauges: Gauges) -> Result<JoinHandle<()>, MetricsError> {
    let addr = config.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError { addr, source })?;
    info!(%addr, "metrics listener started");
    Ok(tokio::spawn(accept_loop(listener, gauges)))
}

async fn accept_loop(listener: TcpListener, gauges: Gauges) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let gauges = Arc::clone(&gauges);
        tokio::spawn(async move {
            let service = service_fn(move |req| page(Arc::clone(&gauges), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(error) = conn.await {
                debug!(%error, %peer, "metrics connection ended with an error");
            }
        });
    }
}

async fn page<B>(
    gauges: Gauges,
    req: hyper::Request<B>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/metrics" {
        let reply = Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"only /metrics\n")));
        return Ok(reply.expect("static response is valid"));
    }
    let mut out = Exposition::default();
    gauges(&mut out);
    super::write_recorded(&mut out);
    let reply = Response::builder()
        .header("content-type", "text/plain; version=0.0.4")
        .body(Full::new(Bytes::from(out.render())));
    Ok(reply.expect("static headers are valid"))
}
