//! The ACME side (RFC 8555): accounts, orders, CSRs, and the engine that drives orders through
//! pending → ready → processing → valid, on instant-acme.

mod accounts;
mod ari;
mod certificate;
mod challenge_keys;
mod client;
pub mod csr;
mod driver;
mod eab;
mod engine;
mod hold;
mod http;
mod names;
mod nonce;
mod poll;
mod profiles;
mod revoke;
mod validation;
mod vendor_accounts;
pub mod vendor_registry;
pub mod vendors;

use serde::{Deserialize, Serialize};

pub use accounts::AccountRequest;
pub use ari::{SuggestedRenewal, ari_identifier};
pub use client::{AcmeError, CaEndpoint};
pub use eab::{EabCredentials, EabError};
pub(crate) use engine::normalize_names;
pub use engine::{Engine, EngineError, NewOrderRequest};
pub use names::{
    MAX_OBJECT_NAME, NameError, challenge_record_name, default_certificate_name, validate_domain,
    validate_email, validate_object_name,
};
pub use poll::{AcmeLimits, StuckOrder};
pub use vendor_accounts::{VendorAccountError, read_api_key_file};

/// Key type of a certificate's private key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on P-256 (the default: small, accepted everywhere).
    #[default]
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// RSA with a 2048-bit modulus.
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    #[serde(rename = "rsa-4096")]
    Rsa4096,
}

impl KeyType {
    /// The config and CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
            Self::Rsa2048 => "rsa-2048",
            Self::Rsa3072 => "rsa-3072",
            Self::Rsa4096 => "rsa-4096",
        }
    }

    /// Every key type, in the order the CLI lists them.
    pub const ALL: [Self; 5] = [
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
    ];

    /// The RSA modulus size, for RSA key types.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            Self::EcdsaP256 | Self::EcdsaP384 => None,
        }
    }

    fn algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Self::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl std::str::FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown key type \"{s}\" ({})", known.join(", "))
            })
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
