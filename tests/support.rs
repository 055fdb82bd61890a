//! What every end-to-end test shares: where the peers listen, a running daemon with its own
//! store and config, the CLI, and checks with openssl against pebble's root.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// pebble's VA connects to one HTTP-01 port and one DNS resolver, so tests that issue
/// certificates take turns.
static PEBBLE: Mutex<()> = Mutex::new(());

/// Hold this while a test talks to pebble.
pub fn pebble_turn() -> MutexGuard<'static, ()> {
    PEBBLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An environment variable, or the address `scripts/peers.sh` uses.
pub fn peer(var: &str) -> String {
    let default = match var {
        "CERTKEEPER_TEST_PEBBLE_DIRECTORY" => "https://127.0.0.1:14000/dir",
        "CERTKEEPER_TEST_PEBBLE_MGMT" => "https://127.0.0.1:15000",
        "CERTKEEPER_TEST_PEBBLE_EAB_DIRECTORY" => "https://127.0.0.1:14100/dir",
        "CERTKEEPER_TEST_PEBBLE_SHORT_DIRECTORY" => "https://127.0.0.1:14300/dir",
        "CERTKEEPER_TEST_PEBBLE_EAB_MGMT" => "https://127.0.0.1:15100",
        "CERTKEEPER_TEST_PEBBLE_SHORT_MGMT" => "https://127.0.0.1:15300",
        "CERTKEEPER_TEST_PEBBLE_FAULTY_DIRECTORY" => "https://127.0.0.1:14200/dir",
        "CERTKEEPER_TEST_PEBBLE_FAULTY_MGMT" => "https://127.0.0.1:15200",
        "CERTKEEPER_TEST_PEBBLE_LOAD_DIRECTORY" => "https://127.0.0.1:14500/dir",
        "CERTKEEPER_TEST_PDNS_API" => "http://127.0.0.1:8081",
        "CERTKEEPER_TEST_PDNS_KEY" => "test-api-key",
        "CERTKEEPER_TEST_PDNS_DNS" => "127.0.0.1:5300",
        "CERTKEEPER_TEST_RESOLVER" => "127.0.0.1:5399",
        _ => "",
    };
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// The TLS root pebble's HTTPS listener uses.
pub fn pebble_tls_ca() -> PathBuf {
    match std::env::var("CERTKEEPER_TEST_PEBBLE_TLS_CA") {
        Ok(path) => PathBuf::from(path),
        Err(_) => workspace_root().join("target/peers/tls/tls-ca.pem"),
    }
}

/// The `certkeeper` binary cargo built for this test run.
pub fn certkeeper_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_certkeeper"))
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where the built plugin components are, all of them.
pub fn built_plugins() -> PathBuf {
    match std::env::var("CERTKEEPER_PLUGIN_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => workspace_root().join("target/wasm32-wasip2/plugin"),
    }
}

/// The daemons' plugin directory: a copy of `powerdns.wasm` alone, the one plugin their configs
/// use. A debug daemon compiles every component in its directory before it answers (seconds
/// each on a busy machine), and `Daemon::restart` waits 20 s.
pub fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = workspace_root().join("target/e2e-plugins");
        std::fs::create_dir_all(&dir).expect("create target/e2e-plugins");
        if let Ok(bytes) = std::fs::read(built_plugins().join("powerdns.wasm")) {
            // Write and rename, so a daemon of another test binary never reads half a file.
            let partial = dir.join(format!("powerdns.wasm.{}", std::process::id()));
            std::fs::write(&partial, bytes).expect("copy powerdns.wasm");
            std::fs::rename(&partial, dir.join("powerdns.wasm")).expect("rename powerdns.wasm");
        }
        dir
    })
    .clone()
}

/// Fail with a useful message unless pebble answers.
pub fn require_pebble() {
    let dir = peer("CERTKEEPER_TEST_PEBBLE_DIRECTORY");
    let out = curl(&["-fsS", "--cacert", path_str(&pebble_tls_ca()), &dir]);
    assert!(
        out.status.success(),
        "pebble does not answer at {dir}: run `scripts/peers.sh start`"
    );
}

/// Run curl with these arguments.
pub fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--max-time", "10"])
        .args(args)
        .output()
        .expect("curl runs")
}

/// A path as &str (test paths are UTF-8).
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// The config every issuing test starts from; `extra` is appended.
pub fn base_config(dir: &Path, extra: &str) -> String {
    format!(
        r#"store = "{dir}/certkeeper.redb"
admin_socket = "{dir}/admin.sock"
plugin_dir = "{plugins}"

[http01]
listen = ["127.0.0.1:5002"]

[dns_server]
listen = ["127.0.0.1:5353"]
zones = ["_acme-challenge.b.example.test", "_acme-challenge.d.example.test"]
nameserver = "ns.certkeeper.example.test."

[propagation]
resolvers = ["{pdns}"]
nameserver_port = {pdns_port}
timeout_secs = 60
interval_secs = 1

[[ca]]
name = "pebble"
directory = "{directory}"
tls_root = "{tls_ca}"

[[account]]
name = "main"
ca = "pebble"
email = "ops@example.test"
agree_tos = true
{extra}"#,
        dir = dir.display(),
        plugins = plugin_dir().display(),
        pdns = peer("CERTKEEPER_TEST_PDNS_DNS"),
        pdns_port = peer("CERTKEEPER_TEST_PDNS_DNS")
            .rsplit(':')
            .next()
            .unwrap_or("5300"),
        directory = peer("CERTKEEPER_TEST_PEBBLE_DIRECTORY"),
        tls_ca = pebble_tls_ca().display(),
    )
}

/// `base_config` without the `main` account at pebble, for tests that talk to other CAs only
/// (so they neither wait for nor depend on the shared pebble).
pub fn config_without_main_account(dir: &Path, extra: &str) -> String {
    let main = "[[account]]\nname = \"main\"\nca = \"pebble\"\nemail = \"ops@example.test\"\n\
                agree_tos = true\n";
    let config = base_config(dir, extra);
    assert!(config.contains(main), "base_config's main account changed");
    config.replacen(main, "", 1)
}

/// The PowerDNS provider instance section.
pub fn powerdns_provider() -> String {
    let api = peer("CERTKEEPER_TEST_PDNS_API");
    let host = api
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    format!(
        r#"
[[dns_provider]]
name = "pdns"
plugin = "powerdns"
allowed_hosts = ["{host}"]
settings = {{ server_url = "{api}", api_key = "{key}", server_id = "localhost" }}
"#,
        key = peer("CERTKEEPER_TEST_PDNS_KEY"),
    )
}

/// A daemon with its own directory, config and store; killed when dropped.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    child: Option<Child>,
    /// Extra environment for the daemon process (the next `restart` uses it).
    pub env: Vec<(String, String)>,
}

impl Daemon {
    /// Write `config` (built by `make_config` from the daemon's directory) and start the daemon.
    pub fn start(make_config: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("certkeeper.toml");
        std::fs::write(&config, make_config(dir.path())).expect("config written");
        let mut daemon = Self {
            dir,
            config,
            child: None,
            env: Vec::new(),
        };
        daemon.restart();
        daemon
    }

    /// The daemon's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Start (again) on the same config and store, and wait for the admin socket.
    pub fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .expect("log file");
        let child = Command::new(certkeeper_bin())
            .args(["run", "--config", path_str(&self.config)])
            .env("RUST_LOG", "info,certkeeper=debug")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("daemon starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.cli(&["account", "list"]).status.code() != Some(0) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("daemon exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "daemon socket never answered:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Start with `certkeeper::crashpoint::VARIABLE` set to `step`: the daemon parks an order
    /// there (see `daemon/src/crashpoint.rs`).
    pub fn start_parked_at(step: &str, make_config: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("certkeeper.toml");
        std::fs::write(&config, make_config(dir.path())).expect("config written");
        let mut daemon = Self {
            dir,
            config,
            child: None,
            env: vec![(certkeeper::crashpoint::VARIABLE.to_owned(), step.to_owned())],
        };
        daemon.restart();
        daemon
    }

    /// Wait until the log holds `needle` `count` times; panic with the log after `timeout`.
    pub fn wait_for_log(&self, needle: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.log().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "the log never showed {needle:?} {count} times:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// SIGKILL and wait: a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Run a CLI command against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(certkeeper_bin())
            .args(["--config", path_str(&self.config)])
            .args(args)
            .output()
            .expect("cli runs")
    }

    /// Run a CLI command with --json; panic with its stderr unless it succeeds.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        assert!(
            out.status.success(),
            "certkeeper {args:?} failed: {}\n--- daemon log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        serde_json::from_slice(&out.stdout).expect("--json prints JSON")
    }

    /// Wait until the configured account is registered.
    pub fn wait_for_account(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let accounts = self.json(&["account", "list"]);
            if accounts
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["name"] == name))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "account {name} never registered:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Wait for a certificate called `name` to be stored.
    pub fn wait_for_certificate(&self, name: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let certs = self.json(&["cert", "list"]);
            if let Some(c) = certs
                .as_array()
                .and_then(|a| a.iter().find(|c| c["name"] == name && c["id"].is_string()))
            {
                return self.json(&["cert", "show", c["id"].as_str().expect("id")]);
            }
            assert!(
                Instant::now() < deadline,
                "certificate {name} never issued:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Check `chain_pem` (leaf first) verifies against pebble's current root, fetched from its
/// management interface.
pub fn assert_chains_to_pebble_root(chain_pem: &str) {
    assert_chains_to_root_of(chain_pem, &peer("CERTKEEPER_TEST_PEBBLE_MGMT"));
}

/// Check `chain_pem` verifies against the root of the pebble whose management interface is
/// at `mgmt_url`.
pub fn assert_chains_to_root_of(chain_pem: &str, mgmt_url: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root.pem");
    let mgmt = format!("{mgmt_url}/roots/0");
    let out = curl(&[
        "-fsS",
        "--cacert",
        path_str(&pebble_tls_ca()),
        "-o",
        path_str(&root),
        &mgmt,
    ]);
    assert!(
        out.status.success(),
        "cannot fetch pebble's root from {mgmt}"
    );

    let blocks: Vec<&str> = chain_pem
        .split_inclusive("-----END CERTIFICATE-----")
        .collect();
    assert!(blocks.len() >= 2, "chain has no intermediate: {chain_pem}");
    std::fs::write(dir.path().join("leaf.pem"), blocks[0].trim()).expect("write");
    std::fs::write(dir.path().join("rest.pem"), blocks[1..].concat().trim()).expect("write");
    let out = Command::new("openssl")
        .args(["verify", "-CAfile", path_str(&root), "-untrusted"])
        .arg(dir.path().join("rest.pem"))
        .arg(dir.path().join("leaf.pem"))
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "chain does not verify against pebble's root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sorted DNS names of a certificate view.
pub fn sorted_names(cert: &Value) -> Vec<String> {
    let mut names: Vec<String> = cert["names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|n| n.as_str().expect("name").to_owned())
        .collect();
    names.sort();
    names
}

/// The TXT values `server` (host:port) answers for `name`, asked without recursion.
pub fn dig_txt(server: &str, name: &str) -> Vec<String> {
    let (host, port) = server.rsplit_once(':').expect("host:port");
    let out = Command::new("dig")
        .args([
            &format!("@{host}"),
            "-p",
            port,
            "+short",
            "+norec",
            "+time=2",
            "+tries=1",
            "TXT",
            name,
        ])
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_matches('"').to_owned())
        .collect()
}
