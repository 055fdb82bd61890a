//! Prometheus metrics: counters and a latency histogram bumped at their call sites, gauges read
//! from the store at scrape time, written in the text exposition format by hand (the format is
//! small and stable; a client library would add more than it saves).
//!
//! Counting is always on and costs a mutex and a map lookup; the endpoint is off unless
//! `[metrics] listen` is set.

mod server;
mod text;

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

pub use server::{Gauges, MetricsConfig, MetricsError, serve};
pub use text::parse;
pub use text::{Exposition, Sample};

/// Upper bounds, in seconds, of the plugin call latency histogram.
const LATENCY_BUCKETS: [f64; 9] = [0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0];

/// A counter's family and its labels in a fixed order.
type CounterKey = (&'static str, Vec<(&'static str, String)>);

/// A histogram's bucket counts, sum and count.
type Histogram = ([u64; 9], f64, u64);

#[derive(Default)]
struct Registry {
    counters: BTreeMap<CounterKey, f64>,
    /// (plugin, operation, result) → histogram.
    latency: BTreeMap<(String, String, String), Histogram>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn bump(family: &'static str, labels: Vec<(&'static str, String)>) {
    let mut registry = REGISTRY
        .lock()
        .expect("metrics lock poisoned only by a panic");
    *registry.counters.entry((family, labels)).or_insert(0.0) += 1.0;
}

/// Count one request to CA `ca`: `op` names it (`new-order`, `renewal-info`…), `result` is
/// `ok` or `error`.
pub fn acme_request(ca: &str, op: &str, result: &str) {
    bump(
        "certkeeper_acme_requests_total",
        vec![
            ("ca", ca.into()),
            ("op", op.into()),
            ("result", result.into()),
        ],
    );
}

/// Count one request to CA `ca` by its outcome.
pub fn acme_result<T, E>(ca: &str, op: &str, outcome: &Result<T, E>) {
    acme_request(ca, op, if outcome.is_ok() { "ok" } else { "error" });
}

/// Count one nonce CA `ca` rejected with `badNonce` (each is signed again with a fresh nonce).
pub fn acme_bad_nonce(ca: &str) {
    bump("certkeeper_acme_bad_nonce_total", vec![("ca", ca.into())]);
}

/// Count one DNS query the built-in server answered, by its response code.
pub fn dns_query_answered(rcode: &str) {
    dns_queries_answered(rcode, 1);
}

/// Count `count` DNS queries the built-in server answered with the same response code.
pub fn dns_queries_answered(rcode: &str, count: u64) {
    let labels = vec![("rcode", rcode.to_ascii_lowercase())];
    let mut registry = REGISTRY
        .lock()
        .expect("metrics lock poisoned only by a panic");
    *registry
        .counters
        .entry(("certkeeper_dns_queries_answered_total", labels))
        .or_insert(0.0) += count as f64;
}

/// Count one failed renewal attempt of certificate `name`.
pub fn renewal_failure(name: &str) {
    bump(
        "certkeeper_renewal_failures_total",
        vec![("certificate", name.into())],
    );
}

/// Count one failed attempt to write certificate `name` to its deploy targets.
pub fn deploy_failure(name: &str) {
    bump(
        "certkeeper_deploy_failures_total",
        vec![("certificate", name.into())],
    );
}

/// Count one hook run by its outcome.
pub fn hook_run(certificate: &str, result: &str) {
    bump(
        "certkeeper_deploy_hook_runs_total",
        vec![
            ("certificate", certificate.into()),
            ("result", result.into()),
        ],
    );
}

/// Record one plugin call: counted by plugin, operation and result, and timed.
pub fn plugin_call(plugin: &str, op: &str, result: &str, elapsed: Duration) {
    bump(
        "certkeeper_plugin_calls_total",
        vec![
            ("plugin", plugin.into()),
            ("op", op.into()),
            ("result", result.into()),
        ],
    );
    let mut registry = REGISTRY
        .lock()
        .expect("metrics lock poisoned only by a panic");
    let key = (plugin.to_owned(), op.to_owned(), result.to_owned());
    let (buckets, sum, count) = registry.latency.entry(key).or_default();
    let seconds = elapsed.as_secs_f64();
    for (bucket, bound) in buckets.iter_mut().zip(LATENCY_BUCKETS) {
        if seconds <= bound {
            *bucket += 1;
        }
    }
    *sum += seconds;
    *count += 1;
}

/// Write every counter and histogram recorded so far into `out`.
pub fn write_recorded(out: &mut Exposition) {
    let registry = REGISTRY
        .lock()
        .expect("metrics lock poisoned only by a panic");
    for ((family, labels), value) in &registry.counters {
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.sample(family, "counter", &labels, *value);
    }
    let family = "certkeeper_plugin_call_duration_seconds";
    for ((plugin, op, result), (buckets, sum, count)) in &registry.latency {
        let base = [
            ("plugin", plugin.as_str()),
            ("op", op.as_str()),
            ("result", result.as_str()),
        ];
        for (bucket, bound) in buckets.iter().zip(LATENCY_BUCKETS) {
            let le = bound.to_string();
            let labels = [base[0], base[1], base[2], ("le", le.as_str())];
            out.histogram_part(family, "_bucket", &labels, *bucket as f64);
        }
        let labels = [base[0], base[1], base[2], ("le", "+Inf")];
        out.histogram_part(family, "_bucket", &labels, *count as f64);
        out.histogram_part(family, "_sum", &base, *sum);
        out.histogram_part(family, "_count", &base, *count as f64);
    }
}
