//! Certificate signing requests: made here with a fresh key, or imported and checked.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509CertificationRequest};

use super::KeyType;
use crate::store::{CsrRecord, new_id, now};

/// A CSR that cannot be made or used.
#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    /// Key generation or signing failed.
    #[error("cannot make a CSR for {names:?}: {message}")]
    Generate {
        /// The names asked for.
        names: Vec<String>,
        /// Why.
        message: String,
    },
    /// The input is not a PEM or DER CSR.
    #[error("not a certificate signing request: {0}")]
    Malformed(String),
    /// The CSR's signature does not verify with its own public key.
    #[error("the CSR's signature does not verify: it was altered or signed with another key")]
    BadSignature,
    /// The CSR's key or signature algorithm is one certkeeper cannot check or CAs do not take.
    #[error("the CSR has {0}")]
    Unsupported(String),
    /// The CSR holds no DNS names.
    #[error("the CSR names no DNS names (subjectAltName or CN)")]
    NoNames,
}

/// Make a new key of `key_type` and a CSR for `names` (first name is the CN; no EKU, which
/// some CAs refuse).
pub fn generate(names: &[String], key_type: KeyType) -> Result<CsrRecord, CsrError> {
    let fail = |e: rcgen::Error| CsrError::Generate {
        names: names.to_vec(),
        message: e.to_string(),
    };
    let key = match key_type.rsa_bits() {
        Some(bits) => rsa_key_pair(bits, key_type).map_err(|message| CsrError::Generate {
            names: names.to_vec(),
            message,
        })?,
        None => KeyPair::generate_for(key_type.algorithm()).map_err(fail)?,
    };
    let mut params = CertificateParams::new(names.to_vec()).map_err(fail)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names[0].clone());
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key).map_err(fail)?;
    Ok(CsrRecord {
        id: new_id(),
        names: names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        key_type: key_type.as_str().to_owned(),
        pem: csr.pem().map_err(fail)?,
        private_key_pem: Some(key.serialize_pem()),
        created_at: now(),
    })
}

/// A new RSA key of `bits`. ring (rcgen's backend) signs with RSA but cannot generate RSA keys,
/// so the `rsa` crate makes the key and rcgen gets it as PKCS#8.
fn rsa_key_pair(bits: usize, key_type: KeyType) -> Result<KeyPair, String> {
    use rsa::pkcs8::EncodePrivateKey;

    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)
        .map_err(|e| format!("RSA-{bits} key generation failed: {e}"))?;
    let der = private
        .to_pkcs8_der()
        .map_err(|e| format!("RSA-{bits} key does not encode as PKCS#8: {e}"))?;
    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes());
    KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, key_type.algorithm()).map_err(|e| e.to_string())
}

/// Check an operator's CSR (PEM or DER): it must parse, its signature must verify, and it must
/// name at least one DNS name.
pub fn import(input: &[u8]) -> Result<CsrRecord, CsrError> {
    let der = to_der(input)?;
    let (_, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|e| CsrError::Malformed(format!("DER does not parse: {e}")))?;
    check_key(&csr)?;
    csr.verify_signature().map_err(|e| match e {
        x509_parser::error::X509Error::SignatureUnsupportedAlgorithm => {
            CsrError::Unsupported(format!(
                "signature algorithm {}, which certkeeper cannot check (it checks RSA PKCS#1 \
                 v1.5 and ECDSA signatures)",
                csr.signature_algorithm.algorithm
            ))
        }
        // N.B. ring checks PSS only with a salt as long as the digest; others fail as if bad.
        _ if csr.signature_algorithm.algorithm
            == x509_parser::oid_registry::OID_PKCS1_RSASSAPSS =>
        {
            CsrError::Unsupported(
                "an RSA-PSS signature that does not verify: it was altered, or uses a salt length \
                 other than the digest's, which certkeeper cannot check; sign with PKCS#1 v1.5"
                    .into(),
            )
        }
        _ => CsrError::BadSignature,
    })?;
    let names = csr_names(&csr);
    if names.is_empty() {
        return Err(CsrError::NoNames);
    }
    Ok(CsrRecord {
        id: new_id(),
        names,
        key_type: "imported".to_owned(),
        pem: pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der)),
        private_key_pem: None,
        created_at: now(),
    })
}

/// The key types public CAs issue for, as certkeeper makes them: RSA of 2048 bits or more,
/// ECDSA on P-256 or P-384. Checked before the signature, so a key the signature check cannot
/// handle (RSA-1024, P-521) is named instead of called a bad signature.
fn check_key(csr: &X509CertificationRequest) -> Result<(), CsrError> {
    use x509_parser::oid_registry::{OID_EC_P256, OID_NIST_EC_P384};
    use x509_parser::public_key::PublicKey;

    const TAKEN: &str = "certkeeper and public CAs take RSA keys of 2048 bits or more and ECDSA \
                         P-256 or P-384 keys";
    let spki = &csr.certification_request_info.subject_pki;
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() < 2048 => Err(CsrError::Unsupported(format!(
            "an RSA key of {} bits; {TAKEN}",
            rsa.key_size()
        ))),
        Ok(PublicKey::RSA(_)) => Ok(()),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            match curve {
                Some(c) if c == OID_EC_P256 || c == OID_NIST_EC_P384 => Ok(()),
                Some(c) => Err(CsrError::Unsupported(format!(
                    "an EC key on curve {c}; {TAKEN}"
                ))),
                None => Err(CsrError::Unsupported(format!(
                    "an EC key without a named curve; {TAKEN}"
                ))),
            }
        }
        _ => Err(CsrError::Unsupported(format!(
            "a key of algorithm {}; {TAKEN}",
            spki.algorithm.algorithm
        ))),
    }
}

/// The DER bytes of a stored CSR.
pub fn der_of(record: &CsrRecord) -> Result<Vec<u8>, CsrError> {
    to_der(record.pem.as_bytes())
}

fn to_der(input: &[u8]) -> Result<Vec<u8>, CsrError> {
    if !input.starts_with(b"-----") && !input.trim_ascii_start().starts_with(b"-----") {
        return Ok(input.to_vec());
    }
    let block = pem::parse(input).map_err(|e| CsrError::Malformed(format!("bad PEM: {e}")))?;
    match block.tag() {
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Ok(block.into_contents()),
        other => Err(CsrError::Malformed(format!(
            "PEM block is \"{other}\", not a CERTIFICATE REQUEST"
        ))),
    }
}

fn csr_names(csr: &X509CertificationRequest<'_>) -> Vec<String> {
    let mut names = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for name in &san.general_names {
                if let GeneralName::DNSName(dns) = name {
                    names.push(dns.to_ascii_lowercase());
                }
            }
        }
    }
    if names.is_empty() {
        let cns = csr.certification_request_info.subject.iter_common_name();
        names.extend(
            cns.filter_map(|cn| cn.as_str().ok())
                .map(str::to_ascii_lowercase),
        );
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_csr_imports_with_the_same_names() {
        let names = vec!["a.example.test".to_owned(), "*.a.example.test".to_owned()];
        let made = generate(&names, KeyType::EcdsaP384).unwrap();
        let back = import(made.pem.as_bytes()).unwrap();
        assert_eq!(back.names, names);
        assert!(made.private_key_pem.unwrap().contains("PRIVATE KEY"));
    }

    #[test]
    fn every_key_type_makes_a_csr_whose_signature_verifies() {
        for key_type in KeyType::ALL {
            let names = vec![format!("{}.example.test", key_type.as_str())];
            let made = generate(&names, key_type).unwrap();
            let back = import(made.pem.as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}", key_type.as_str()));
            assert_eq!(back.names, names);
            assert_eq!(made.key_type, key_type.as_str());
        }
    }

    #[test]
    fn an_rsa_csr_carries_a_key_of_the_asked_size() {
        for key_type in [KeyType::Rsa2048, KeyType::Rsa3072, KeyType::Rsa4096] {
            let made = generate(&["r.example.test".to_owned()], key_type).unwrap();
            let der = der_of(&made).unwrap();
            let (_, csr) = X509CertificationRequest::from_der(&der).unwrap();
            let spki = &csr.certification_request_info.subject_pki;
            let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = spki.parsed() else {
                panic!("{}: not an RSA key", key_type.as_str());
            };
            assert_eq!(Some(rsa.key_size()), key_type.rsa_bits());
        }
    }

    #[test]
    fn the_serde_spelling_of_every_key_type_is_its_config_spelling() {
        for key_type in KeyType::ALL {
            let json = serde_json::to_string(&key_type).unwrap();
            assert_eq!(json, format!("\"{}\"", key_type.as_str()));
            assert_eq!(serde_json::from_str::<KeyType>(&json).unwrap(), key_type);
        }
    }

    #[test]
    fn an_unknown_key_type_lists_the_known_ones() {
        let err = "ed25519".parse::<KeyType>().unwrap_err();
        assert!(
            err.contains("\"ed25519\"") && err.contains("rsa-4096"),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_not_a_csr() {
        let err = import(b"hello, I am not a CSR").unwrap_err();
        assert!(matches!(err, CsrError::Malformed(_)), "{err}");
    }

    #[test]
    fn a_certificate_pem_is_not_a_csr() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = import(pem.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("not a CERTIFICATE REQUEST"), "{err}");
    }

    #[test]
    fn a_tampered_csr_fails_its_signature_check() {
        let made = generate(&["a.example.test".to_owned()], KeyType::EcdsaP256).unwrap();
        let mut der = der_of(&made).unwrap();
        let at = der
            .windows(14)
            .position(|w| w == b"a.example.test")
            .unwrap();
        der[at] = b'b';
        assert!(matches!(import(&der).unwrap_err(), CsrError::BadSignature));
    }
}
