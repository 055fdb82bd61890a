//! The CLI's side of the admin socket.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::UnixStream;

/// The largest request body the daemon reads from the admin socket (1 MiB); a larger one is
/// refused before anything is sent.
pub const MAX_REQUEST_BODY: usize = 1 << 20;

/// A request the daemon could not answer or refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon is listening, or the socket cannot be opened.
    #[error("cannot reach the daemon at {}: {source} (is `certkeeper run` running, and may you open its socket?)", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The request body is larger than the daemon reads: refused before connecting, since the
    /// daemon would stop reading and close the connection mid-request.
    #[error(
        "the request to {method} {path} is {bytes} bytes, over the admin socket's limit of \
         {limit} bytes (1 MiB); the daemon would refuse it"
    )]
    TooLarge {
        /// The request's method.
        method: Method,
        /// The request's path.
        path: String,
        /// The body's size.
        bytes: usize,
        /// [`MAX_REQUEST_BODY`].
        limit: usize,
    },
    /// The connection broke.
    #[error("admin socket: {0}")]
    Transport(String),
    /// The daemon answered with an error.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
}

/// A connection-per-request client for the admin socket.
#[derive(Debug, Clone)]
pub struct AdminClient {
    socket: PathBuf,
}

impl AdminClient {
    /// A client for the socket at `socket`.
    pub fn new(socket: &Path) -> Self {
        Self {
            socket: socket.to_owned(),
        }
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        self.send(Method::GET, path, None::<&()>).await
    }

    /// GET `path`, the answer's bytes as the daemon sent them: for listings, which the CLI
    /// prints without building a JSON tree of them. An error answer is read as usual.
    pub async fn get_raw(&self, path: &str) -> Result<Bytes, ClientError> {
        let (status, body) = self.exchange(Method::GET, path, Vec::new()).await?;
        if status.is_success() {
            return Ok(body);
        }
        Err(refused(status, &parse(&body)?))
    }

    /// POST `body` to `path`.
    pub async fn post<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<serde_json::Value, ClientError> {
        self.send(Method::POST, path, Some(body)).await
    }

    /// DELETE `path`.
    pub async fn delete(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        self.send(Method::DELETE, path, None::<&()>).await
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<serde_json::Value, ClientError> {
        let bytes = body
            .map(|b| serde_json::to_vec(b).expect("requests serialize"))
            .unwrap_or_default();
        if bytes.len() > MAX_REQUEST_BODY {
            return Err(ClientError::TooLarge {
                method,
                path: path.to_owned(),
                bytes: bytes.len(),
                limit: MAX_REQUEST_BODY,
            });
        }
        let (status, body) = self.exchange(method, path, bytes).await?;
        let value = parse(&body)?;
        if status.is_success() {
            return Ok(value);
        }
        Err(refused(status, &value))
    }

    /// One request and its whole answer.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<(hyper::StatusCode, Bytes), ClientError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| ClientError::Connect {
                    path: self.socket.clone(),
                    source,
                })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        tokio::spawn(conn);

        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "certkeeper")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok((status, body.to_bytes()))
    }
}

fn parse(body: &[u8]) -> Result<serde_json::Value, ClientError> {
    serde_json::from_slice(body)
        .map_err(|e| ClientError::Transport(format!("daemon sent invalid JSON: {e}")))
}

fn refused(status: hyper::StatusCode, value: &serde_json::Value) -> ClientError {
    let message = value["error"].as_str().unwrap_or("unknown error");
    ClientError::Refused {
        status: status.as_u16(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_naming_its_size_before_connecting() {
        let client = AdminClient::new(Path::new("/nonexistent/certkeeper-admin.sock"));
        let body = serde_json::json!({ "pem": "x".repeat(MAX_REQUEST_BODY) });
        let err = client.post("/v1/csrs/import", &body).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ClientError::TooLarge { .. }), "{text}");
        assert!(
            text.contains("POST /v1/csrs/import") && text.contains("1048576 bytes"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_body_at_the_limit_goes_on_to_connect() {
        let client = AdminClient::new(Path::new("/nonexistent/certkeeper-admin.sock"));
        let err = client.post("/v1/x", &"x".repeat(100)).await.unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    }
}
