//! Putting an issued certificate where servers read it: PEM files written atomically with the
//! owner, group and mode asked for, then reload hooks.
//!
//! Files come first and hooks after, and a failing hook never undoes the files: the new
//! certificate is on disk either way, and the hook is retried until the server has picked it up.

mod files;
mod hook;

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

pub use files::{FileError, Pem, write_atomically};
pub use hook::{HookError, run_hook};

use crate::store::CertificateRecord;

/// `[[certificate.deploy]]`: one place a certificate is written to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployTarget {
    /// The leaf certificate, PEM.
    pub cert: Option<PathBuf>,
    /// The intermediates, PEM.
    pub chain: Option<PathBuf>,
    /// Leaf then intermediates, PEM.
    pub fullchain: Option<PathBuf>,
    /// The private key, PKCS#8 PEM.
    pub key: Option<PathBuf>,
    /// Owner of the files: a user name or a numeric uid; unchanged when absent.
    pub owner: Option<Spanned<String>>,
    /// Group of the files: a group name or a numeric gid; unchanged when absent.
    pub group: Option<Spanned<String>>,
    /// Octal mode of the certificate files.
    #[serde(default = "default_mode")]
    pub mode: Spanned<String>,
    /// Octal mode of the key file.
    #[serde(default = "default_key_mode")]
    pub key_mode: Spanned<String>,
    /// Commands run after the files are written, in order.
    #[serde(default, rename = "hook")]
    pub hooks: Vec<HookConfig>,
}

/// `[[certificate.deploy.hook]]`: a reload command.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// The program, or with `shell = true` a `sh -c` script.
    pub command: Spanned<String>,
    /// Its arguments; no shell sees them.
    #[serde(default)]
    pub args: Vec<String>,
    /// Run `command` through `/bin/sh -c`.
    #[serde(default)]
    pub shell: bool,
    /// Seconds before the hook is killed and counted as failed.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// Why a deployment did not complete.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A file could not be written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A hook failed; the files are in place.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The certificate has no private key to deploy (it came from an imported CSR).
    #[error("certificate {0} has no stored private key; set no `key` target for it")]
    NoKey(String),
}

impl DeployTarget {
    /// Each file of this target with what goes in it and its mode.
    pub fn files(
        &self,
        cert: &CertificateRecord,
    ) -> Result<Vec<(PathBuf, String, u32)>, DeployError> {
        let pem = Pem::split(&cert.chain_pem);
        let mode = parse_mode(self.mode.get_ref()).unwrap_or(0o644);
        let key_mode = parse_mode(self.key_mode.get_ref()).unwrap_or(0o600);
        let mut out = Vec::new();
        let mut add = |path: &Option<PathBuf>, body: String, mode: u32| {
            if let Some(path) = path {
                out.push((path.clone(), body, mode));
            }
        };
        add(&self.cert, pem.leaf.clone(), mode);
        add(&self.chain, pem.chain.clone(), mode);
        add(&self.fullchain, cert.chain_pem.clone(), mode);
        if self.key.is_some() {
            let key = cert
                .private_key_pem
                .clone()
                .ok_or_else(|| DeployError::NoKey(cert.name.clone()))?;
            add(&self.key, key, key_mode);
        }
        Ok(out)
    }

    /// Whether every file of this target holds exactly what `cert` would write.
    pub fn is_current(&self, cert: &CertificateRecord) -> bool {
        let Ok(files) = self.files(cert) else {
            return false;
        };
        files
            .iter()
            .all(|(path, body, _)| std::fs::read_to_string(path).is_ok_and(|have| have == *body))
    }

    /// Write every file of this target atomically.
    pub fn write(&self, cert: &CertificateRecord) -> Result<(), DeployError> {
        let owner = self.owner.as_ref().map(|o| o.get_ref().as_str());
        let group = self.group.as_ref().map(|g| g.get_ref().as_str());
        for (path, body, mode) in self.files(cert)? {
            write_atomically(&path, body.as_bytes(), mode, owner, group)?;
            crate::crashpoint::reach_blocking("deploy-file-written");
        }
        Ok(())
    }
}

/// Read an octal mode such as `0640`; `None` unless it is 3 or 4 octal digits up to 0777.
pub fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if !(3..=4).contains(&digits.len()) {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o777)
}

fn default_mode() -> Spanned<String> {
    Spanned::new(0..0, "0644".to_owned())
}

fn default_key_mode() -> Spanned<String> {
    Spanned::new(0..0, "0600".to_owned())
}

fn default_timeout() -> u64 {
    60
}
