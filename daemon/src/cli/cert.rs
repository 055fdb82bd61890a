//! `certkeeper cert …`: list, show, renew now, and export a certificate with its key.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::{CertCmd, seg};
use crate::admin::AdminClient;

/// Arguments of `cert export`.
#[derive(Debug, Args)]
pub struct Export {
    /// Certificate id or name.
    cert: String,
    /// `pem`: the full chain followed by the private key.
    #[arg(long, value_enum, default_value = "pem")]
    format: ExportFormat,
    /// Write here (created owner-only) instead of standard output; required for pfx.
    #[arg(long)]
    out: Option<PathBuf>,
    /// For pfx: a file whose first line is the password (an empty password without it).
    #[arg(long)]
    password_file: Option<PathBuf>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum ExportFormat {
    /// PEM: chain then key.
    Pem,
    /// PKCS#12: key and chain in one password-protected file.
    Pfx,
}

/// Run one `cert` command; returns the answer and how to print it.
pub(super) async fn run(
    client: &AdminClient,
    cmd: &CertCmd,
) -> anyhow::Result<(Value, &'static str)> {
    Ok(match cmd {
        CertCmd::List => unreachable!("listings are printed by print_listing"),
        CertCmd::Show { cert } => (
            client
                .get(&format!("/v1/certificates/{}", seg(cert)))
                .await?,
            "cert",
        ),
        CertCmd::Renew { cert } => (
            client
                .post(&format!("/v1/certificates/{}/renew", seg(cert)), &json!({}))
                .await?,
            "order",
        ),
        CertCmd::Export(export) => (self::export(client, export).await?, "exported"),
        CertCmd::Revoke { cert, reason } => (
            client
                .post(
                    &format!("/v1/certificates/{}/revoke", seg(cert)),
                    &json!({ "reason": reason }),
                )
                .await?,
            "cert",
        ),
    })
}

async fn export(client: &AdminClient, export: &Export) -> anyhow::Result<Value> {
    let value = client
        .get(&format!("/v1/certificates/{}/export", seg(&export.cert)))
        .await?;
    let chain = value["chain_pem"].as_str().unwrap_or_default();
    let key = value["private_key_pem"].as_str();
    let bytes = match export.format {
        ExportFormat::Pem => pem_bundle(&export.cert, chain, key),
        ExportFormat::Pfx => {
            let key = key.ok_or_else(|| {
                anyhow::anyhow!(
                    "certificate {} has no stored private key (imported CSR)",
                    export.cert
                )
            })?;
            let password = password(export.password_file.as_deref())?;
            super::pfx::build(&export.cert, chain, key, &password)?
        }
    };
    match (&export.out, export.format) {
        (Some(path), _) => {
            write_private(path, &bytes)?;
            Ok(json!({ "name": value["name"], "wrote": path }))
        }
        (None, ExportFormat::Pem) => {
            std::io::stdout().write_all(&bytes)?;
            Ok(Value::Null)
        }
        (None, ExportFormat::Pfx) => anyhow::bail!("--format pfx needs --out FILE"),
    }
}

fn pem_bundle(name: &str, chain: &str, key: Option<&str>) -> Vec<u8> {
    let mut text = chain.to_owned();
    match key {
        Some(key) => text.push_str(key),
        None => eprintln!("certificate {name} has no stored private key (imported CSR)"),
    }
    text.into_bytes()
}

fn password(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    let Some(file) = file else {
        return Ok(String::new());
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("--password-file {}: {e}", file.display()))?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// Write a private key owner-only: a new 0600 file beside `path`, renamed over it, so an existing
/// file keeps neither its looser mode nor, if it is a symlink, its target.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let fail = |e: std::io::Error| anyhow::anyhow!("--out {}: {e}", path.display());
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("--out {}: not a file name", path.display()))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(fail)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(fail(e));
    }
    Ok(())
}
