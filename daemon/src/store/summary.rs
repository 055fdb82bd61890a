//! A certificate without its PEM chain and private key: what listings and the renewal pass
//! need, decoded from the certificate table without copying the large and secret fields.
//!
//! Decoding 10,000 whole certificate records for `cert list` allocated every chain and key only
//! to drop them; serde skips fields a struct does not name, so this view costs a fraction.

use serde::Deserialize;
use time::OffsetDateTime;

/// The public, small part of a [`super::CertificateRecord`]; read with
/// [`super::Store::list_as`], never written.
#[derive(Clone, Debug, Deserialize)]
pub struct CertificateSummary {
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

/// An order's status and error, for listings that need them for many orders.
#[derive(Clone, Debug, Deserialize)]
pub struct OrderSummary {
    /// Where the order stands.
    pub status: super::OrderStatus,
    /// Why it failed, if it did.
    #[serde(default)]
    pub error: Option<String>,
}
