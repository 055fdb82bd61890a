//! Named points in an order's life where the crash tests kill the daemon.
//!
//! Timing a `kill -9` from outside by sleeping lands anywhere; these make it land at one step.
//! When `CERTKEEPER_TEST_CRASH_POINT` names a step, the task that reaches it logs
//! `crash point reached` with the step and stops there for good, and the test kills the process
//! while it waits. Without the variable each point is one comparison, and release builds (what
//! a deployment runs) ignore the variable altogether, so a stray environment cannot park one.
//!
//! Steps: `challenges-presented` (every answer posted and visible, the CA not yet told),
//! `validation-requested` (the CA told to validate, the order not yet ready), `http01-answering`
//! (the CA's validation request is at the HTTP-01 listener), `finalized` (the CA accepted the
//! CSR, the certificate not yet downloaded), `deploy-file-written` (one file of a deployment
//! written, the next not yet).

use std::sync::OnceLock;

use tracing::warn;

/// The environment variable naming the step to stop at.
pub const VARIABLE: &str = "CERTKEEPER_TEST_CRASH_POINT";

/// Stop this task for good when `step` is the configured crash point.
pub async fn reach(step: &'static str) {
    if is_configured(step) {
        warn!(step, "crash point reached; waiting to be killed");
        std::future::pending::<()>().await;
    }
}

/// Like `reach`, for synchronous code: parks the calling thread for good.
pub fn reach_blocking(step: &'static str) {
    if is_configured(step) {
        warn!(step, "crash point reached; waiting to be killed");
        loop {
            std::thread::park();
        }
    }
}

fn is_configured(step: &str) -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    static CONFIGURED: OnceLock<Option<String>> = OnceLock::new();
    CONFIGURED
        .get_or_init(|| std::env::var(VARIABLE).ok())
        .as_deref()
        == Some(step)
}
