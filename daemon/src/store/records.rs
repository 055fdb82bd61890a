//! The records the store keeps, named with RFC 8555's words where ACME has one.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Record;

/// A fresh random id: 16 hex characters, short enough to type.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// The current time, UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// An ACME account and the key that signs for it (RFC 8555 §7.1.2).
#[derive(Clone, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Local id.
    pub id: String,
    /// Operator's name for the account (config or CLI).
    pub name: String,
    /// Name of the CA (vendor) it belongs to.
    pub ca: String,
    /// ACME directory URL.
    pub directory_url: String,
    /// Contact email.
    pub email: String,
    /// `valid`, `deactivated` or `revoked`; `unknown-to-ca` when a refresh found no account for
    /// the stored key (e.g. it was rolled over through another copy of the store).
    pub status: String,
    /// The account URL at the CA.
    pub account_url: String,
    /// instant-acme's credentials (account URL, directory and the PKCS#8 key). Secret.
    pub credentials: serde_json::Value,
    /// The External Account Binding key id it was registered with, if any.
    #[serde(default)]
    pub eab_kid: Option<String>,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("ca", &self.ca)
            .field("credentials", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Record for AccountRecord {
    const TABLE: redb::TableDefinition<'static, &'static str, &'static [u8]> =
        redb::TableDefinition::new("accounts");
    const KIND: &'static str = "account";
    const SEALED: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

/// A certificate signing request and, when certkeeper made it, its private key.
#[derive(Clone, Serialize, Deserialize)]
pub struct CsrRecord {
    /// Local id.
    pub id: String,
    /// The names the CSR asks for, lowercase.
    pub names: Vec<String>,
    /// Key type, e.g. `ecdsa-p256`; `imported` when the key is not ours.
    pub key_type: String,
    /// The CSR, PEM.
    pub pem: String,
    /// The private key, PKCS#8 PEM; absent for imported CSRs. Secret.
    pub private_key_pem: Option<String>,
    /// When it was made or imported.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for CsrRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrRecord")
            .field("id", &self.id)
            .field("names", &self.names)
            .finish()
    }
}

impl Record for CsrRecord {
    const TABLE: redb::TableDefinition<'static, &'static str, &'static [u8]> =
        redb::TableDefinition::new("csrs");
    const KIND: &'static str = "csr";
    const SEALED: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

/// The state of an order (RFC 8555 §7.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Authorizations are not all valid yet.
    Pending,
    /// Every authorization is valid; the order can be finalized.
    Ready,
    /// Finalized; the CA is issuing.
    Processing,
    /// Issued.
    Valid,
    /// Failed for good.
    Invalid,
}

impl OrderStatus {
    /// Whether nothing more will happen to the order.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Valid | Self::Invalid)
    }

    /// The lowercase RFC 8555 word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Processing => "processing",
            Self::Valid => "valid",
            Self::Invalid => "invalid",
        }
    }
}

/// An ACME order and how certkeeper is driving it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Local id.
    pub id: String,
    /// Local id of the account that placed it.
    pub account_id: String,
    /// The order URL at the CA.
    pub url: String,
    /// Identifiers, as given.
    pub names: Vec<String>,
    /// Last known status.
    pub status: OrderStatus,
    /// How the names are validated: `http-01` or `dns-01`.
    pub challenge: String,
    /// For dns-01: `builtin`, `manual` or a provider name.
    pub dns: Option<String>,
    /// The CSR to finalize with; made at creation.
    pub csr_id: String,
    /// Certificate name from the config, when the daemon placed the order for one.
    pub certificate_name: Option<String>,
    /// The ACME profile asked for, if any.
    #[serde(default)]
    pub profile: Option<String>,
    /// Finalize as soon as the order is ready.
    pub auto_finalize: bool,
    /// The issued certificate's id, once downloaded.
    pub certificate_id: Option<String>,
    /// Why the order failed, when it did.
    pub error: Option<String>,
    /// Hidden from listings because its account was deleted.
    #[serde(default)]
    pub hidden: bool,
    /// When it was placed.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Record for OrderRecord {
    const TABLE: redb::TableDefinition<'static, &'static str, &'static [u8]> =
        redb::TableDefinition::new("orders");
    const KIND: &'static str = "order";
    fn id(&self) -> &str {
        &self.id
    }
}

/// Where a challenge record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChallengeStatus {
    /// Created (or waiting for the operator), not yet seen where the CA will look.
    NotReady,
    /// Seen on every authoritative server (or served by our listener).
    Ready,
    /// The CA accepted it.
    Valid,
    /// Failed; `error` says why.
    Failed,
}

/// One challenge answer certkeeper posts for one identifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// Local id.
    pub id: String,
    /// The order it belongs to.
    pub order_id: String,
    /// The identifier being validated (`*.` kept for wildcards).
    pub identifier: String,
    /// `http-01` or `dns-01`.
    pub kind: String,
    /// Who serves it: `http-01`, `builtin`, `manual` or a provider name.
    pub provider: String,
    /// For dns-01 the TXT owner name; for http-01 the URL path.
    pub record_name: String,
    /// The TXT value, or the HTTP-01 key authorization.
    pub value: String,
    /// TTL for DNS records.
    pub ttl: u32,
    /// The HTTP-01 token.
    pub token: String,
    /// The challenge URL at the CA.
    pub challenge_url: String,
    /// Where it stands.
    pub status: ChallengeStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// The record was removed from where it was posted.
    pub cleaned_up: bool,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl ChallengeRecord {
    /// A new id for a challenge record of `order_id`: the order's id, a dot, a random part. Ids
    /// that start with their order's let the order's records be read as one key range.
    pub fn new_id_for(order_id: &str) -> String {
        format!("{}{}", Self::id_prefix(order_id), new_id())
    }

    /// The start every id of `order_id`'s challenge records has.
    pub fn id_prefix(order_id: &str) -> String {
        format!("{order_id}.")
    }
}

impl Record for ChallengeRecord {
    const TABLE: redb::TableDefinition<'static, &'static str, &'static [u8]> =
        redb::TableDefinition::new("challenges");
    const KIND: &'static str = "challenge";
    fn id(&self) -> &str {
        &self.id
    }
}

/// An issued certificate with its chain and key.
#[derive(Clone, Serialize, Deserialize)]
pub struct CertificateRecord {
    /// Local id.
    pub id: String,
    /// Name: the config's certificate name, or the first DNS name.
    pub name: String,
    /// The order that produced it.
    pub order_id: String,
    /// Subject alternative names in the certificate.
    pub names: Vec<String>,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Leaf followed by the chain, PEM.
    pub chain_pem: String,
    /// Private key, PKCS#8 PEM, when certkeeper made the CSR. Secret.
    pub private_key_pem: Option<String>,
    /// When the CA accepted a revocation request for it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The RFC 5280 reason code given when revoking, if any.
    #[serde(default)]
    pub revocation_reason: Option<u8>,
    /// When it was stored.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for CertificateRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl Record for CertificateRecord {
    const TABLE: redb::TableDefinition<'static, &'static str, &'static [u8]> =
        redb::TableDefinition::new("certificates");
    const KIND: &'static str = "certificate";
    const SEALED: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}
