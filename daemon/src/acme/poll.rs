//! Waiting for a CA to finish with an order: until it is `ready` after validation, and until it
//! leaves `processing` after finalization (RFC 8555 §7.4).
//!
//! instant-acme's own polling obeys a `Retry-After` that fits its deadline and gives up at once
//! on one that does not, so a CA asking for a day would fail the order and a CA asking for an
//! hour inside a long deadline would stall it. Here every wait is bounded twice: each pause by
//! `retry_after_cap_secs` (a longer `Retry-After` is shortened, with a warning that says so),
//! and the whole wait by `validation_timeout_secs` or `processing_timeout_secs`, after which the
//! order is given up with an error naming it and its CA.

use std::time::{Duration, Instant};

use instant_acme::{OrderStatus as AcmeStatus, RetryPolicy};
use serde::Deserialize;
use tracing::{debug, warn};

/// How patient the engine is with a CA: the `[acme]` section of the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeLimits {
    /// Longest wait for a CA to validate an order's names, in seconds (default 180).
    #[serde(default = "default_validation_timeout")]
    pub validation_timeout_secs: u64,
    /// Longest wait for a finalized order to leave `processing`, in seconds (default 300). An
    /// order still processing then is marked invalid and no longer polled.
    #[serde(default = "default_processing_timeout")]
    pub processing_timeout_secs: u64,
    /// Longest pause between two polls of an order, in seconds (default 60): a CA's longer
    /// `Retry-After` is shortened to this, with a warning.
    #[serde(default = "default_retry_after_cap")]
    pub retry_after_cap_secs: u64,
}

impl Default for AcmeLimits {
    fn default() -> Self {
        Self {
            validation_timeout_secs: default_validation_timeout(),
            processing_timeout_secs: default_processing_timeout(),
            retry_after_cap_secs: default_retry_after_cap(),
        }
    }
}

fn default_validation_timeout() -> u64 {
    180
}

fn default_processing_timeout() -> u64 {
    300
}

fn default_retry_after_cap() -> u64 {
    60
}

/// An order the CA did not finish within the configured time; it is no longer polled.
#[derive(Debug, thiserror::Error)]
#[error(
    "order {order} ({url}) at CA {ca}: still {status} after {waited_secs} s ({setting}); \
     certkeeper stopped polling it"
)]
pub struct StuckOrder {
    /// Our order id.
    pub order: String,
    /// The order's URL at the CA.
    pub url: String,
    /// The CA's configured name.
    pub ca: String,
    /// The state it stayed in.
    pub status: &'static str,
    /// How long certkeeper waited.
    pub waited_secs: u64,
    /// The config key that bounds the wait.
    pub setting: &'static str,
}

impl StuckOrder {
    /// Whether the order is past finalization, so giving up on it ends it.
    pub fn ends_order(&self) -> bool {
        self.status == "processing"
    }
}

/// The order being polled, for log lines and errors.
pub(super) struct Polled<'a> {
    /// Our order id.
    pub order: &'a str,
    /// The CA's configured name.
    pub ca: &'a str,
}

/// Why polling stopped without the wanted state.
pub(super) enum PollFailure {
    /// The CA answered with an error, or could not be reached.
    Ca(instant_acme::Error),
    /// The wait ran past its bound.
    Stuck(StuckOrder),
}

impl PollFailure {
    /// The engine's error for this failure at CA `ca`.
    pub(super) fn into_engine_error(self, ca: &super::CaEndpoint) -> super::EngineError {
        match self {
            Self::Ca(error) => super::EngineError::Acme(ca.ca_error(error)),
            Self::Stuck(stuck) => super::EngineError::Stuck(stuck),
        }
    }
}

/// What is being waited for.
#[derive(Clone, Copy)]
enum Goal {
    /// `ready` (or `invalid`) after validation.
    Ready,
    /// `valid` after finalization, then the certificate chain.
    Certificate,
}

/// What a finished wait gives.
enum Reached {
    Status(AcmeStatus),
    Chain(String),
}

impl AcmeLimits {
    /// Poll until the order is `ready` or `invalid`.
    pub(super) async fn poll_ready(
        &self,
        order: &mut instant_acme::Order,
        polled: &Polled<'_>,
    ) -> Result<AcmeStatus, PollFailure> {
        match self.poll(order, polled, Goal::Ready).await? {
            Reached::Status(status) => Ok(status),
            Reached::Chain(_) => unreachable!("Goal::Ready yields a status"),
        }
    }

    /// Poll until the order is `valid`, then download its certificate chain.
    pub(super) async fn poll_certificate(
        &self,
        order: &mut instant_acme::Order,
        polled: &Polled<'_>,
    ) -> Result<String, PollFailure> {
        match self.poll(order, polled, Goal::Certificate).await? {
            Reached::Chain(chain) => Ok(chain),
            Reached::Status(_) => unreachable!("Goal::Certificate yields a chain"),
        }
    }

    async fn poll(
        &self,
        order: &mut instant_acme::Order,
        polled: &Polled<'_>,
        goal: Goal,
    ) -> Result<Reached, PollFailure> {
        let started = Instant::now();
        let (limit, cap) = self.bounds(goal);
        loop {
            let left = limit.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(PollFailure::Stuck(self.stuck(order, polled, goal)));
            }
            // N.B. one round of instant-acme's polling never outlasts the cap, so a Retry-After
            // longer than the cap comes back to us as a Timeout carrying the CA's instant.
            let policy = RetryPolicy::new().backoff(1.5).timeout(left.min(cap));
            match attempt(order, goal, &policy).await {
                Ok(reached) => return Ok(reached),
                Err(instant_acme::Error::Timeout(Some(next))) => {
                    let asked = next.saturating_duration_since(Instant::now());
                    pause(asked, cap, left, polled).await;
                }
                Err(instant_acme::Error::Timeout(None)) => {}
                Err(error) => return Err(PollFailure::Ca(error)),
            }
        }
    }

    /// The whole wait and the longest pause, each within 1 s to a day even if a config value
    /// slipped past validation: instant-acme adds the pause to `Instant::now()`, which panics
    /// on overflow.
    fn bounds(&self, goal: Goal) -> (Duration, Duration) {
        let most = crate::config::limits::MAX_WAIT_SECS;
        let limit = Duration::from_secs(self.timeout_secs(goal).clamp(1, most));
        let cap = Duration::from_secs(self.retry_after_cap_secs.clamp(1, most));
        (limit, cap)
    }

    fn timeout_secs(&self, goal: Goal) -> u64 {
        match goal {
            Goal::Ready => self.validation_timeout_secs,
            Goal::Certificate => self.processing_timeout_secs,
        }
    }

    fn stuck(
        &self,
        order: &mut instant_acme::Order,
        polled: &Polled<'_>,
        goal: Goal,
    ) -> StuckOrder {
        let status = super::engine::convert_status(order.state().status).as_str();
        let setting = match goal {
            Goal::Ready => "validation_timeout_secs",
            Goal::Certificate => "processing_timeout_secs",
        };
        StuckOrder {
            order: polled.order.to_owned(),
            url: order.url().to_owned(),
            ca: polled.ca.to_owned(),
            status,
            waited_secs: self.timeout_secs(goal),
            setting,
        }
    }
}

async fn attempt(
    order: &mut instant_acme::Order,
    goal: Goal,
    policy: &RetryPolicy,
) -> Result<Reached, instant_acme::Error> {
    match goal {
        Goal::Ready => order.poll_ready(policy).await.map(Reached::Status),
        Goal::Certificate => order.poll_certificate(policy).await.map(Reached::Chain),
    }
}

/// Wait as long as the CA asked, but no longer than `cap` nor past the overall deadline.
async fn pause(asked: Duration, cap: Duration, left: Duration, polled: &Polled<'_>) {
    let wait = asked.min(cap).min(left);
    if asked > cap {
        warn!(
            order = %polled.order, ca = %polled.ca, retry_after_secs = asked.as_secs(),
            waiting_secs = wait.as_secs(),
            "the CA's Retry-After is longer than retry_after_cap_secs; polling sooner"
        );
    } else {
        let retry_after_secs = asked.as_secs();
        debug!(order = %polled.order, ca = %polled.ca, retry_after_secs, "waiting as the CA asked");
    }
    tokio::time::sleep(wait).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_of_u64_max_seconds_are_bounded_so_instants_cannot_overflow() {
        let limits = AcmeLimits {
            validation_timeout_secs: u64::MAX,
            processing_timeout_secs: u64::MAX,
            retry_after_cap_secs: u64::MAX,
        };
        for goal in [Goal::Ready, Goal::Certificate] {
            let (limit, cap) = limits.bounds(goal);
            assert_eq!(limit, Duration::from_secs(86_400));
            assert!(Instant::now().checked_add(limit.min(cap)).is_some());
        }
    }

    #[test]
    fn an_empty_acme_section_gives_the_documented_defaults() {
        let limits: AcmeLimits = toml::from_str("").unwrap();
        assert_eq!(limits.validation_timeout_secs, 180);
        assert_eq!(limits.processing_timeout_secs, 300);
        assert_eq!(limits.retry_after_cap_secs, 60);
    }

    #[test]
    fn an_unknown_key_in_the_acme_section_is_refused() {
        let err = toml::from_str::<AcmeLimits>("retry_after_max = 3").unwrap_err();
        assert!(err.to_string().contains("retry_after_max"), "{err}");
    }

    #[test]
    fn a_stuck_order_error_names_the_order_the_ca_and_the_setting() {
        let stuck = StuckOrder {
            order: "ord-1".into(),
            url: "https://ca/order/1".into(),
            ca: "fake".into(),
            status: "processing",
            waited_secs: 4,
            setting: "processing_timeout_secs",
        };
        let text = stuck.to_string();
        for part in [
            "ord-1",
            "https://ca/order/1",
            "CA fake",
            "processing_timeout_secs",
        ] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        assert!(stuck.ends_order());
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_retry_after_is_shortened_to_the_cap() {
        let polled = Polled {
            order: "o",
            ca: "c",
        };
        let begun = tokio::time::Instant::now();
        let day = Duration::from_secs(86_400);
        pause(day, Duration::from_secs(3), day, &polled).await;
        assert_eq!(begun.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_retry_after_is_waited_in_full() {
        let polled = Polled {
            order: "o",
            ca: "c",
        };
        let begun = tokio::time::Instant::now();
        let asked = Duration::from_secs(2);
        pause(
            asked,
            Duration::from_secs(60),
            Duration::from_secs(300),
            &polled,
        )
        .await;
        assert_eq!(begun.elapsed(), asked);
    }
}
