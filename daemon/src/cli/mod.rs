//! The command line: `certkeeper run` starts the daemon; every other command is a client of
//! the admin socket.

mod cert;
mod output;
mod pfx;
mod progress;
mod store;
mod upload;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::admin::AdminClient;
use crate::config::Config;

pub use store::StoreCmd;

/// Key types the CLI offers.
const KEY_TYPES: [&str; 5] = [
    "ecdsa-p256",
    "ecdsa-p384",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
];

/// Default admin socket when neither --socket nor a config says otherwise.
const DEFAULT_SOCKET: &str = "/run/certkeeper/admin.sock";

/// certkeeper: ACME certificates, issued and renewed unattended.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Config file; for client commands it tells where the admin socket is.
    #[arg(short, long, global = true, env = "CERTKEEPER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Admin socket of the daemon (overrides the config's admin_socket).
    #[arg(long, global = true, env = "CERTKEEPER_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground (as a system service does).
    Run,
    /// Check a config file and exit: non-zero with the file, line and key of the first error.
    CheckConfig,
    /// ACME accounts.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Certificate signing requests.
    #[command(subcommand)]
    Csr(CsrCmd),
    /// ACME orders.
    #[command(subcommand)]
    Order(OrderCmd),
    /// Challenge records (HTTP-01 tokens and DNS-01 TXT records).
    #[command(subcommand)]
    Challenge(ChallengeCmd),
    /// Issued certificates.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Loaded WASM plugins.
    #[command(subcommand)]
    Plugin(PluginCmd),
    /// The store's files, without a daemon: make the key file that seals its private keys.
    #[command(subcommand)]
    Store(StoreCmd),
}

/// `certkeeper account …`
#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Register a new account; its key is generated and kept by the daemon.
    ///
    /// Pick the CA with exactly one of --ca (a configured [[ca]]) or --vendor (a CA vendor
    /// profile). Without --eab-kid, a vendor whose ca-vendor plugin fetches EAB credentials
    /// (ZeroSSL) gets them from the vendor's API, for the email or for --eab-api-key-file.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["ca", "vendor"])))]
    Register {
        /// Name to refer to it by.
        #[arg(long)]
        name: String,
        /// CA name from the config (a `[[ca]]` section).
        #[arg(long)]
        ca: Option<String>,
        /// A CA vendor profile (`letsencrypt`, `zerossl`, ..., or one a ca-vendor plugin in
        /// plugin_dir provides): the configured [[ca]] with this vendor when there is exactly
        /// one, else the profile's own directory URL as a CA named after the vendor.
        #[arg(long)]
        vendor: Option<String>,
        /// Contact email.
        #[arg(long)]
        email: String,
        /// Agree to the CA's terms of service.
        #[arg(long)]
        agree_tos: bool,
        /// External Account Binding key id, from your account with the CA.
        #[arg(long, requires = "eab_hmac_key")]
        eab_kid: Option<String>,
        /// External Account Binding HMAC key, base64url (padding optional).
        #[arg(
            long,
            env = "CERTKEEPER_EAB_HMAC_KEY",
            hide_env_values = true,
            requires = "eab_kid"
        )]
        eab_hmac_key: Option<String>,
        /// A file holding the vendor's API access key (ZeroSSL), which the vendor plugin trades
        /// for EAB credentials instead of using the email. Read here, never taken from the
        /// command line or the environment.
        #[arg(long, value_name = "PATH", conflicts_with = "eab_kid")]
        eab_api_key_file: Option<std::path::PathBuf>,
    },
    /// List accounts: name, email, vendor, status, directory URL, created.
    List {
        /// Ask each CA for the account's status first.
        #[arg(long)]
        refresh: bool,
    },
    /// Delete an account: its orders are hidden, its certificates stay.
    Delete {
        /// Account id or name.
        account: String,
        /// Deactivate the account at the CA first (RFC 8555 §7.3.6); it cannot be undone.
        #[arg(long)]
        deactivate: bool,
    },
    /// Replace the account key with a new one (RFC 8555 §7.3.5).
    Rollover {
        /// Account id or name.
        account: String,
    },
    /// Change the account's contact email at the CA.
    Update {
        /// Account id or name.
        account: String,
        /// The new contact email.
        #[arg(long)]
        email: String,
    },
}

/// `certkeeper csr …`
#[derive(Debug, Subcommand)]
pub enum CsrCmd {
    /// Make a key and a CSR.
    Create {
        /// DNS names (repeat); the first is the CN.
        #[arg(short = 'd', long = "domain", required = true)]
        domains: Vec<String>,
        /// Key type of the new key.
        #[arg(long, default_value = "ecdsa-p256", value_parser = KEY_TYPES)]
        key_type: String,
    },
    /// Import a CSR (PEM or DER file); its signature is checked.
    Import {
        /// The CSR file.
        file: PathBuf,
    },
    /// List CSRs.
    List,
    /// Show one CSR with its PEM.
    Show {
        /// CSR id.
        id: String,
    },
}

/// `certkeeper order …`
#[derive(Debug, Subcommand)]
pub enum OrderCmd {
    /// Place an order; the daemon presents its challenges and asks the CA to validate.
    Create(CreateOrder),
    /// List orders.
    List,
    /// Show an order with its challenge records.
    Show {
        /// Order id.
        id: String,
    },
    /// Ask the CA where the order stands (and resume validating it).
    Refresh {
        /// Order id.
        id: String,
    },
    /// Finalize a ready order with its CSR and download the certificate.
    Finalize {
        /// Order id.
        id: String,
    },
    /// Print (or write) the certificate chain of a valid order.
    Download {
        /// Order id.
        id: String,
        /// Write the chain here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Wait until an order reaches a status (or fails).
    Wait {
        /// Order id.
        id: String,
        /// ready or valid.
        #[arg(long, default_value = "valid")]
        until: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Delete an order; its challenge records are cleaned up, its certificate stays.
    Delete {
        /// Order id.
        id: String,
    },
}

/// Arguments of `order create`.
#[derive(Debug, Args)]
pub struct CreateOrder {
    /// Account id or name.
    #[arg(long)]
    account: String,
    /// DNS names (repeat).
    #[arg(short = 'd', long = "domain", required = true)]
    domains: Vec<String>,
    /// http-01 or dns-01.
    #[arg(long, value_parser = ["http-01", "dns-01"])]
    challenge: String,
    /// For dns-01: builtin, manual or a DNS provider name.
    #[arg(long)]
    dns: Option<String>,
    /// Finalize with this stored CSR (its names must match).
    #[arg(long)]
    csr: Option<String>,
    /// Key type for a new CSR.
    #[arg(long, default_value = "ecdsa-p256", value_parser = KEY_TYPES)]
    key_type: String,
    /// Finalize and download as soon as the order is ready.
    #[arg(long)]
    finalize: bool,
    /// Renew the certificate automatically, like one in the config (implies --finalize).
    #[arg(long)]
    renew: bool,
    /// ACME profile, where the CA's directory lists profiles (e.g. tlsserver, shortlived).
    #[arg(long)]
    profile: Option<String>,
}

/// `certkeeper challenge …`
#[derive(Debug, Subcommand)]
pub enum ChallengeCmd {
    /// List challenge records: name, provider, TTL, value, status.
    List,
}

/// `certkeeper cert …`
#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// List certificates: name, names, issuer, expiry, renewal status and next renewal, and why
    /// the last renewal or deploy failed; configured certificates not issued yet come first.
    List,
    /// Show one certificate (by id or name) with its chain.
    Show {
        /// Certificate id or name.
        cert: String,
    },
    /// Renew now with the certificate's own settings and a fresh key; turns automatic renewal
    /// on for a certificate ordered from the CLI.
    Renew {
        /// Certificate name.
        cert: String,
    },
    /// Write the certificate chain and its private key for manual use.
    Export(cert::Export),
    /// Revoke a certificate with its account's key (RFC 8555 §7.6).
    Revoke {
        /// Certificate id or name (the newest with that name).
        cert: String,
        /// RFC 5280 reason code: 0 unspecified, 1 keyCompromise, 4 superseded,
        /// 5 cessationOfOperation, ...
        #[arg(long)]
        reason: Option<u8>,
    },
}

/// `certkeeper plugin …`
#[derive(Debug, Subcommand)]
pub enum PluginCmd {
    /// List loaded plugins: name, kind, version, contract version, file hash, load time.
    List,
    /// Run a DNS provider instance's connection test (one read-only API request).
    Test {
        /// The provider instance's name, from a `[[dns_provider]]` section.
        provider: String,
    },
}

impl Cli {
    fn client(&self) -> anyhow::Result<AdminClient> {
        let socket = match (&self.socket, &self.config) {
            (Some(socket), _) => socket.clone(),
            (None, Some(config)) => Config::load(config)?.admin_socket,
            (None, None) => PathBuf::from(DEFAULT_SOCKET),
        };
        Ok(AdminClient::new(&socket))
    }

    /// The admin path and output kind of a plain listing, which is printed from the daemon's
    /// bytes (see [`output::print_listing`]).
    fn listing(&self) -> Option<(&'static str, &'static str)> {
        Some(match &self.command {
            Command::Cert(CertCmd::List) => ("/v1/certificates", "certs"),
            Command::Order(OrderCmd::List) => ("/v1/orders", "orders"),
            Command::Csr(CsrCmd::List) => ("/v1/csrs", "csrs"),
            Command::Challenge(ChallengeCmd::List) => ("/v1/challenges", "challenges"),
            Command::Plugin(PluginCmd::List) => ("/v1/plugins", "plugins"),
            _ => return None,
        })
    }

    /// Run a client command against the daemon and print its answer.
    pub async fn run_client(&self) -> anyhow::Result<()> {
        let client = self.client()?;
        if let Some((path, kind)) = self.listing() {
            let body = client.get_raw(path).await?;
            return output::print_listing(kind, &body, self.json);
        }
        let (value, kind) = match &self.command {
            Command::Run | Command::CheckConfig | Command::Store(_) => {
                unreachable!("handled in main")
            }
            Command::Account(cmd) => account(&client, cmd).await?,
            Command::Csr(cmd) => csr(&client, cmd).await?,
            Command::Order(cmd) => order(&client, cmd).await?,
            Command::Challenge(ChallengeCmd::List) | Command::Plugin(PluginCmd::List) => {
                unreachable!("listings are printed by print_listing")
            }
            Command::Cert(cmd) => cert::run(&client, cmd).await?,
            Command::Plugin(PluginCmd::Test { provider }) => {
                let path = format!("/v1/providers/{}/test", seg(provider));
                (client.post(&path, &json!({})).await?, "provider-test")
            }
        };
        if let Command::Order(OrderCmd::Download {
            out: Some(path), ..
        }) = &self.command
        {
            std::fs::write(path, value["chain_pem"].as_str().unwrap_or_default())?;
            eprintln!("wrote {}", path.display());
            return Ok(());
        }
        if self.json {
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            output::print(kind, &value);
        }
        Ok(())
    }
}

async fn account(client: &AdminClient, cmd: &AccountCmd) -> anyhow::Result<(Value, &'static str)> {
    Ok(match cmd {
        AccountCmd::Register {
            name,
            ca,
            vendor,
            email,
            agree_tos,
            eab_kid,
            eab_hmac_key,
            eab_api_key_file,
        } => {
            let eab_api_key = match eab_api_key_file {
                Some(path) => Some(crate::acme::read_api_key_file(path)?),
                None => None,
            };
            let body = json!({
                "name": name, "ca": ca.as_deref().unwrap_or_default(), "vendor": vendor,
                "email": email, "agree_tos": agree_tos, "eab_kid": eab_kid,
                "eab_hmac_key": eab_hmac_key, "eab_api_key": eab_api_key,
            });
            (client.post("/v1/accounts", &body).await?, "account")
        }
        AccountCmd::List { refresh } => {
            let query = if *refresh { "?refresh=true" } else { "" };
            (
                client.get(&format!("/v1/accounts{query}")).await?,
                "accounts",
            )
        }
        AccountCmd::Delete {
            account,
            deactivate,
        } => {
            let query = if *deactivate { "?deactivate=true" } else { "" };
            let path = format!("/v1/accounts/{}{query}", seg(account));
            (client.delete(&path).await?, "account")
        }
        AccountCmd::Rollover { account } => {
            let path = format!("/v1/accounts/{}/rollover", seg(account));
            (client.post(&path, &json!({})).await?, "account")
        }
        AccountCmd::Update { account, email } => {
            let path = format!("/v1/accounts/{}/contact", seg(account));
            (
                client.post(&path, &json!({ "email": email })).await?,
                "account",
            )
        }
    })
}

async fn csr(client: &AdminClient, cmd: &CsrCmd) -> anyhow::Result<(Value, &'static str)> {
    Ok(match cmd {
        CsrCmd::Create { domains, key_type } => {
            let body = json!({ "names": domains, "key_type": key_type });
            (client.post("/v1/csrs", &body).await?, "csr")
        }
        CsrCmd::Import { file } => {
            let bytes = std::fs::read(file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            upload::check_file_size(file, bytes.len())?;
            let pem = match String::from_utf8(bytes.clone()) {
                Ok(text) if text.contains("-----BEGIN") => text,
                _ => pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", bytes)),
            };
            (
                client
                    .post("/v1/csrs/import", &json!({ "pem": pem }))
                    .await?,
                "csr",
            )
        }
        CsrCmd::List => unreachable!("listings are printed by print_listing"),
        CsrCmd::Show { id } => (client.get(&format!("/v1/csrs/{}", seg(id))).await?, "csr"),
    })
}

async fn order(client: &AdminClient, cmd: &OrderCmd) -> anyhow::Result<(Value, &'static str)> {
    Ok(match cmd {
        OrderCmd::Create(c) => {
            let body = json!({
                "account": c.account, "names": c.domains, "challenge": c.challenge,
                "dns": c.dns, "csr_id": c.csr, "key_type": c.key_type,
                "auto_finalize": c.finalize || c.renew, "certificate_name": null, "profile": c.profile,
            });
            let order = client.post("/v1/orders", &body).await?;
            if c.renew {
                let first = order["names"][0].as_str().unwrap_or_default();
                let name = crate::acme::default_certificate_name(first);
                client
                    .post(&format!("/v1/renewals/{}", seg(&name)), &json!({}))
                    .await?;
            }
            (order, "order")
        }
        OrderCmd::List => unreachable!("listings are printed by print_listing"),
        OrderCmd::Show { id } => (
            client.get(&format!("/v1/orders/{}", seg(id))).await?,
            "order",
        ),
        OrderCmd::Refresh { id } => (
            client
                .post(&format!("/v1/orders/{}/refresh", seg(id)), &json!({}))
                .await?,
            "order",
        ),
        OrderCmd::Finalize { id } => (
            client
                .post(&format!("/v1/orders/{}/finalize", seg(id)), &json!({}))
                .await?,
            "order",
        ),
        OrderCmd::Download { id, .. } => (
            client
                .get(&format!("/v1/orders/{}/certificate", seg(id)))
                .await?,
            "chain",
        ),
        OrderCmd::Wait { id, until, timeout } => {
            (wait(client, id, until, *timeout).await?, "order")
        }
        OrderCmd::Delete { id } => (
            client.delete(&format!("/v1/orders/{}", seg(id))).await?,
            "deleted",
        ),
    })
}

/// Poll an order until it reaches `until`, is invalid, or its driver reports an error.
async fn wait(client: &AdminClient, id: &str, until: &str, timeout: u64) -> anyhow::Result<Value> {
    if !matches!(until, "ready" | "valid") {
        anyhow::bail!("--until must be ready or valid, not \"{until}\"");
    }
    // N.B. a --timeout too large for the clock means no deadline, not a panic.
    let now = tokio::time::Instant::now();
    let deadline = now
        .checked_add(Duration::from_secs(timeout))
        .unwrap_or(now + Duration::from_secs(365 * 86_400));
    let progress = progress::Progress::start();
    let result = poll_until(client, id, until, timeout, deadline, &progress).await;
    progress.finish();
    result
}

async fn poll_until(
    client: &AdminClient,
    id: &str,
    until: &str,
    timeout: u64,
    deadline: tokio::time::Instant,
    progress: &progress::Progress,
) -> anyhow::Result<Value> {
    loop {
        let order = client.get(&format!("/v1/orders/{}", seg(id))).await?;
        progress.update(&order);
        let status = order["status"].as_str().unwrap_or_default();
        let reached = status == until || (until == "ready" && status == "valid");
        if reached {
            return Ok(order);
        }
        if status == "invalid" {
            anyhow::bail!(
                "order {id} is invalid: {}",
                order["error"].as_str().unwrap_or("no reason given")
            );
        }
        if tokio::time::Instant::now() >= deadline {
            let error = order["error"]
                .as_str()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default();
            anyhow::bail!("order {id} is still {status} after {timeout} s{error}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One path segment, with anything outside [A-Za-z0-9._-] percent-encoded.
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b'*' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
