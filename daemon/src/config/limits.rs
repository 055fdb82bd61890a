//! Ranges for the numbers in `[acme]` and `[renewal]`: every duration and count key has a
//! documented range, so an absurd value stops `check-config` and daemon start with the file,
//! line and key instead of panicking a task (`u64::MAX` seconds overflows every clock) or
//! failing every order at once (a timeout of 0).

use std::ops::RangeInclusive;

use super::Config;
use super::error::Misplaced;

/// One day: the longest wait for a CA to validate or process an order, the longest pause
/// between two polls and the longest scheduler interval.
pub const MAX_WAIT_SECS: u64 = 86_400;

/// Thirty days: the longest backoff after a failed renewal.
pub const MAX_BACKOFF_SECS: u64 = 30 * 86_400;

/// The most failures in a row before a certificate is flagged `failing`.
pub const MAX_FLAG_AFTER: u64 = 1000;

const WAIT: RangeInclusive<u64> = 1..=MAX_WAIT_SECS;
const BACKOFF: RangeInclusive<u64> = 1..=MAX_BACKOFF_SECS;
const FLAG_AFTER: RangeInclusive<u64> = 1..=MAX_FLAG_AFTER;

/// Check every `[acme]` and `[renewal]` number against its range; errors point at the key's
/// line in `text` (the section's header when the key is not found).
pub(crate) fn check(config: &Config, text: &str) -> Result<(), Misplaced> {
    let acme = &config.acme;
    let renewal = &config.renewal;
    let keys = [
        (
            "acme",
            "validation_timeout_secs",
            acme.validation_timeout_secs,
            WAIT,
        ),
        (
            "acme",
            "processing_timeout_secs",
            acme.processing_timeout_secs,
            WAIT,
        ),
        (
            "acme",
            "retry_after_cap_secs",
            acme.retry_after_cap_secs,
            WAIT,
        ),
        (
            "renewal",
            "check_interval_secs",
            renewal.check_interval_secs,
            WAIT,
        ),
        (
            "renewal",
            "backoff_base_secs",
            renewal.backoff_base_secs,
            BACKOFF,
        ),
        (
            "renewal",
            "backoff_cap_secs",
            renewal.backoff_cap_secs,
            BACKOFF,
        ),
        (
            "renewal",
            "flag_after",
            u64::from(renewal.flag_after),
            FLAG_AFTER,
        ),
    ];
    for (section, key, value, range) in keys {
        if !range.contains(&value) {
            let msg = format!(
                "[{section}] {key} = {value} is out of range: allowed {}–{}",
                range.start(),
                range.end()
            );
            return Err(Misplaced::new(locate(text, section, key), msg));
        }
    }
    if renewal.backoff_base_secs > renewal.backoff_cap_secs {
        let msg = format!(
            "[renewal] backoff_base_secs = {} is above backoff_cap_secs = {}; the first wait \
             would already pass the cap",
            renewal.backoff_base_secs, renewal.backoff_cap_secs
        );
        return Err(Misplaced::new(
            locate(text, "renewal", "backoff_base_secs"),
            msg,
        ));
    }
    Ok(())
}

/// The span of `key = ...` inside `[section]`, else of the section's header.
fn locate(text: &str, section: &str, key: &str) -> std::ops::Range<usize> {
    let header = format!("[{section}]");
    let start = text.find(&header).unwrap_or(0);
    let end = text[start + 1..]
        .find("\n[")
        .map_or(text.len(), |i| start + 1 + i);
    let mut offset = start;
    for line in text[start..end].split_inclusive('\n') {
        let trimmed = line.trim_start();
        let is_key = trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if is_key {
            let at = offset + (line.len() - trimmed.len());
            return at..at + key.len();
        }
        offset += line.len();
    }
    start..start + 1
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;

    const BASE: &str = "store = \"/tmp/ck.redb\"\n";

    fn error_of(extra: &str) -> String {
        Config::parse(Path::new("ck.toml"), &format!("{BASE}{extra}"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_backoff_of_u64_max_seconds_is_refused_at_its_line() {
        let err = error_of(
            "[renewal]\ncheck_interval_secs = 2\nbackoff_base_secs = 18446744073709551615\n",
        );
        assert!(err.starts_with("ck.toml:4:1:"), "{err}");
        assert!(err.contains("backoff_base_secs"), "{err}");
        assert!(err.contains("allowed 1–2592000"), "{err}");
    }

    #[test]
    fn absurd_acme_timeouts_are_refused_naming_the_key() {
        for key in [
            "validation_timeout_secs",
            "processing_timeout_secs",
            "retry_after_cap_secs",
        ] {
            for value in ["0", "86401", "18446744073709551615"] {
                let err = error_of(&format!("[acme]\n{key} = {value}\n"));
                assert!(err.starts_with("ck.toml:3:1:"), "{err}");
                assert!(
                    err.contains(key) && err.contains("allowed 1–86400"),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn flag_after_zero_and_a_zero_backoff_cap_are_refused() {
        let err = error_of("[renewal]\nflag_after = 0\n");
        assert!(err.contains("flag_after = 0 is out of range"), "{err}");
        let err = error_of("[renewal]\nbackoff_cap_secs = 0\n");
        assert!(err.contains("(key `backoff_cap_secs`)"), "{err}");
    }

    #[test]
    fn values_inside_the_ranges_are_accepted() {
        let text = format!(
            "{BASE}[acme]\nvalidation_timeout_secs = 86400\nretry_after_cap_secs = 1\n\
             [renewal]\nbackoff_cap_secs = 2592000\nflag_after = 1000\n"
        );
        Config::parse(Path::new("ck.toml"), &text).unwrap();
    }
}
