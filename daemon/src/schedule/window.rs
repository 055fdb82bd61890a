//! When to renew: the renewal window of a certificate, a random point inside it that is never on
//! the hour, and the backoff after a failed attempt. Pure functions of an injected `now` and
//! random source, so tests need no clock.

use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;

/// A span of time in which a renewal should start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Earliest moment to renew.
    pub start: OffsetDateTime,
    /// Latest moment to renew.
    pub end: OffsetDateTime,
}

/// Lifetimes up to this long renew at half their life rather than at two thirds.
const SHORT_LIFETIME: time::Duration = time::Duration::days(10);

/// The window from the lifetime alone: it opens when a third of the lifetime is left (half, for
/// lifetimes of ten days or less) and spans a tenth of the lifetime, so a fleet spreads out.
pub fn lifetime_window(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Window {
    let lifetime = not_after - not_before;
    let left = if lifetime <= SHORT_LIFETIME {
        lifetime / 2
    } else {
        lifetime / 3
    };
    let start = not_after - left;
    Window {
        start,
        end: start + lifetime / 10,
    }
}

/// A uniformly random point of `window`, or `now` when the window has already opened
/// (RFC 9773 §4.2: a window starting in the past means renew at once). A point that falls
/// within a minute after a full hour moves a few minutes on, away from every cron job's
/// favourite moment, when the window leaves room for that.
pub fn pick(window: Window, now: OffsetDateTime, rng: &mut impl Rng) -> OffsetDateTime {
    if window.start <= now {
        return now;
    }
    let span = (window.end - window.start).whole_milliseconds().max(0) as i64;
    let offset = if span == 0 {
        0
    } else {
        rng.random_range(0..=span)
    };
    let at = window.start + time::Duration::milliseconds(offset);
    off_the_hour(at, window.end)
}

fn off_the_hour(at: OffsetDateTime, end: OffsetDateTime) -> OffsetDateTime {
    if at.minute() != 0 {
        return at;
    }
    let moved = at + time::Duration::minutes(7);
    if moved <= end { moved } else { at }
}

/// How long to wait after `failures` failed attempts in a row: `base` doubling each time up
/// to `cap`, with up to a quarter added at random so failing certificates do not retry in step,
/// and never sooner than the CA's own Retry-After.
pub fn backoff(
    failures: u32,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Duration {
    let doubled = base.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let wait = doubled.min(cap);
    let jitter = wait.mul_f64(rng.random_range(0.0..0.25));
    let wait = wait.saturating_add(jitter);
    match retry_after {
        Some(ca) if ca > wait => ca,
        _ => wait,
    }
}

/// When to ask for renewal information again after the CA's `Retry-After` (RFC 9773 §4.3): at
/// least a minute on, and at most a year, so a CA's absurd value cannot overflow the clock.
pub(super) fn ari_refresh_at(now: OffsetDateTime, retry_after: Duration) -> OffsetDateTime {
    let year = time::Duration::days(365);
    let retry = time::Duration::try_from(retry_after)
        .unwrap_or(year)
        .clamp(time::Duration::MINUTE, year);
    now + retry
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use time::macros::datetime;

    use super::*;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn a_backoff_of_u64_max_seconds_saturates_instead_of_panicking() {
        let huge = Duration::from_secs(u64::MAX);
        for failures in [1, 2, 30] {
            let wait = backoff(failures, huge, huge, None, &mut rng());
            assert!(wait >= Duration::from_secs(u64::MAX), "{wait:?}");
        }
    }

    #[test]
    fn an_absurd_ari_retry_after_is_held_to_a_year_and_a_tiny_one_to_a_minute() {
        let now = datetime!(2026-05-01 12:00 UTC);
        let far = ari_refresh_at(now, Duration::from_secs(u64::MAX / 2));
        assert_eq!(far, now + time::Duration::days(365));
        assert_eq!(
            ari_refresh_at(now, Duration::ZERO),
            now + time::Duration::MINUTE
        );
    }

    #[test]
    fn ninety_day_certificates_open_their_window_with_thirty_days_left() {
        let nb = datetime!(2026-01-01 00:00 UTC);
        let window = lifetime_window(nb, nb + time::Duration::days(90));
        assert_eq!(window.start, datetime!(2026-03-02 00:00 UTC));
        assert_eq!(window.end, window.start + time::Duration::days(9));
    }

    #[test]
    fn six_day_certificates_renew_at_half_their_life() {
        let nb = datetime!(2026-01-01 00:00 UTC);
        let window = lifetime_window(nb, nb + time::Duration::days(6));
        assert_eq!(window.start, datetime!(2026-01-04 00:00 UTC));
    }

    #[test]
    fn renews_at_once_when_the_window_has_opened() {
        let now = datetime!(2026-05-01 12:00 UTC);
        let window = Window {
            start: now - time::Duration::hours(1),
            end: now + time::Duration::hours(1),
        };
        assert_eq!(pick(window, now, &mut rng()), now);
    }

    #[test]
    fn picks_inside_a_future_window_and_never_in_the_first_minute_of_an_hour() {
        let now = datetime!(2026-05-01 00:00 UTC);
        let window = Window {
            start: datetime!(2026-05-10 00:00 UTC),
            end: datetime!(2026-05-12 00:00 UTC),
        };
        let mut rng = rng();
        for _ in 0..2000 {
            let at = pick(window, now, &mut rng);
            assert!(at >= window.start && at <= window.end, "{at}");
            assert_ne!(at.minute(), 0, "{at} is on the hour");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_secs(60);
        let cap = Duration::from_secs(600);
        let mut rng = rng();
        let first = backoff(1, base, cap, None, &mut rng);
        let third = backoff(3, base, cap, None, &mut rng);
        let tenth = backoff(10, base, cap, None, &mut rng);
        assert!((60..75).contains(&first.as_secs()), "{first:?}");
        assert!((240..300).contains(&third.as_secs()), "{third:?}");
        assert!((600..750).contains(&tenth.as_secs()), "{tenth:?}");
    }

    #[test]
    fn backoff_waits_at_least_as_long_as_the_cas_retry_after() {
        let wait = backoff(
            1,
            Duration::from_secs(1),
            Duration::from_secs(10),
            Some(Duration::from_secs(3600)),
            &mut rng(),
        );
        assert_eq!(wait, Duration::from_secs(3600));
    }
}
