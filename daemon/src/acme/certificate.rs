//! Reading an issued chain: the names, issuer and validity the CLI shows, and the check that
//! the certificate really is for the CSR's key and names before anything is stored or deployed.

use std::collections::BTreeSet;

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509CertificationRequest};

use super::csr;
use super::engine::EngineError;
use crate::store::{CertificateRecord, CsrRecord, OrderRecord, new_id, now};

/// A chain the CA sent that certkeeper refuses to store; the order it came for is failed.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The download is not PEM, or holds no certificate.
    #[error("order {order}: CA {ca} sent no usable PEM certificate chain: {message}")]
    NotPem {
        /// Our order id.
        order: String,
        /// The CA's name.
        ca: String,
        /// What is wrong with it.
        message: String,
    },
    /// The leaf certifies another public key than the CSR's.
    #[error(
        "order {order}: CA {ca} sent a certificate for another public key than CSR {csr}'s; \
         it was not stored"
    )]
    WrongKey {
        /// Our order id.
        order: String,
        /// The CA's name.
        ca: String,
        /// The CSR's id.
        csr: String,
    },
    /// The leaf names other DNS names than the CSR asked for.
    #[error(
        "order {order}: CA {ca} sent a certificate for {got:?} but CSR {csr} asked for {want:?}; \
         it was not stored"
    )]
    WrongNames {
        /// Our order id.
        order: String,
        /// The CA's name.
        ca: String,
        /// The CSR's id.
        csr: String,
        /// The names the CSR asked for.
        want: Vec<String>,
        /// The names in the certificate.
        got: Vec<String>,
    },
}

/// Turn a chain downloaded from CA `ca` into a certificate record, refusing one whose public key
/// or DNS names are not the CSR's.
pub(super) fn parse(
    order: &OrderRecord,
    csr_record: &CsrRecord,
    chain_pem: String,
    ca: &str,
) -> Result<CertificateRecord, EngineError> {
    let not_pem = |message: String| CertificateError::NotPem {
        order: order.id.clone(),
        ca: ca.to_owned(),
        message,
    };
    let blocks = pem::parse_many(chain_pem.as_bytes()).map_err(|e| not_pem(e.to_string()))?;
    let leaf_der = blocks
        .first()
        .filter(|b| b.tag() == "CERTIFICATE")
        .ok_or_else(|| not_pem("no CERTIFICATE block first".into()))?
        .contents()
        .to_vec();
    let (_, leaf) = X509Certificate::from_der(&leaf_der)
        .map_err(|e| not_pem(format!("the leaf does not parse: {e}")))?;
    check_matches_csr(&leaf, csr_record, order, ca)?;

    Ok(CertificateRecord {
        id: new_id(),
        name: order
            .certificate_name
            .clone()
            .unwrap_or_else(|| super::default_certificate_name(&order.names[0])),
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

/// The leaf must certify the CSR's key for exactly the CSR's DNS names (RFC 8555 §7.4: the CA
/// issues for the identifiers of the order, which are the CSR's).
fn check_matches_csr(
    leaf: &X509Certificate<'_>,
    csr_record: &CsrRecord,
    order: &OrderRecord,
    ca: &str,
) -> Result<(), EngineError> {
    let der = csr::der_of(csr_record)?;
    let (_, request) = X509CertificationRequest::from_der(&der).map_err(|e| {
        EngineError::Validation(format!("stored CSR {} does not parse: {e}", csr_record.id))
    })?;
    if leaf.public_key().raw != request.certification_request_info.subject_pki.raw {
        return Err(CertificateError::WrongKey {
            order: order.id.clone(),
            ca: ca.to_owned(),
            csr: csr_record.id.clone(),
        }
        .into());
    }
    let lower = |names: &[String]| -> BTreeSet<String> {
        names.iter().map(|n| n.to_ascii_lowercase()).collect()
    };
    let got = leaf_names(leaf);
    if lower(&got) != lower(&csr_record.names) {
        return Err(CertificateError::WrongNames {
            order: order.id.clone(),
            ca: ca.to_owned(),
            csr: csr_record.id.clone(),
            want: csr_record.names.clone(),
            got,
        }
        .into());
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

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, KeyPair};

    use super::*;
    use crate::acme::KeyType;
    use crate::store::OrderStatus;

    fn order(csr: &CsrRecord) -> OrderRecord {
        OrderRecord {
            id: "ord-1".into(),
            account_id: "acc".into(),
            url: "https://ca.test/order/1".into(),
            names: csr.names.clone(),
            status: OrderStatus::Processing,
            challenge: "http-01".into(),
            dns: None,
            csr_id: csr.id.clone(),
            certificate_name: None,
            profile: None,
            auto_finalize: true,
            certificate_id: None,
            error: None,
            hidden: false,
            created_at: now(),
            updated_at: now(),
        }
    }

    /// A self-signed certificate for `names` with `key`.
    fn issued(names: &[&str], key: &KeyPair) -> String {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).unwrap();
        params.self_signed(key).unwrap().pem()
    }

    fn csr() -> (CsrRecord, KeyPair) {
        let csr = csr::generate(&["a.example.test".into()], KeyType::EcdsaP256).unwrap();
        let key = KeyPair::from_pem(csr.private_key_pem.as_deref().unwrap()).unwrap();
        (csr, key)
    }

    #[test]
    fn a_certificate_for_the_csrs_key_and_names_is_accepted() {
        let (csr, key) = csr();
        let cert = parse(&order(&csr), &csr, issued(&["A.example.test"], &key), "ca").unwrap();
        assert_eq!(
            cert.names,
            ["A.example.test"],
            "names are compared without case"
        );
    }

    #[test]
    fn a_certificate_for_another_key_is_refused_naming_the_order_and_the_ca() {
        let (csr, _) = csr();
        let other = KeyPair::generate().unwrap();
        let err = parse(
            &order(&csr),
            &csr,
            issued(&["a.example.test"], &other),
            "fake",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("ord-1") && err.contains("CA fake") && err.contains("key"),
            "{err}"
        );
    }

    #[test]
    fn a_certificate_for_other_names_is_refused_naming_them() {
        let (csr, key) = csr();
        let chain = issued(&["a.example.test", "evil.example.test"], &key);
        let err = parse(&order(&csr), &csr, chain, "fake")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("evil.example.test") && err.contains("ord-1"),
            "{err}"
        );
    }

    #[test]
    fn a_download_that_is_not_pem_is_refused() {
        let (csr, _) = csr();
        let err = parse(&order(&csr), &csr, "<html>".into(), "fake").unwrap_err();
        assert!(err.ends_order(), "{err}");
    }
}
