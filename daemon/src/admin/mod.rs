//! The admin API: HTTP/JSON over a Unix socket that only the daemon's owner can open.
//!
//! File permissions on the socket decide who may manage certificates, which is the same trust
//! boundary as the store file. Every operation the CLI offers is one route here.

mod client;
mod lifecycle;
mod plugin_routes;
mod renewals;
mod routes;
pub mod views;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tracing::{debug, info};

pub use client::{AdminClient, ClientError, MAX_REQUEST_BODY};
pub use routes::AdminState;

/// The admin socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("admin socket {}: {message}", path.display())]
pub struct AdminError {
    /// The socket path.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}

/// Bind the socket (owner-only) and serve the API until the task is dropped.
pub fn serve(
    path: &Path,
    state: Arc<AdminState>,
) -> Result<tokio::task::JoinHandle<()>, AdminError> {
    let listener = bind(path)?;
    info!(socket = %path.display(), "admin socket listening");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, most likely: pause rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = service_fn(move |req| routes::handle(Arc::clone(&state), req));
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                if let Err(error) = conn.await {
                    debug!(%error, "admin connection ended with an error");
                }
            });
        }
    }))
}

fn bind(path: &Path) -> Result<UnixListener, AdminError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |message: String| AdminError {
        path: path.to_owned(),
        message,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(fail("another daemon is listening on it".into()));
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(format!("cannot remove a stale socket: {e}"))),
    }
    let listener = UnixListener::bind(path).map_err(|e| fail(e.to_string()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| fail(e.to_string()))?;
    Ok(listener)
}
