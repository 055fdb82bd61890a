//! What a renewal orders: the certificate's own settings, from the config for a configured
//! certificate and from the order that issued it for one ordered from the CLI.

use crate::acme::{ChallengeKind, Engine, EngineError, KeyType, NewOrderRequest};
use crate::config::CertificateConfig;
use crate::store::{CertificateRecord, CsrRecord, OrderRecord};

/// The order request for configured certificate `cert`.
pub(super) fn from_config(cert: &CertificateConfig) -> NewOrderRequest {
    NewOrderRequest {
        account: cert.account.get_ref().clone(),
        names: cert.names.get_ref().clone(),
        challenge: cert.challenge,
        dns: cert.dns.as_ref().map(|d| d.get_ref().clone()),
        csr_id: None,
        key_type: cert.key_type,
        auto_finalize: true,
        certificate_name: Some(cert.name.get_ref().clone()),
        replaces: None,
        profile: cert.profile.as_ref().map(|p| p.get_ref().clone()),
    }
}

/// The order request that repeats the order which issued `cert`, with a fresh key of the same
/// type (ECDSA P-256 when the old key came with an imported CSR).
pub(super) fn from_issuing_order(
    engine: &Engine,
    cert: &CertificateRecord,
) -> Result<NewOrderRequest, EngineError> {
    let order = engine.store().require::<OrderRecord>(&cert.order_id)?;
    let csr = engine.store().get::<CsrRecord>(&order.csr_id)?;
    let key_type = csr
        .and_then(|c| c.key_type.parse::<KeyType>().ok())
        .unwrap_or_default();
    let challenge = order
        .challenge
        .parse::<ChallengeKind>()
        .map_err(EngineError::Invalid)?;
    Ok(NewOrderRequest {
        account: order.account_id,
        names: order.names,
        challenge,
        dns: order.dns,
        csr_id: None,
        key_type,
        auto_finalize: true,
        certificate_name: Some(cert.name.clone()),
        replaces: None,
        profile: order.profile,
    })
}

/// The certificate name an order is for: its config name, else the one its first DNS name gives.
pub(super) fn name_of(order: &OrderRecord) -> std::borrow::Cow<'_, str> {
    match (&order.certificate_name, order.names.first()) {
        (Some(name), _) => name.as_str().into(),
        (None, Some(first)) => crate::acme::default_certificate_name(first).into(),
        (None, None) => "".into(),
    }
}

/// Whether `latest` holds exactly `names`, compared as the engine stores names (lowercase, no
/// trailing dot, no duplicates): a difference in spelling alone would reorder the certificate at
/// every check.
pub(super) fn same_names(latest: &CertificateRecord, names: &[String]) -> bool {
    let mut want = crate::acme::normalize_names(names).unwrap_or_default();
    let mut have: Vec<String> = latest
        .names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    want.sort();
    have.sort();
    have.dedup();
    want == have
}

#[cfg(test)]
mod same_names_tests {
    use super::*;

    fn issued(names: &[&str]) -> CertificateRecord {
        CertificateRecord {
            id: "c".into(),
            name: "n".into(),
            order_id: "o".into(),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            issuer: String::new(),
            serial: String::new(),
            not_before: crate::store::now(),
            not_after: crate::store::now(),
            chain_pem: String::new(),
            private_key_pem: None,
            created_at: crate::store::now(),
            revoked_at: None,
            revocation_reason: None,
        }
    }

    /// Regression: names spelled with capitals, a trailing dot or twice never matched the stored
    /// certificate, so it was ordered again at every check.
    #[test]
    fn config_names_differing_only_in_spelling_match_the_issued_certificate() {
        let cert = issued(&["dot1.example.test", "dup1.example.test"]);
        let config: Vec<String> = [
            "Dot1.Example.TEST.",
            "dup1.example.test",
            "dup1.example.test",
        ]
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
        assert!(same_names(&cert, &config));
        assert!(!same_names(&cert, &["other.example.test".to_owned()]));
    }
}
