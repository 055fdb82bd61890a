//! Reading an issued chain: the names, issuer and validity the CLI shows, and the check that
//! the certificate really is for the CSR's key before anything is stored or deployed.

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509CertificationRequest};

use super::csr;
use super::engine::EngineError;
use crate::store::{CertificateRecord, CsrRecord, OrderRecord, new_id, now};

/// Turn a downloaded PEM chain into a certificate record, refusing one whose public key is not
/// the CSR's.
pub(super) fn parse(
    order: &OrderRecord,
    csr_record: &CsrRecord,
    chain_pem: String,
) -> Result<CertificateRecord, EngineError> {
    let blocks = pem::parse_many(chain_pem.as_bytes()).map_err(|e| {
        EngineError::Validation(format!("the CA sent a chain that is not PEM: {e}"))
    })?;
    let leaf_der = blocks
        .first()
        .filter(|b| b.tag() == "CERTIFICATE")
        .ok_or_else(|| EngineError::Validation("the CA sent no certificate".into()))?
        .contents()
        .to_vec();
    let (_, leaf) = X509Certificate::from_der(&leaf_der).map_err(|e| {
        EngineError::Validation(format!("the CA's certificate does not parse: {e}"))
    })?;
    check_key_matches(&leaf, csr_record)?;

    Ok(CertificateRecord {
        id: new_id(),
        name: order
            .certificate_name
            .clone()
            .unwrap_or_else(|| order.names[0].clone()),
        order_id: order.id.clone(),
        names: leaf_names(&leaf),
        issuer: leaf.issuer().to_string(),
        serial: leaf.raw_serial_as_string().replace(':', ""),
        not_before: to_time(leaf.validity().not_before.timestamp()),
        not_after: to_time(leaf.validity().not_after.timestamp()),
        chain_pem,
        private_key_pem: csr_record.private_key_pem.clone(),
        revoked_at: None,
        revocation_reason: None,
        created_at: now(),
    })
}

fn check_key_matches(
    leaf: &X509Certificate<'_>,
    csr_record: &CsrRecord,
) -> Result<(), EngineError> {
    let der = csr::der_of(csr_record)?;
    let (_, request) = X509CertificationRequest::from_der(&der).map_err(|e| {
        EngineError::Validation(format!("stored CSR {} does not parse: {e}", csr_record.id))
    })?;
    let want = request.certification_request_info.subject_pki.raw;
    if leaf.public_key().raw != want {
        return Err(EngineError::Validation(
            "the CA's certificate is not for the CSR's key; it was not stored".into(),
        ));
    }
    Ok(())
}

fn leaf_names(leaf: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = leaf.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect()
}

fn to_time(timestamp: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(timestamp).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
