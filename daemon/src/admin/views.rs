//! What the admin API returns: the stored records without their secrets.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::{
    AccountRecord, CertificateRecord, CertificateSummary, ChallengeRecord, CsrRecord, OrderRecord,
};

/// An account, without its key.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccountView {
    /// Local id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Contact email.
    pub email: String,
    /// Name of the CA it is registered with (a `[[ca]]` entry, or the vendor it was registered
    /// at with `--vendor`).
    pub ca: String,
    /// The CA's vendor profile (`letsencrypt`, `zerossl`, ...), or `custom` for any other
    /// RFC 8555 directory.
    pub vendor: String,
    /// Status at the CA.
    pub status: String,
    /// ACME directory URL.
    pub directory_url: String,
    /// Account URL at the CA.
    pub account_url: String,
    /// External Account Binding key id used at registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_kid: Option<String>,
    /// Registration time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl AccountView {
    /// The view of `a`, whose CA follows the vendor profile `vendor`.
    pub fn new(a: &AccountRecord, vendor: String) -> Self {
        Self {
            id: a.id.clone(),
            name: a.name.clone(),
            email: a.email.clone(),
            ca: a.ca.clone(),
            vendor,
            status: a.status.clone(),
            directory_url: a.directory_url.clone(),
            account_url: a.account_url.clone(),
            eab_kid: a.eab_kid.clone(),
            created_at: a.created_at,
        }
    }
}

/// A CSR, without its key.
#[derive(Debug, Serialize, Deserialize)]
pub struct CsrView {
    /// Local id.
    pub id: String,
    /// Names requested.
    pub names: Vec<String>,
    /// Key type or `imported`.
    pub key_type: String,
    /// Whether certkeeper holds the private key.
    pub has_key: bool,
    /// The CSR, PEM.
    pub pem: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&CsrRecord> for CsrView {
    fn from(c: &CsrRecord) -> Self {
        Self {
            id: c.id.clone(),
            names: c.names.clone(),
            key_type: c.key_type.clone(),
            has_key: c.private_key_pem.is_some(),
            pem: c.pem.clone(),
            created_at: c.created_at,
        }
    }
}

/// An order with its challenge records.
#[derive(Debug, Serialize, Deserialize)]
pub struct OrderView {
    /// The order.
    #[serde(flatten)]
    pub order: OrderRecord,
    /// Its challenge records.
    pub challenges: Vec<ChallengeRecord>,
}

/// A certificate, without its key.
#[derive(Debug, Serialize, Deserialize)]
pub struct CertificateView {
    /// Local id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Order that produced it.
    pub order_id: String,
    /// SANs.
    pub names: Vec<String>,
    /// Issuer DN.
    pub issuer: String,
    /// Serial, hex.
    pub serial: String,
    /// Validity start.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// Validity end.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// When it was revoked, if it was.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub revoked_at: Option<OffsetDateTime>,
    /// RFC 5280 reason code given when revoking.
    #[serde(default)]
    pub revocation_reason: Option<u8>,
    /// Leaf and chain, PEM (only in `show`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chain_pem: Option<String>,
    /// Renewal state of the newest certificate of a name: `ok`, `renewing`, `retrying`,
    /// `failing`, `manual` (not renewed automatically) or `superseded` for older ones.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    /// When the scheduler plans to renew it.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "time::serde::rfc3339::option"
    )]
    pub next_renewal: Option<OffsetDateTime>,
    /// Why the last renewal attempt failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub renewal_error: Option<String>,
    /// Why writing it to its deploy targets or running their hooks failed last time; the
    /// scheduler tries again every pass.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deploy_error: Option<String>,
}

impl CertificateView {
    /// The view, with or without the PEM chain.
    pub fn new(c: &CertificateRecord, with_chain: bool) -> Self {
        Self {
            id: c.id.clone(),
            name: c.name.clone(),
            order_id: c.order_id.clone(),
            names: c.names.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            revoked_at: c.revoked_at,
            revocation_reason: c.revocation_reason,
            chain_pem: with_chain.then(|| c.chain_pem.clone()),
            status: None,
            next_renewal: None,
            renewal_error: None,
            deploy_error: None,
        }
    }

    /// The view of a listing, which carries no chain.
    pub fn from_summary(c: CertificateSummary) -> Self {
        Self {
            id: c.id,
            name: c.name,
            order_id: c.order_id,
            names: c.names,
            issuer: c.issuer,
            serial: c.serial,
            not_before: c.not_before,
            not_after: c.not_after,
            revoked_at: c.revoked_at,
            revocation_reason: c.revocation_reason,
            chain_pem: None,
            status: None,
            next_renewal: None,
            renewal_error: None,
            deploy_error: None,
        }
    }
}

/// A configured certificate none of which is stored yet: its first order is under way or
/// failing. Listed so that `cert list` shows every configured certificate; it has no id, issuer,
/// serial or validity.
#[derive(Debug, Serialize)]
pub struct PendingCertificateView {
    /// The config's certificate name.
    pub name: String,
    /// The names it asks for.
    pub names: Vec<String>,
    /// `issuing` while an order is under way or none failed yet, else `retrying` or `failing`.
    pub status: &'static str,
    /// The order under way, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// When the scheduler tries next.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub next_renewal: Option<OffsetDateTime>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal_error: Option<String>,
}

/// One row of `GET /v1/certificates`: a stored certificate, or a configured one not issued yet.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ListedCertificate {
    /// A stored certificate.
    Stored(CertificateView),
    /// A configured certificate with none stored.
    Pending(PendingCertificateView),
}

/// Body of `POST /v1/accounts/<account>/contact`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateContact {
    /// The new contact email.
    pub email: String,
}

/// Body of `POST /v1/certificates/<certificate>/revoke`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeCertificate {
    /// RFC 5280 CRLReason code.
    #[serde(default)]
    pub reason: Option<u8>,
}

/// Body of `POST /v1/csrs`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCsr {
    /// Names.
    pub names: Vec<String>,
    /// Key type.
    #[serde(default)]
    pub key_type: crate::acme::KeyType,
}

/// Body of `POST /v1/csrs/import`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCsr {
    /// The CSR, PEM (or base64 DER inside PEM armour).
    pub pem: String,
}
