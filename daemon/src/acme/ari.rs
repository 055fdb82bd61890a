//! ACME Renewal Information (RFC 9773): the CA's suggested renewal window for a certificate,
//! and the `replaces` field that tells the CA which certificate a new order succeeds.

use std::borrow::Cow;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use instant_acme::{CertificateIdentifier, NewOrder};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};

use super::engine::{Engine, EngineError};
use crate::store::CertificateRecord;

/// The CA's answer for one certificate (RFC 9773 §4.2).
#[derive(Debug, Clone)]
pub struct SuggestedRenewal {
    /// Start of the suggested window.
    pub start: OffsetDateTime,
    /// End of the suggested window.
    pub end: OffsetDateTime,
    /// When to ask again (the response's Retry-After, RFC 9773 §4.3).
    pub retry_after: Duration,
    /// The certificate's ARI identifier, `base64url(AKI keyIdentifier).base64url(serial)`.
    pub identifier: String,
}

impl Engine {
    /// Ask the CA of `account_id` for `cert`'s renewal window; `None` when its directory has no
    /// `renewalInfo` or the certificate has no authority key identifier.
    pub async fn renewal_info(
        &self,
        account_id: &str,
        cert: &CertificateRecord,
    ) -> Result<Option<SuggestedRenewal>, EngineError> {
        let Some(identifier) = ari_identifier(&cert.chain_pem) else {
            return Ok(None);
        };
        let account = self.account_handle(account_id).await?;
        let record = self
            .store
            .require::<crate::store::AccountRecord>(account_id)?;
        let ca = self.endpoint_for(&record);
        let id = parse_identifier(&identifier).expect("made by ari_identifier: one dot");
        match account.renewal_info(&id).await {
            Ok((info, retry_after)) => {
                crate::metrics::acme_request(&ca.name, "renewal-info", "ok");
                Ok(Some(SuggestedRenewal {
                    start: info.suggested_window.start,
                    end: info.suggested_window.end,
                    retry_after,
                    identifier,
                }))
            }
            Err(instant_acme::Error::Unsupported(_)) => Ok(None),
            Err(e) => {
                crate::metrics::acme_request(&ca.name, "renewal-info", "error");
                Err(EngineError::Acme(ca.ca_error(e)))
            }
        }
    }
}

/// `new` with RFC 9773 §5's `replaces` set when `replaces` is a well-formed identifier.
pub(super) fn with_replaces<'a>(new: NewOrder<'a>, replaces: Option<&'a str>) -> NewOrder<'a> {
    match replaces.and_then(parse_identifier) {
        Some(id) => new.replaces(id),
        None => new,
    }
}

/// The ARI identifier of the leaf (first certificate) of a PEM chain (RFC 9773 §4.1).
pub fn ari_identifier(chain_pem: &str) -> Option<String> {
    let blocks = pem::parse_many(chain_pem.as_bytes()).ok()?;
    let (_, leaf) = X509Certificate::from_der(blocks.first()?.contents()).ok()?;
    let aki = leaf
        .extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref(),
            _ => None,
        })?;
    let serial = leaf.tbs_certificate.raw_serial();
    Some(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(aki.0),
        URL_SAFE_NO_PAD.encode(serial)
    ))
}

fn parse_identifier(text: &str) -> Option<CertificateIdentifier<'_>> {
    let (aki, serial) = text.split_once('.')?;
    Some(CertificateIdentifier {
        authority_key_identifier: Cow::Borrowed(aki),
        serial: Cow::Borrowed(serial),
    })
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, Issuer, KeyIdMethod, KeyPair, SerialNumber};

    use super::*;

    #[test]
    fn the_identifier_matches_the_example_of_rfc_9773() {
        // RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4
        // and serial 00:87:65:43:21 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
        let aki = hex::decode("69885B6B87464041E1B37B847BA0AE2CDE01C8D4").expect("hex");
        ca.key_identifier_method = KeyIdMethod::PreSpecified(aki);
        let issuer = Issuer::new(ca, KeyPair::generate().expect("key"));
        let mut leaf = CertificateParams::new(vec!["a.example.test".to_owned()]).expect("params");
        leaf.serial_number = Some(SerialNumber::from_slice(&[0x00, 0x87, 0x65, 0x43, 0x21]));
        leaf.use_authority_key_identifier_extension = true;
        let cert = leaf
            .signed_by(&KeyPair::generate().expect("key"), &issuer)
            .expect("signed");
        assert_eq!(
            ari_identifier(&cert.pem()).as_deref(),
            Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
        );
    }

    #[test]
    fn a_malformed_replaces_value_is_left_out_of_the_order() {
        assert!(parse_identifier("no-dot").is_none());
        let id = parse_identifier("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").expect("parses");
        assert_eq!(id.serial, "AIdlQyE");
    }
}
