//! `badNonce` (RFC 8555 §6.5): a CA may reject any nonce, even a fresh one, and the client must
//! sign the request again with the nonce the rejection carries.
//!
//! instant-acme does that itself, up to three attempts per request, out of sight. Each rejection
//! is made visible where it passes through our HTTP client (a `warn` line and
//! `certkeeper_acme_bad_nonce_total{ca}`), and a request that still fails after instant-acme's
//! attempts is tried again here, at most [`MAX_ROUNDS`] times, so a CA rejecting half of all
//! nonces slows an order down without failing it. Every retry is bounded: at most
//! `3 × MAX_ROUNDS` signed requests per operation.

use std::future::Future;

use tracing::warn;

/// The problem type of a rejected nonce.
pub(crate) const BAD_NONCE: &str = "urn:ietf:params:acme:error:badNonce";

/// How many times an operation that ended in `badNonce` is started again.
pub(crate) const MAX_ROUNDS: u32 = 10;

/// Whether instant-acme gave up on a request because the CA kept rejecting nonces.
pub(crate) fn is_bad_nonce(error: &instant_acme::Error) -> bool {
    matches!(error, instant_acme::Error::Api(p) if p.r#type.as_deref() == Some(BAD_NONCE))
}

/// An error that may say the CA kept rejecting nonces: worth starting the operation again,
/// since a rejected nonce means the CA did not act on the request (RFC 8555 §6.5).
pub(crate) trait RejectedNonce {
    fn is_bad_nonce(&self) -> bool;
}

impl RejectedNonce for instant_acme::Error {
    fn is_bad_nonce(&self) -> bool {
        is_bad_nonce(self)
    }
}

impl RejectedNonce for super::EngineError {
    fn is_bad_nonce(&self) -> bool {
        super::EngineError::is_bad_nonce(self)
    }
}

/// Whether a response body is a `badNonce` problem document.
pub(crate) fn body_is_bad_nonce(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v["type"].as_str() == Some(BAD_NONCE))
}

/// Count and log one nonce CA `ca` rejected at `url`.
pub(crate) fn record_rejection(ca: &str, url: &str) {
    crate::metrics::acme_bad_nonce(ca);
    warn!(%ca, %url, "the CA rejected the nonce (badNonce); signing again with a fresh one");
}

impl super::Engine {
    /// Drive an order, starting again from its stored state while the CA keeps rejecting
    /// nonces, at most [`MAX_ROUNDS`] more times.
    pub(super) async fn drive_through_bad_nonces(
        &self,
        id: &str,
    ) -> Result<(), super::EngineError> {
        let mut round = 0;
        loop {
            match self.drive(id).await {
                Err(error) if error.is_bad_nonce() && round < MAX_ROUNDS => {
                    round += 1;
                    let max = MAX_ROUNDS;
                    warn!(
                        order = %id, round, max,
                        "still badNonce after instant-acme's tries; driving again"
                    );
                }
                outcome => return outcome,
            }
        }
    }
}

/// Run `call` again while it fails with `badNonce`, at most [`MAX_ROUNDS`] more times.
pub(crate) async fn retry_bad_nonce<T, E, F, Fut>(ca: &str, op: &str, mut call: F) -> Result<T, E>
where
    E: RejectedNonce,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut round = 0;
    loop {
        match call().await {
            Err(error) if error.is_bad_nonce() && round < MAX_ROUNDS => {
                round += 1;
                let max = MAX_ROUNDS;
                warn!(
                    %ca, %op, round, max,
                    "still badNonce after instant-acme's tries; asking again"
                );
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn bad_nonce() -> instant_acme::Error {
        let problem = serde_json::from_str(&format!(r#"{{"type":"{BAD_NONCE}","status":400}}"#));
        instant_acme::Error::Api(problem.unwrap())
    }

    #[tokio::test]
    async fn a_bad_nonce_is_retried_until_the_ca_accepts() {
        let calls = AtomicU32::new(0);
        let out = retry_bad_nonce("ca", "op", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(bad_nonce()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(out.unwrap(), 2);
    }

    #[tokio::test]
    async fn bad_nonce_retries_are_bounded() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retry_bad_nonce("ca", "op", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(bad_nonce())
        })
        .await;
        assert!(is_bad_nonce(&out.unwrap_err()));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_ROUNDS + 1);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retry_bad_nonce("ca", "op", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(instant_acme::Error::Str("no"))
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_bad_nonce_body_is_recognised_and_others_are_not() {
        assert!(body_is_bad_nonce(
            format!(r#"{{"type":"{BAD_NONCE}"}}"#).as_bytes()
        ));
        assert!(!body_is_bad_nonce(
            br#"{"type":"urn:ietf:params:acme:error:malformed"}"#
        ));
        assert!(!body_is_bad_nonce(b"<html>"));
    }
}
