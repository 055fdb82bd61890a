//! Retry-After on refusals: when a CA answers 429 (rate limited) or 503 (unavailable) with a
//! `Retry-After` header (RFC 9110 §10.2.3; RFC 8555 §6.6 asks clients to honour it), no request
//! goes to that CA until the time it named has passed, whichever part of the daemon sends it.
//!
//! The wait is bounded by `[acme] retry_after_cap_secs`, like the polling waits, so a CA that
//! asks for a day does not silence the daemon for a day; the warning says what was asked and
//! what is kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use hyper::StatusCode;
use hyper::http::response::Parts;
use tokio::time::Instant;
use tracing::{info, warn};

/// Per CA name: no request before this instant.
static HOLDS: LazyLock<Mutex<HashMap<String, Instant>>> = LazyLock::new(Mutex::default);

/// The longest hold, in seconds (`[acme] retry_after_cap_secs`).
static CAP_SECS: AtomicU64 = AtomicU64::new(60);

/// The cap on the cap, so an instant a hold ends at can always be computed.
const DAY: Duration = Duration::from_secs(86_400);

/// Bound every later hold by `secs` (set from the config when the engine is built).
pub(crate) fn set_cap(secs: u64) {
    CAP_SECS.store(secs.clamp(1, DAY.as_secs()), Ordering::Relaxed);
}

/// Wait until CA `ca` may be asked again.
pub(crate) async fn wait_turn(ca: &str) {
    let until = HOLDS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(ca)
        .copied();
    if let Some(until) = until.filter(|u| *u > Instant::now()) {
        let secs = (until - Instant::now()).as_secs_f64();
        info!(%ca, wait_secs = format!("{secs:.1}"), "waiting for the CA's Retry-After");
        tokio::time::sleep_until(until).await;
    }
}

/// Remember a `Retry-After` from a 429 or 503 answer to a request for `url`.
pub(crate) fn note(ca: &str, url: &str, parts: &Parts) {
    if !matches!(
        parts.status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        return;
    }
    let Some(asked) = parts
        .headers
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse(v, SystemTime::now()))
    else {
        return;
    };
    let cap = Duration::from_secs(CAP_SECS.load(Ordering::Relaxed));
    let kept = asked.min(cap);
    warn!(
        %ca, %url, status = parts.status.as_u16(), retry_after_secs = asked.as_secs(),
        waiting_secs = kept.as_secs(), "the CA asked to wait; no request to it until then"
    );
    let mut holds = HOLDS.lock().unwrap_or_else(PoisonError::into_inner);
    let now = Instant::now();
    let until = now.checked_add(kept).unwrap_or(now + DAY);
    let entry = holds.entry(ca.to_owned()).or_insert(until);
    *entry = (*entry).max(until);
}

/// A `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), as a wait from
/// `now`. A date in the past is no wait; anything else unreadable is ignored.
fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(status: u16, retry_after: &str) -> Parts {
        let response = hyper::Response::builder()
            .status(status)
            .header("retry-after", retry_after)
            .body(())
            .unwrap();
        response.into_parts().0
    }

    #[test]
    fn delay_seconds_and_http_dates_are_read_and_garbage_is_not() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse("120", now), Some(Duration::from_secs(120)));
        // RFC 9110's example date, 1994-11-06 08:49:37 GMT, is 784111777 s after the epoch.
        let date = "Sun, 06 Nov 1994 08:50:37 GMT";
        assert_eq!(parse(date, now), Some(Duration::from_secs(60)));
        assert_eq!(
            parse("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse("soon", now), None);
        assert_eq!(parse("-5", now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_503_with_retry_after_holds_the_next_request_to_that_ca_only() {
        note("hold-test-a", "https://ca.test/new-order", &parts(503, "5"));
        let started = Instant::now();
        wait_turn("hold-test-b").await;
        assert_eq!(started.elapsed(), Duration::ZERO, "another CA is not held");
        wait_turn("hold-test-a").await;
        assert!(started.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_on_a_success_or_a_400_is_not_a_hold() {
        note("hold-test-c", "https://ca.test/x", &parts(200, "30"));
        note("hold-test-c", "https://ca.test/x", &parts(400, "30"));
        let started = Instant::now();
        wait_turn("hold-test-c").await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_day_long_retry_after_is_capped() {
        set_cap(60);
        note("hold-test-d", "https://ca.test/x", &parts(429, "86400"));
        let started = Instant::now();
        wait_turn("hold-test-d").await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(60) && waited < Duration::from_secs(61));
    }
}
