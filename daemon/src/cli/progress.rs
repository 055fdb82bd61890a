//! A one-line progress display for long waits (DNS propagation, CA processing), shown only when
//! a person is watching: on a terminal it redraws one line on standard error; in scripts and
//! pipes it prints nothing.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use serde_json::Value;

/// The progress line of one wait.
pub(super) struct Progress {
    shown: bool,
    started: Instant,
}

impl Progress {
    /// Progress for a wait that starts now; silent unless standard error is a terminal.
    pub(super) fn start() -> Self {
        Self {
            shown: std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    /// Redraw the line for the order as the daemon last described it.
    pub(super) fn update(&self, order: &Value) {
        if self.shown {
            let line = describe(order, self.started.elapsed().as_secs());
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        }
    }

    /// End the line so what follows starts on its own.
    pub(super) fn finish(&self) {
        if self.shown {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// `order 1a2b: pending · 1/2 challenges ready, 0 valid · waiting for DNS propagation · 12 s`
fn describe(order: &Value, seconds: u64) -> String {
    let id = order["id"].as_str().unwrap_or("?");
    let status = order["status"].as_str().unwrap_or("?");
    let challenges = order["challenges"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let count = |s: &str| challenges.iter().filter(|c| c["status"] == s).count();
    let (ready, valid) = (count("ready") + count("valid"), count("valid"));
    let stage = match status {
        "pending" if ready < challenges.len() => "waiting until the records can be seen",
        "pending" => "the CA is validating",
        "processing" => "the CA is issuing",
        _ => "",
    };
    let total = challenges.len();
    let mut line =
        format!("order {id}: {status} · {ready}/{total} challenges ready, {valid} valid");
    if !stage.is_empty() {
        line.push_str(&format!(" · {stage}"));
    }
    line.push_str(&format!(" · {seconds} s"));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_what_a_pending_order_waits_for() {
        let order = serde_json::json!({
            "id": "ab12", "status": "pending",
            "challenges": [{"status": "ready"}, {"status": "not-ready"}],
        });
        assert_eq!(
            describe(&order, 12),
            "order ab12: pending · 1/2 challenges ready, 0 valid · \
             waiting until the records can be seen · 12 s"
        );
    }

    #[test]
    fn describes_an_order_the_ca_is_issuing() {
        let order = serde_json::json!({"id": "x", "status": "processing", "challenges": [{"status": "valid"}]});
        assert!(describe(&order, 3).contains("1/1 challenges ready, 1 valid · the CA is issuing"));
    }
}
