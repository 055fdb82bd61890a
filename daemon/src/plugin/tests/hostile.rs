//! The sandbox against a plugin that misbehaves on purpose: each fault fails its own call with
//! a fault that says what happened, and the host goes on serving the next call.

use std::time::{Duration, Instant};

use super::*;

/// A provider instance of the hostile plugin in `mode`, with `extra` config keys.
fn hostile(name: &str, mode: &str, extra: serde_json::Value) -> ProviderConfig {
    let mut config = serde_json::json!({
        "name": name,
        "plugin": "test-hostile",
        "allowed_hosts": ["127.0.0.1:8081"],
        "settings": { "mode": mode, "url": "http://127.0.0.9:9" },
    });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    serde_json::from_value(config).expect("hostile provider config")
}

/// A host with the hostile plugin and PowerDNS, the provider `bad` in `mode`, and a well-behaved
/// provider `good` of the same plugin.
fn host_with(mode: &str, extra: serde_json::Value) -> (tempfile::TempDir, PluginHost) {
    let dir = dir_with_powerdns();
    std::fs::copy(hostile_wasm(), dir.path().join("test_hostile.wasm")).expect("copy plugin");
    let providers = vec![
        hostile("bad", mode, extra),
        hostile("good", "ok", serde_json::json!({})),
        provider("pdns", "powerdns"),
    ];
    let host = PluginHost::load(dir.path(), providers).expect("load the test plugins");
    (dir, host)
}

/// The calls that show the host still serves: the well-behaved instance of the same plugin and
/// the PowerDNS plugin (which, unconfigured, answers its own bad-config error).
async fn assert_still_serving(host: &PluginHost) {
    host.test_connection("good")
        .await
        .expect("a well-behaved call right after the fault succeeds");
    let error = host.test_connection("pdns").await.unwrap_err();
    assert!(
        matches!(error.provider_error(), Some(ProviderError::BadConfig(_))),
        "PowerDNS should have answered for itself: {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_is_interrupted_at_the_providers_time_limit() {
    let (_dir, host) = host_with("loop", serde_json::json!({ "call_timeout_secs": 1 }));
    let started = Instant::now();

    let error = host.test_connection("bad").await.unwrap_err();

    assert_eq!(
        error.host_fault(),
        Some(&HostFault::Timeout(Duration::from_secs(1))),
        "{error}"
    );
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(error.to_string().contains("bad") && error.to_string().contains("test-hostile"));
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_asleep_in_a_host_call_is_timed_out_by_the_caller() {
    let (_dir, host) = host_with("sleep", serde_json::json!({ "call_timeout_secs": 1 }));
    let started = Instant::now();

    let error = host.test_connection("bad").await.unwrap_err();

    assert_eq!(
        error.host_fault(),
        Some(&HostFault::Timeout(Duration::from_secs(1))),
        "{error}"
    );
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn other_calls_are_served_while_one_call_loops() {
    let (_dir, host) = host_with("loop", serde_json::json!({ "call_timeout_secs": 3 }));
    let host = Arc::new(host);
    let looping = tokio::spawn({
        let host = Arc::clone(&host);
        async move { host.test_connection("bad").await }
    });

    for _ in 0..20 {
        host.test_connection("good")
            .await
            .expect("served meanwhile");
    }

    assert!(
        !looping.is_finished(),
        "the loop ended before its time limit"
    );
    let error = looping.await.unwrap().unwrap_err();
    assert!(matches!(error.host_fault(), Some(HostFault::Timeout(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_stops_at_the_providers_memory_limit() {
    let (_dir, host) = host_with("alloc", serde_json::json!({ "memory_limit_mib": 16 }));

    let error = host
        .present("bad", "_acme-challenge.example.test", "v", 60)
        .await
        .unwrap_err();

    assert_eq!(
        error.host_fault(),
        Some(&HostFault::MemoryLimit(16 << 20)),
        "{error}"
    );
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_plugin_is_a_trap_fault() {
    let (_dir, host) = host_with("trap", serde_json::json!({}));

    let error = host
        .cleanup("bad", "_acme-challenge.example.test", "v")
        .await
        .unwrap_err();

    assert!(
        matches!(error.host_fault(), Some(HostFault::Trap(_))),
        "{error}"
    );
    assert!(error.to_string().contains("cleanup"), "{error}");
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_outside_allowed_hosts_fails_in_the_plugin_and_is_logged() {
    let logs = captured_logs();
    let (_dir, host) = host_with("forbidden-host", serde_json::json!({ "name": "nosy" }));

    let error = host.test_connection("nosy").await.unwrap_err();

    let Some(ProviderError::BadConfig(message)) = error.provider_error() else {
        panic!("expected the plugin's bad-config error, got {error}");
    };
    assert!(message.contains("127.0.0.9:9"), "{message}");
    let logs = logs.text();
    let line = logs
        .lines()
        .find(|line| line.contains("not in allowed_hosts") && line.contains("provider=nosy"))
        .unwrap_or_else(|| panic!("no refusal logged for nosy in:\n{logs}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("plugin=test-hostile") && line.contains("host=127.0.0.9:9"));
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_that_does_not_hold_the_name_is_refused_as_an_invalid_answer() {
    let (_dir, host) = host_with("garbage", serde_json::json!({}));

    let error = host
        .find_zone("bad", "_acme-challenge.example.test")
        .await
        .unwrap_err();

    let Some(HostFault::InvalidAnswer(why)) = error.host_fault() else {
        panic!("expected an invalid-answer fault, got {error}");
    };
    assert!(why.contains("_acme-challenge.example.test."), "{why}");
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_error_message_is_cut_to_a_readable_length() {
    let (_dir, host) = host_with("garbage", serde_json::json!({}));

    let error = host.test_connection("bad").await.unwrap_err();

    let Some(ProviderError::Other(message)) = error.provider_error() else {
        panic!("expected the plugin's own error, got {error}");
    };
    assert!(message.len() < 2100, "{} bytes", message.len());
    assert!(message.ends_with("[truncated]"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_mode_shows_the_test_plugin_reads_its_settings() {
    let (_dir, host) = host_with("dance", serde_json::json!({}));

    let error = host.test_connection("bad").await.unwrap_err();

    assert!(error.to_string().contains("dance"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn more_calls_at_once_than_instance_slots_wait_for_a_slot_instead_of_failing() {
    let dir = dir_with_powerdns();
    std::fs::copy(hostile_wasm(), dir.path().join("test_hostile.wasm")).expect("copy plugin");
    let slow = serde_json::json!({
        "name": "slow",
        "plugin": "test-hostile",
        "settings": { "mode": "slow", "delay_ms": "300" },
    });
    let slow: ProviderConfig = serde_json::from_value(slow).expect("slow provider config");
    let host = std::sync::Arc::new(PluginHost::load(dir.path(), vec![slow]).expect("load"));
    let calls = crate::plugin::pool::CALL_SLOTS as usize + 16;

    let started = Instant::now();
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let host = std::sync::Arc::clone(&host);
            tokio::spawn(async move { host.test_connection("slow").await })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("the call task ends")
            .expect("every call gets a slot");
    }
    // N.B. a lower bound, so never flaky: past the slots, calls run in a second wave.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600),
        "{calls} calls of 300 ms ran at once in {elapsed:?}: the slot gate is not in effect"
    );
}
