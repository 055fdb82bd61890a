//! The ACME side (RFC 8555): accounts, orders, CSRs, and the engine that drives orders through
//! pending → ready → processing → valid, on instant-acme.

mod accounts;
mod certificate;
mod client;
pub mod csr;
mod eab;
mod engine;
mod http;
mod names;
mod revoke;
mod validation;

use serde::{Deserialize, Serialize};

pub use accounts::AccountRequest;
pub use client::{AcmeError, CaEndpoint};
pub use eab::{EabCredentials, EabError};
pub use engine::{Engine, EngineError, NewOrderRequest};
pub use names::{NameError, challenge_record_name, validate_domain, validate_email};

/// Key type of a certificate's private key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on P-256 (the default: small, accepted everywhere).
    #[default]
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
}

impl KeyType {
    /// The config and CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
        }
    }

    fn algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Self::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }
}

impl std::str::FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ecdsa-p256" => Ok(Self::EcdsaP256),
            "ecdsa-p384" => Ok(Self::EcdsaP384),
            other => Err(format!(
                "unknown key type \"{other}\" (ecdsa-p256, ecdsa-p384)"
            )),
        }
    }
}

/// How a CA validates control of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChallengeKind {
    /// RFC 8555 §8.3: a file under `/.well-known/acme-challenge/` on port 80.
    #[serde(rename = "http-01")]
    Http01,
    /// RFC 8555 §8.4: a TXT record at `_acme-challenge.<name>`.
    #[serde(rename = "dns-01")]
    Dns01,
}

impl ChallengeKind {
    /// The RFC 8555 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::Dns01 => "dns-01",
        }
    }
}

impl std::str::FromStr for ChallengeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "http-01" => Ok(Self::Http01),
            "dns-01" => Ok(Self::Dns01),
            other => Err(format!("unknown challenge \"{other}\" (http-01, dns-01)")),
        }
    }
}

/// Who puts a DNS-01 TXT record in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsMethod {
    /// certkeeper's own authoritative server, for delegated `_acme-challenge` zones.
    Builtin,
    /// The operator, who is shown the record and creates it by hand.
    Manual,
    /// A DNS provider instance run by a plugin.
    Provider(String),
}

impl DnsMethod {
    /// Read the config/CLI spelling: `builtin`, `manual` or a provider name.
    pub fn parse(s: &str) -> Self {
        match s {
            "builtin" => Self::Builtin,
            "manual" => Self::Manual,
            other => Self::Provider(other.to_owned()),
        }
    }

    /// The name recorded on challenge records.
    pub fn label(&self) -> &str {
        match self {
            Self::Builtin => "builtin",
            Self::Manual => "manual",
            Self::Provider(p) => p,
        }
    }
}
