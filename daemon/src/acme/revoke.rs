//! Revoking an issued certificate with the key of the account that ordered it (RFC 8555 §7.6),
//! and recording the revocation on the stored certificate.

use instant_acme::{RevocationReason, RevocationRequest};
use rustls::pki_types::CertificateDer;
use tracing::info;

use super::engine::{Engine, EngineError};
use crate::store::{CertificateRecord, OrderRecord, now};

impl Engine {
    /// Ask the CA to revoke the certificate with this id (or the newest with this name), then
    /// record when and why. `reason` is an RFC 5280 §5.3.1 CRLReason code.
    pub async fn revoke_certificate(
        &self,
        key: &str,
        reason: Option<u8>,
    ) -> Result<CertificateRecord, EngineError> {
        let reason = reason.map(revocation_reason).transpose()?;
        let cert = self.certificate(key)?;
        if let Some(at) = cert.revoked_at {
            return Err(EngineError::State(format!(
                "certificate {} ({}) was already revoked at {at}",
                cert.name, cert.id
            )));
        }
        let order = self.store.require::<OrderRecord>(&cert.order_id)?;
        let handle = self.account_handle(&order.account_id).await?;
        let ca = self.ca_of(&order)?;

        let leaf = leaf_der(&cert)?;
        let request = RevocationRequest {
            certificate: &leaf,
            reason: reason.clone(),
        };
        super::nonce::retry_bad_nonce(&ca.name, "revoke", || handle.revoke(&request))
            .await
            .map_err(|e| ca.ca_error(e))?;
        let code = reason.map(|r| r as u8);
        let updated = self.store.update::<CertificateRecord>(&cert.id, |c| {
            c.revoked_at = Some(now());
            c.revocation_reason = code;
        })?;
        info!(certificate = %updated.name, serial = %updated.serial, reason = ?code, "certificate revoked");
        Ok(updated)
    }
}

/// The RFC 5280 §5.3.1 reason for `code`; 7 is unused there and anything above 10 is unknown.
fn revocation_reason(code: u8) -> Result<RevocationReason, EngineError> {
    Ok(match code {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        8 => RevocationReason::RemoveFromCrl,
        9 => RevocationReason::PrivilegeWithdrawn,
        10 => RevocationReason::AaCompromise,
        other => {
            return Err(EngineError::Invalid(format!(
                "revocation reason {other} is not an RFC 5280 CRLReason code \
                 (0-6, 8-10; 0 unspecified, 1 keyCompromise, 4 superseded, \
                 5 cessationOfOperation)"
            )));
        }
    })
}

fn leaf_der(cert: &CertificateRecord) -> Result<CertificateDer<'static>, EngineError> {
    let blocks = pem::parse_many(cert.chain_pem.as_bytes()).map_err(|e| {
        EngineError::State(format!(
            "certificate {}: stored chain is not PEM: {e}",
            cert.id
        ))
    })?;
    let leaf = blocks.into_iter().next().ok_or_else(|| {
        EngineError::State(format!("certificate {}: stored chain is empty", cert.id))
    })?;
    Ok(CertificateDer::from(leaf.into_contents()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rfc_5280_reason_code_maps_to_itself() {
        for code in (0..=10).filter(|c| *c != 7) {
            assert_eq!(revocation_reason(code).unwrap() as u8, code);
        }
    }

    #[test]
    fn an_unknown_reason_code_is_refused_by_number() {
        for code in [7, 11, 255] {
            let err = revocation_reason(code).unwrap_err().to_string();
            assert!(err.contains(&format!("reason {code} ")), "{err}");
        }
    }
}
