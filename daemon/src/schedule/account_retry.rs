//! When to try again to register a configured account that could not be registered: after one
//! pass, then two, four, … passes, at most `backoff_base_secs` apart. Without it, a CA that is
//! down or refuses the account got a new-account request every pass (every minute by default)
//! for as long as the daemon ran. A config reload forgets the failures, so a fixed account is
//! tried at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// Failures in a row, the next attempt and the last error, by account name.
#[derive(Debug, Default)]
pub(super) struct AccountRetries {
    failing: HashMap<String, (u32, Instant, String)>,
}

impl AccountRetries {
    /// Whether account `name` may be tried at `now`.
    pub(super) fn due(&self, name: &str, now: Instant) -> bool {
        self.failing
            .get(name)
            .is_none_or(|(_, next, _)| now >= *next)
    }

    /// Why the last attempt to register account `name` failed, while it is failing.
    pub(super) fn last_error(&self, name: &str) -> Option<&str> {
        self.failing.get(name).map(|(_, _, error)| error.as_str())
    }

    /// Record a failed attempt at `now` and why; returns how long until the next one.
    pub(super) fn failed(
        &mut self,
        name: &str,
        now: Instant,
        (interval, cap): (Duration, Duration),
        error: String,
    ) -> Duration {
        let failures = self.failing.get(name).map_or(0, |(n, _, _)| *n) + 1;
        let wait = interval
            .saturating_mul(1u32 << (failures - 1).min(20))
            .min(cap.max(interval));
        // N.B. past what the clock can hold means a year on, not now.
        let next = now.checked_add(wait).unwrap_or_else(|| now + YEAR);
        self.failing
            .insert(name.to_owned(), (failures, next, error));
        wait
    }

    /// Forget `name`'s failures: it was registered.
    pub(super) fn succeeded(&mut self, name: &str) {
        self.failing.remove(name);
    }

    /// Forget every failure: the config changed.
    pub(super) fn clear(&mut self) {
        self.failing.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_failing_account_waits_one_pass_then_twice_as_long_each_time_up_to_the_cap() {
        let (mut retries, start) = (AccountRetries::default(), Instant::now());
        assert!(retries.due("a", start));
        let waits: Vec<u64> = (0..9)
            .map(|_| {
                retries
                    .failed("a", start, (MINUTE, HOUR), "down".into())
                    .as_secs()
                    / 60
            })
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert!(!retries.due("a", start + HOUR - Duration::from_secs(1)));
        assert!(retries.due("a", start + HOUR));
        assert!(retries.due("b", start), "another account is not held back");
    }

    #[test]
    fn success_and_a_reload_let_an_account_be_tried_at_once() {
        let (mut retries, start) = (AccountRetries::default(), Instant::now());
        retries.failed("a", start, (MINUTE, HOUR), "down".into());
        retries.failed("b", start, (MINUTE, HOUR), "refused".into());
        assert_eq!(retries.last_error("b"), Some("refused"));
        retries.succeeded("a");
        assert!(retries.due("a", start));
        assert_eq!(retries.last_error("a"), None);
        assert!(!retries.due("b", start));
        retries.clear();
        assert!(retries.due("b", start));
    }

    #[test]
    fn absurd_settings_do_not_overflow() {
        let mut retries = AccountRetries::default();
        let huge = Duration::from_secs(u64::MAX);
        for _ in 0..40 {
            retries.failed("a", Instant::now(), (huge, huge), String::new());
        }
        assert!(!retries.due("a", Instant::now()));
    }
}
