//! Unattended renewal against a pebble that issues 40-second certificates: renewal, deploy and
//! hooks with no CLI action, backoff against a CA that is down at first, SIGHUP reloads, and the
//! metrics page.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use certkeeper::metrics::{Sample, parse};
use serde_json::Value;

use crate::support::*;

const FAST_RENEWAL: &str = "\n[renewal]\ncheck_interval_secs = 1\nbackoff_base_secs = 1\n\
                            backoff_cap_secs = 4\nflag_after = 2\n";

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn short_config(dir: &Path, metrics_port: u16) -> String {
    let d = dir.display();
    let extra = format!(
        r#"{FAST_RENEWAL}
[metrics]
listen = "127.0.0.1:{metrics_port}"

[[certificate]]
name = "short"
names = ["short.example.test"]
account = "main"
challenge = "http-01"

[[certificate.deploy]]
cert = "{d}/out/cert.pem"
chain = "{d}/out/chain.pem"
fullchain = "{d}/out/fullchain.pem"
key = "{d}/out/key.pem"
mode = "0640"

[[certificate.deploy.hook]]
command = "/bin/sh"
args = ["-c", "test -e {d}/failed-once || {{ touch {d}/failed-once; exit 1; }}; echo reloaded >> {d}/hook.log"]
timeout_secs = 10
"#
    );
    base_config(dir, &extra).replace(
        &peer("CERTKEEPER_TEST_PEBBLE_DIRECTORY"),
        &peer("CERTKEEPER_TEST_PEBBLE_SHORT_DIRECTORY"),
    )
}

fn certs_named(daemon: &Daemon, name: &str) -> Vec<Value> {
    let list = daemon.json(&["cert", "list"]);
    let all = list.as_array().cloned().unwrap_or_default();
    all.into_iter().filter(|c| c["name"] == name).collect()
}

fn wait_until<T>(
    what: &str,
    timeout: Duration,
    daemon: &Daemon,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never happened:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_short_lived_certificate_is_renewed_redeployed_and_reloaded_with_no_cli_action() {
    let _turn = pebble_turn();
    require_pebble();
    let port = free_port();
    let daemon = Daemon::start(|dir| short_config(dir, port));
    let first = daemon.wait_for_certificate("short", Duration::from_secs(60));
    let lifetime = unix_secs(&first["not_after"]) - unix_secs(&first["not_before"]);
    assert!(
        lifetime <= 60,
        "pebble-short should issue short certificates: {first}"
    );

    let certs = wait_until("a renewal", Duration::from_secs(90), &daemon, || {
        let certs = certs_named(&daemon, "short");
        (certs.len() >= 2).then_some(certs)
    });
    let newest = daemon.json(&["cert", "show", certs[0]["id"].as_str().unwrap()]);
    assert_ne!(newest["serial"], first["serial"]);
    assert_eq!(certs[1]["status"], "superseded", "{certs:?}");

    let out = daemon.dir.path().join("out");
    let chain = newest["chain_pem"].as_str().unwrap().to_owned();
    wait_until(
        "the renewed certificate on disk",
        Duration::from_secs(10),
        &daemon,
        || {
            let have = std::fs::read_to_string(out.join("fullchain.pem")).ok()?;
            (have == chain).then_some(())
        },
    );
    let leaf = std::fs::read_to_string(out.join("cert.pem")).unwrap();
    assert!(chain.starts_with(&leaf) && leaf.len() < chain.len());
    let mode = |f: &str| std::fs::metadata(out.join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode("cert.pem"), mode("key.pem")), (0o640, 0o600));
    let key = std::fs::read_to_string(out.join("key.pem")).unwrap();
    assert!(key.contains("PRIVATE KEY"));
    assert!(
        !daemon.log().contains(key.lines().nth(1).unwrap()),
        "key in the log"
    );

    let hook_log = daemon.dir.path().join("hook.log");
    wait_until(
        "the hook after the renewal",
        Duration::from_secs(10),
        &daemon,
        || {
            let runs = std::fs::read_to_string(&hook_log).ok()?.lines().count();
            (runs >= 2).then_some(())
        },
    );

    let log = daemon.log();
    assert!(
        log.contains("deploy hook failed"),
        "the first hook run should fail:\n{log}"
    );
    check_metrics(port);
}

fn unix_secs(value: &Value) -> i64 {
    let text = value.as_str().expect("a timestamp");
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
    parsed.expect("RFC 3339").unix_timestamp()
}

fn check_metrics(port: u16) {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let out = curl(&["-fsS", &url]);
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).expect("utf-8 page");
    let samples = parse(&page).unwrap_or_else(|| panic!("not the text format:\n{page}"));
    let declared: BTreeSet<&str> = page
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for family in [
        "certkeeper_certificate_days_to_expiry",
        "certkeeper_renewal_failures_total",
        "certkeeper_orders",
        "certkeeper_acme_requests_total",
        "certkeeper_dns_queries_answered_total",
        "certkeeper_plugin_calls_total",
        "certkeeper_plugin_call_duration_seconds",
    ] {
        assert!(declared.contains(family), "{family} missing:\n{page}");
    }
    let find = |name: &str, labels: &[(&str, &str)]| -> Option<&Sample> {
        samples.iter().find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    };
    let expiry = find(
        "certkeeper_certificate_days_to_expiry",
        &[("certificate", "short")],
    );
    assert!(expiry.is_some_and(|s| s.value < 1.0), "{page}");
    let valid = find("certkeeper_orders", &[("state", "valid")]).expect("orders by state");
    assert!(valid.value >= 2.0, "{page}");
    let orders = &[("ca", "pebble"), ("op", "new-order"), ("result", "ok")];
    let placed = find("certkeeper_acme_requests_total", orders).expect("acme requests");
    assert!(placed.value >= 2.0, "{page}");
}

/// A TCP proxy to `target` that closes its first `refuse` connections at once.
fn flaky_proxy(target: &str, refuse: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    let target = target.to_owned();
    let seen = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(client) = stream else { continue };
            if seen.fetch_add(1, Ordering::SeqCst) < refuse {
                drop(client);
                continue;
            }
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    port
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

#[test]
fn a_ca_that_fails_at_first_is_retried_with_backoff_until_it_issues() {
    let _turn = pebble_turn();
    require_pebble();
    let directory = peer("CERTKEEPER_TEST_PEBBLE_DIRECTORY");
    let authority = directory
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let proxy = flaky_proxy(&authority, 3);
    let port = free_port();
    let daemon = Daemon::start(|dir| {
        let extra = format!(
            "{FAST_RENEWAL}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[[certificate]]\n\
             name = \"flaky\"\nnames = [\"flaky.example.test\"]\naccount = \"main\"\n\
             challenge = \"http-01\"\n"
        );
        base_config(dir, &extra).replace(&authority, &format!("127.0.0.1:{proxy}"))
    });
    daemon.wait_for_certificate("flaky", Duration::from_secs(90));

    let log = daemon.log();
    let failures =
        log.matches("renewal failed; backing off").count() + log.matches("renewal failing").count();
    assert!(failures >= 2, "expected retries before success:\n{log}");
    assert!(
        log.contains("renewal failing"),
        "never flagged after 2 failures:\n{log}"
    );
    let (counted, page) = counter(port, "certkeeper_renewal_failures_total", "flaky");
    assert!(counted >= 2.0, "{page}");
    let listed = certs_named(&daemon, "flaky");
    assert_eq!(
        listed[0]["status"], "ok",
        "a success clears the flag: {listed:?}"
    );
}

/// The value of counter `family` for `certificate` on the metrics page at `port` (0 when the
/// page has no such sample), and the page.
fn counter(port: u16, family: &str, certificate: &str) -> (f64, String) {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let page = String::from_utf8(curl(&["-fsS", &url]).stdout).unwrap();
    let samples = parse(&page).expect("text format");
    let value = samples
        .iter()
        .find(|s| {
            s.name == family && s.labels.get("certificate").map(String::as_str) == Some(certificate)
        })
        .map_or(0.0, |s| s.value);
    (value, page)
}

fn hup(daemon: &Daemon) {
    let pid = daemon.pid().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sighup_refuses_a_broken_config_and_applies_a_good_one() {
    let _turn = pebble_turn();
    require_pebble();
    let cert = |name: &str| {
        format!(
            "\n[[certificate]]\nname = \"{name}\"\nnames = [\"{name}.example.test\"]\naccount = \"main\"\nchallenge = \"http-01\"\n"
        )
    };
    let daemon = Daemon::start(|dir| base_config(dir, &format!("{FAST_RENEWAL}{}", cert("keep"))));
    daemon.wait_for_certificate("keep", Duration::from_secs(60));
    let good = std::fs::read_to_string(&daemon.config).unwrap();

    let broken = good.replace(
        "names = [\"keep.example.test\"]",
        "names = \"keep.example.test\"",
    ) + &cert("never");
    std::fs::write(&daemon.config, &broken).unwrap();
    hup(&daemon);
    wait_until("the refusal", Duration::from_secs(10), &daemon, || {
        daemon.log().contains("config reload refused").then_some(())
    });
    let log = daemon.log();
    let refusal = log
        .lines()
        .find(|l| l.contains("config reload refused"))
        .unwrap();
    assert!(
        refusal.contains("certkeeper.toml:") && refusal.contains("names"),
        "{refusal}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let socket = daemon.dir.path().join("admin.sock");
    let listed = std::process::Command::new(certkeeper_bin())
        .args(["--socket", path_str(&socket), "--json", "cert", "list"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["keep"],
        "the old config keeps running, the refused one is not applied"
    );
    assert!(
        !daemon.log().contains("certificate=never"),
        "a refused config was applied"
    );

    std::fs::write(&daemon.config, good + &cert("added")).unwrap();
    hup(&daemon);
    daemon.wait_for_certificate("added", Duration::from_secs(60));
    assert!(daemon.log().contains("config reloaded"));
}

#[test]
fn cert_renew_repeats_a_cli_order_with_a_fresh_key_and_export_writes_pem_and_pfx() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, FAST_RENEWAL));
    daemon.wait_for_account("main");
    let name = "cli.example.test";
    let args = [
        "order",
        "create",
        "--account",
        "main",
        "-d",
        name,
        "--challenge",
        "http-01",
    ];
    daemon.json(&[&args[..], &["--finalize", "--key-type", "ecdsa-p384"]].concat());
    let first = daemon.wait_for_certificate(name, Duration::from_secs(60));
    assert_eq!(certs_named(&daemon, name)[0]["status"], "manual");

    let renewal = daemon.json(&["cert", "renew", name]);
    assert_eq!(renewal["names"][0], name, "{renewal}");
    let certs = wait_until(
        "the forced renewal",
        Duration::from_secs(60),
        &daemon,
        || {
            let certs = certs_named(&daemon, name);
            (certs.len() >= 2).then_some(certs)
        },
    );
    let second = daemon.json(&["cert", "show", certs[0]["id"].as_str().unwrap()]);
    assert_ne!(second["serial"], first["serial"]);
    let dir = daemon.dir.path();
    let key_of = |cert: &Value, file: &str| -> String {
        let path = dir.join(file);
        std::fs::write(&path, cert["chain_pem"].as_str().unwrap()).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-pubkey", "-in", path_str(&path)])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_ne!(
        key_of(&first, "1.pem"),
        key_of(&second, "2.pem"),
        "the key was reused"
    );
    let text = std::process::Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-text",
            "-in",
            path_str(&dir.join("2.pem")),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("384"),
        "key type not kept"
    );
    wait_until(
        "automatic renewal on",
        Duration::from_secs(10),
        &daemon,
        || (certs_named(&daemon, name)[0]["status"] == "ok").then_some(()),
    );

    let pem = dir.join("export.pem");
    let out = daemon.cli(&["cert", "export", name, "--out", path_str(&pem)]);
    assert!(out.status.success(), "{out:?}");
    let bundle = std::fs::read_to_string(&pem).unwrap();
    assert!(bundle.starts_with(second["chain_pem"].as_str().unwrap()));
    assert!(bundle.contains("PRIVATE KEY"));

    let pfx = dir.join("export.pfx");
    let pass = dir.join("pass");
    std::fs::write(&pass, "s3cret\n").unwrap();
    let args = [
        "cert",
        "export",
        name,
        "--format",
        "pfx",
        "--out",
        path_str(&pfx),
    ];
    let out = daemon.cli(&[&args[..], &["--password-file", path_str(&pass)]].concat());
    assert!(out.status.success(), "{out:?}");
    let read = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-in",
            path_str(&pfx),
            "-passin",
            "pass:s3cret",
            "-nodes",
        ])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&read.stdout);
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert!(shown.contains("PRIVATE KEY") && shown.matches("BEGIN CERTIFICATE").count() >= 2);
    let wrong = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-in",
            path_str(&pfx),
            "-passin",
            "pass:wrong",
            "-nodes",
        ])
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "a wrong password opened the pfx");
}

#[test]
fn a_deploy_that_cannot_write_is_shown_counted_and_retried_until_it_can() {
    let _turn = pebble_turn();
    require_pebble();
    let port = free_port();
    let daemon = Daemon::start(|dir| {
        // A regular file where the target's directory should be: even root cannot write there.
        std::fs::write(dir.join("blocked"), "not a directory").unwrap();
        let d = dir.display();
        let extra = format!(
            "{FAST_RENEWAL}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[[certificate]]\n\
             name = \"blocked\"\nnames = [\"blocked.example.test\"]\naccount = \"main\"\n\
             challenge = \"http-01\"\n\n[[certificate.deploy]]\n\
             fullchain = \"{d}/blocked/fullchain.pem\"\nkey = \"{d}/blocked/key.pem\"\n"
        );
        base_config(dir, &extra)
    });
    daemon.wait_for_certificate("blocked", Duration::from_secs(60));
    let target = daemon.dir.path().join("blocked/fullchain.pem");
    let row = wait_until(
        "the deploy error listed",
        Duration::from_secs(10),
        &daemon,
        || {
            let row = certs_named(&daemon, "blocked").into_iter().next()?;
            row["deploy_error"].is_string().then_some(row)
        },
    );
    let error = row["deploy_error"].as_str().unwrap();
    assert!(
        error.contains("deploy failed") && error.contains(&target.display().to_string()),
        "{row}"
    );
    assert_eq!(row["status"], "ok", "the certificate itself is fine: {row}");
    let table = String::from_utf8(daemon.cli(&["cert", "list"]).stdout).unwrap();
    assert!(
        table.contains("DEPLOY ERROR") && table.contains("deploy failed"),
        "{table}"
    );
    let (counted, page) = counter(port, "certkeeper_deploy_failures_total", "blocked");
    assert!(counted >= 1.0, "{page}");

    // The operator fixes the directory; the next pass deploys and clears the error.
    let dir = daemon.dir.path().join("blocked");
    std::fs::remove_file(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    let row = wait_until(
        "the deploy after the fix",
        Duration::from_secs(10),
        &daemon,
        || {
            let row = certs_named(&daemon, "blocked").into_iter().next()?;
            (target.exists() && row["deploy_error"].is_null()).then_some(row)
        },
    );
    let shown = daemon.json(&["cert", "show", row["id"].as_str().unwrap()]);
    let chain = shown["chain_pem"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), chain);

    // Deployed once; a reload moves the target somewhere unwritable. The failure is found by
    // the pass that checks files after the reload, and must stay shown and retried after it.
    let moved = daemon.dir.path().join("moved");
    std::fs::write(&moved, "not a directory").unwrap();
    let config = std::fs::read_to_string(&daemon.config).unwrap();
    let blocked = format!("{}/blocked/", daemon.dir.path().display());
    let elsewhere = format!("{}/", moved.display());
    std::fs::write(&daemon.config, config.replace(&blocked, &elsewhere)).unwrap();
    hup(&daemon);
    wait_until(
        "the moved target's error",
        Duration::from_secs(10),
        &daemon,
        || {
            let row = certs_named(&daemon, "blocked").into_iter().next()?;
            row["deploy_error"].is_string().then_some(())
        },
    );
    let errors_before = daemon.log().matches("deploy failed; retrying").count();
    std::thread::sleep(Duration::from_secs(4));
    let row = certs_named(&daemon, "blocked").into_iter().next().unwrap();
    assert!(
        row["deploy_error"].is_string(),
        "the error was forgotten: {row}"
    );
    let errors_after = daemon.log().matches("deploy failed; retrying").count();
    assert!(errors_after > errors_before, "not retried on later passes");
    std::fs::remove_file(&moved).unwrap();
    std::fs::create_dir(&moved).unwrap();
    wait_until(
        "the deploy to the moved target",
        Duration::from_secs(10),
        &daemon,
        || {
            let have = std::fs::read_to_string(moved.join("fullchain.pem")).ok()?;
            (have == chain).then_some(())
        },
    );
}

#[test]
fn a_cli_order_for_a_wildcard_renews_under_a_name_the_naming_rules_accept() {
    let _turn = pebble_turn();
    require_pebble();
    let daemon = Daemon::start(|dir| base_config(dir, FAST_RENEWAL));
    daemon.wait_for_account("main");
    daemon.json(&[
        "order",
        "create",
        "--account",
        "main",
        "-d",
        "*.b.example.test",
        "-d",
        "b.example.test",
        "--challenge",
        "dns-01",
        "--dns",
        "builtin",
        "--renew",
    ]);
    let name = "_wildcard.b.example.test";
    let first = daemon.wait_for_certificate(name, Duration::from_secs(60));
    assert_eq!(first["name"], name, "{first}");
    wait_until(
        "automatic renewal on",
        Duration::from_secs(10),
        &daemon,
        || (certs_named(&daemon, name)[0]["status"] == "ok").then_some(()),
    );

    let renewal = daemon.json(&["cert", "renew", name]);
    assert_eq!(renewal["names"][0], "*.b.example.test", "{renewal}");
    let certs = wait_until("the renewal", Duration::from_secs(60), &daemon, || {
        let certs = certs_named(&daemon, name);
        (certs.len() >= 2).then_some(certs)
    });
    assert_ne!(certs[0]["serial"], first["serial"]);
    assert_eq!(certs[0]["status"], "ok", "{certs:?}");
}
