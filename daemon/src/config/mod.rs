//! The declarative TOML configuration.
//!
//! Everything the daemon does unattended comes from one file: listeners, the store, the plugin
//! directory, the CAs, accounts, DNS provider instances and the certificates wanted. Loading is
//! strict — an unknown key, a wrong type, a dangling reference or a malformed domain stops the
//! daemon with an error that names the file, the line and the key — because a typo that is
//! silently ignored in a certificate manager shows up months later as an expired certificate.

mod error;
pub mod limits;
mod plugin_check;
mod restart;
mod validate;
mod vendor_check;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use error::ConfigError;
pub use restart::restart_needed;

use crate::dns::{DnsServerConfig, PropagationConfig};
use crate::plugin::ProviderConfig;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Path of the redb store file.
    #[serde(default = "default_store")]
    pub store: PathBuf,
    /// A file of 32 random bytes (`certkeeper store keygen`), owner-only, that the store's
    /// private keys are sealed with; keys are stored unsealed when not given.
    pub store_key_file: Option<PathBuf>,
    /// Path of the admin Unix socket the CLI talks to.
    #[serde(default = "default_admin_socket")]
    pub admin_socket: PathBuf,
    /// Directory the WASM plugins are loaded from.
    #[serde(default = "default_plugin_dir")]
    pub plugin_dir: PathBuf,
    /// Directory for the plugins' compiled code, owner-only; `plugin-cache` beside the store
    /// file when not given.
    pub plugin_cache_dir: Option<PathBuf>,
    /// The HTTP-01 listener; off when the section is absent.
    pub http01: Option<Http01Config>,
    /// The built-in authoritative DNS server; off when the section is absent.
    pub dns_server: Option<DnsServerConfig>,
    /// How DNS-01 records are checked before the CA is asked to validate.
    #[serde(default)]
    pub propagation: PropagationConfig,
    /// ACME CAs by name.
    #[serde(default, rename = "ca")]
    pub cas: Vec<CaConfig>,
    /// Accounts the daemon makes sure exist.
    #[serde(default, rename = "account")]
    pub accounts: Vec<AccountConfig>,
    /// DNS provider instances served by plugins.
    #[serde(default, rename = "dns_provider")]
    pub dns_providers: Vec<ProviderConfig>,
    /// Certificates the daemon keeps issued.
    #[serde(default, rename = "certificate")]
    pub certificates: Vec<CertificateConfig>,
    /// How long the engine waits for CAs (`Retry-After` cap, validation and processing bounds).
    #[serde(default)]
    pub acme: crate::acme::AcmeLimits,
    /// How renewal is scheduled.
    #[serde(default)]
    pub renewal: crate::schedule::RenewalConfig,
    /// The Prometheus endpoint; off when the section is absent.
    pub metrics: Option<crate::metrics::MetricsConfig>,
}

/// The HTTP-01 listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http01Config {
    /// Addresses to listen on; port 80 on every IPv4 address by default.
    #[serde(default = "default_http01_listen")]
    pub listen: Vec<SocketAddr>,
}

/// An ACME CA endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    /// Name other sections refer to.
    pub name: Spanned<String>,
    /// ACME directory URL (RFC 8555 §7.1.1); or give `vendor` instead.
    pub directory: Option<Spanned<String>>,
    /// A known CA vendor profile (`letsencrypt`, `zerossl`, ... see `acme::vendors`), whose
    /// directory URL is used; `custom` takes `directory`.
    pub vendor: Option<Spanned<String>>,
    /// A PEM file with the root that the CA's *TLS* certificate chains to, for test CAs such as
    /// pebble. Only this root is then trusted for this CA; nothing skips verification.
    pub tls_root: Option<PathBuf>,
    /// A file holding the vendor's API access key (ZeroSSL), which the vendor's `ca-vendor`
    /// plugin trades for EAB credentials when an account is registered without them.
    pub eab_api_key_file: Option<Spanned<PathBuf>>,
}

impl CaConfig {
    /// The directory URL: the configured one, else the vendor profile's (checked at load).
    pub fn directory_url(&self) -> String {
        if let Some(url) = &self.directory {
            return url.get_ref().clone();
        }
        self.vendor
            .as_ref()
            .and_then(|v| crate::acme::vendors::vendor(v.get_ref()).ok())
            .and_then(|v| v.directory)
            .unwrap_or_default()
            .to_owned()
    }
}

/// An ACME account, registered on start when the store has none by that name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Name certificates refer to.
    pub name: Spanned<String>,
    /// Name of the CA in a `[[ca]]` section.
    pub ca: Spanned<String>,
    /// Contact email.
    pub email: Spanned<String>,
    /// Agree to the CA's terms of service; registration fails without it.
    #[serde(default)]
    pub agree_tos: bool,
    /// External Account Binding key id, for CAs that require one.
    pub eab_kid: Option<Spanned<String>>,
    /// External Account Binding HMAC key (base64url, padding optional). Secret: prefer
    /// `eab_hmac_key_file`.
    pub eab_hmac_key: Option<Spanned<String>>,
    /// A file holding the External Account Binding HMAC key.
    pub eab_hmac_key_file: Option<Spanned<PathBuf>>,
}

impl AccountConfig {
    /// The EAB HMAC key, inline or read from its file; `None` when neither is set.
    pub fn eab_hmac_key(&self) -> Result<Option<String>, String> {
        if let Some(key) = &self.eab_hmac_key {
            return Ok(Some(key.get_ref().clone()));
        }
        let Some(path) = &self.eab_hmac_key_file else {
            return Ok(None);
        };
        let path = path.get_ref();
        let key = crate::secret_file::read_text_key(path, 4096)
            .map_err(|e| format!("eab_hmac_key_file {}: {e}", path.display()))?;
        Ok(Some(key))
    }

    /// The request that registers this account.
    pub fn request(&self) -> Result<crate::acme::AccountRequest, String> {
        Ok(crate::acme::AccountRequest {
            name: self.name.get_ref().clone(),
            ca: self.ca.get_ref().clone(),
            vendor: None,
            email: self.email.get_ref().clone(),
            agree_tos: self.agree_tos,
            eab_kid: self.eab_kid.as_ref().map(|k| k.get_ref().clone()),
            eab_hmac_key: self.eab_hmac_key()?,
            eab_api_key: None,
        })
    }
}

/// A certificate the daemon keeps issued.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// Name of the certificate in the store and the CLI.
    pub name: Spanned<String>,
    /// DNS names; the first one is the subject's common name.
    pub names: Spanned<Vec<String>>,
    /// Name of the account in an `[[account]]` section.
    pub account: Spanned<String>,
    /// Key type of the certificate's private key.
    #[serde(default)]
    pub key_type: crate::acme::KeyType,
    /// How the CA validates the names.
    pub challenge: crate::acme::ChallengeKind,
    /// For dns-01: `builtin`, `manual` or a `[[dns_provider]]` name.
    pub dns: Option<Spanned<String>>,
    /// Where the certificate is written after each issuance.
    #[serde(default)]
    pub deploy: Vec<crate::deploy::DeployTarget>,
    /// ACME profile to order with, where the CA's directory lists profiles.
    pub profile: Option<Spanned<String>>,
}

impl Config {
    /// Read, parse and check `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Refuses a `[[ca]] vendor` that neither the built-in table nor a loaded `ca-vendor`
    /// plugin knows. Call it once the plugin host has loaded `plugin_dir` (before, only built-in
    /// names are known); `path` is re-read to locate the error.
    pub fn check_vendors(&self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.check_vendors_in(path, &text)
    }

    /// As [`Self::check_vendors`], locating errors in `text`.
    pub fn check_vendors_in(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        self.cas
            .iter()
            .try_for_each(|ca| vendor_check::check_vendor(ca, true))
            .map_err(|e| e.locate(path, text))
    }

    /// Whether every `[[ca]] vendor` is known without loading plugins.
    pub fn vendors_known(&self) -> bool {
        vendor_check::all_known(&self.cas)
    }

    /// Parse and check `text`, reporting errors against `path`. Vendor names are checked by
    /// [`Self::check_vendors`].
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e))?;
        validate::check(&config).map_err(|e| e.locate(path, text))?;
        validate::check_sections(&config, text).map_err(|e| e.locate(path, text))?;
        limits::check(&config, text).map_err(|e| e.locate(path, text))?;
        Ok(config)
    }

    /// The CA section called `name`.
    pub fn ca(&self, name: &str) -> Option<&CaConfig> {
        self.cas.iter().find(|ca| ca.name.get_ref() == name)
    }

    /// Where compiled plugin code is cached: `plugin_cache_dir`, or `plugin-cache` beside the
    /// store file.
    pub fn plugin_cache_dir(&self) -> PathBuf {
        self.plugin_cache_dir.clone().unwrap_or_else(|| {
            let store_dir = self.store.parent().unwrap_or(Path::new("."));
            store_dir.join("plugin-cache")
        })
    }

    /// The account section called `name`.
    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name.get_ref() == name)
    }
}

fn default_store() -> PathBuf {
    PathBuf::from("/var/lib/certkeeper/certkeeper.redb")
}

fn default_admin_socket() -> PathBuf {
    PathBuf::from("/run/certkeeper/admin.sock")
}

fn default_plugin_dir() -> PathBuf {
    PathBuf::from("/usr/lib/certkeeper/plugins")
}

fn default_http01_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([0, 0, 0, 0], 80))]
}

#[cfg(test)]
mod tests;
