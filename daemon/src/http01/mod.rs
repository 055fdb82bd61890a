//! The HTTP-01 listener (RFC 8555 §8.3).
//!
//! It serves exactly one thing — `GET /.well-known/acme-challenge/<token>` with the key
//! authorization as `application/octet-stream` — and 404 for everything else, so it can sit
//! behind a load balancer that forwards only that path. Answers come from the shared board.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::{debug, info};

use crate::challenge::Board;

const PREFIX: &str = "/.well-known/acme-challenge/";

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
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let board = Arc::clone(&board);
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(Arc::clone(&board), peer, req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(error) = conn.await {
                debug!(%error, %peer, "http-01 connection ended with an error");
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
