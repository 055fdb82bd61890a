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
    /// Write here (created owner-only) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum ExportFormat {
    /// PEM: chain then key.
    Pem,
    /// PKCS#12 (not built: see the README's Limitations).
    Pfx,
}

/// Run one `cert` command; returns the answer and how to print it.
pub(super) async fn run(
    client: &AdminClient,
    cmd: &CertCmd,
) -> anyhow::Result<(Value, &'static str)> {
    Ok(match cmd {
        CertCmd::List => (client.get("/v1/certificates").await?, "certs"),
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
    })
}

async fn export(client: &AdminClient, export: &Export) -> anyhow::Result<Value> {
    if let ExportFormat::Pfx = export.format {
        anyhow::bail!(
            "PKCS#12 export is not built in this version; use --format pem and openssl pkcs12 -export"
        );
    }
    let value = client
        .get(&format!("/v1/certificates/{}/export", seg(&export.cert)))
        .await?;
    let mut text = value["chain_pem"].as_str().unwrap_or_default().to_owned();
    match value["private_key_pem"].as_str() {
        Some(key) => text.push_str(key),
        None => eprintln!(
            "certificate {} has no stored private key (imported CSR)",
            export.cert
        ),
    }
    match &export.out {
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)?;
            file.write_all(text.as_bytes())?;
            Ok(json!({ "name": value["name"], "wrote": path }))
        }
        None => {
            print!("{text}");
            Ok(Value::Null)
        }
    }
}
