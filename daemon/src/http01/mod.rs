//! The HTTP-01 listener (RFC 8555 §8.3).
//!
//! It serves exactly one thing — `GET /.well-known/acme-challenge/<token>` with the key
//! authorization as `application/octet-stream` — and 404 for everything else, so it can sit
//! behind a load balancer that forwards only that path. Answers come from the shared board.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::challenge::Board;

const PREFIX: &str = "/.well-known/acme-challenge/";

/// Connections served at once; more wait to be accepted, so idle clients cannot exhaust the
/// process's file descriptors.
const MAX_CONNECTIONS: usize = 512;

/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one connection may stay open, keep-alive included.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// Pause after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The listener could not start.
#[derive(Debug, thiserror::Error)]
#[error("http-01 listener on {addr}: {source}")]
pub struct Http01Error {
    /// The address that failed.
    pub addr: SocketAddr,
    /// Why.
    pub source: std::io::Error,
}

/// Running HTTP-01 listeners; dropped or shut down together.
pub struct Http01Server {
    addrs: Vec<SocketAddr>,
    tasks: JoinSet<()>,
}

impl Http01Server {
    /// Bind every address and serve from `board`.
    pub async fn spawn(listen: &[SocketAddr], board: Arc<Board>) -> Result<Self, Http01Error> {
        let mut tasks = JoinSet::new();
        let mut addrs = Vec::new();
        for &addr in listen {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| Http01Error { addr, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| Http01Error { addr, source })?;
            info!(addr = %local, "http-01 listener started");
            addrs.push(local);
            tasks.spawn(accept_loop(listener, Arc::clone(&board)));
        }
        Ok(Self { addrs, tasks })
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Stop listening.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

async fn accept_loop(listener: TcpListener, board: Arc<Board>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, most likely: retrying at once would spin a core.
                warn!(%error, "http-01 accept failed; pausing");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let board = Arc::clone(&board);
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |req| answer(Arc::clone(&board), peer, req));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                Ok(Err(error)) => debug!(%error, %peer, "http-01 connection ended with an error"),
                Err(_) => debug!(%peer, "http-01 connection closed: open too long"),
                Ok(Ok(())) => {}
            }
        });
    }
}

async fn answer(
    board: Arc<Board>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let token = path.strip_prefix(PREFIX).filter(|t| is_token(t));
    let allowed = req.method() == Method::GET || req.method() == Method::HEAD;
    let found = token.filter(|_| allowed).and_then(|t| board.http(t));
    debug!(%peer, path, served = found.is_some(), "http-01 request");
    if found.is_some() {
        crate::crashpoint::reach("http01-answering").await;
    }
    Ok(match found {
        Some(key_authorization) => Response::builder()
            .header("content-type", "application/octet-stream")
            .body(Full::new(Bytes::from(key_authorization)))
            .expect("static headers are valid"),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found\n")))
            .expect("static headers are valid"),
    })
}

/// A token is base64url (RFC 8555 §8.3): anything else is never looked up.
fn is_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_base64url_tokens_are_looked_up() {
        assert!(is_token("abc-DEF_123"));
        assert!(!is_token("../etc/passwd"));
        assert!(!is_token(""));
    }

    #[tokio::test]
    async fn serves_known_tokens_and_404s_the_rest() {
        let board = Arc::new(Board::new());
        board.add_http("tok1", "tok1.thumb");
        let server = Http01Server::spawn(&["127.0.0.1:0".parse().unwrap()], board)
            .await
            .unwrap();
        let addr = server.local_addrs()[0];
        assert_eq!(
            get(addr, "/.well-known/acme-challenge/tok1").await,
            (200, "tok1.thumb".into())
        );
        assert_eq!(get(addr, "/.well-known/acme-challenge/nope").await.0, 404);
        assert_eq!(get(addr, "/tok1").await.0, 404);
        server.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_finishes_its_headers_is_dropped() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let board = Arc::new(Board::new());
        let server = Http01Server::spawn(&["127.0.0.1:0".parse().unwrap()], board)
            .await
            .unwrap();
        let mut stream = tokio::net::TcpStream::connect(server.local_addrs()[0])
            .await
            .unwrap();
        stream
            .write_all(b"GET /.well-known/acme-challenge/x HTTP/1.1\r\nHost:")
            .await
            .unwrap();
        tokio::time::sleep(HEADER_TIMEOUT + Duration::from_secs(1)).await;
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
        assert!(
            read.is_ok(),
            "the connection is still open after the header timeout"
        );
        server.shutdown().await;
    }

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        let status = out[9..12].parse().unwrap();
        let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
        (status, body)
    }
}
