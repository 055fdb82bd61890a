//! External Account Binding (RFC 8555 §7.3.4): the key id and HMAC key a CA hands out so a new
//! ACME account is tied to an account the operator already has with it.
//!
//! CAs show the HMAC key base64url-encoded (RFC 4648 §5), and operators paste it with or without
//! `=` padding. Anything else is refused here, before a request is sent, with an error that
//! names the key id and the offending character but never the key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use instant_acme::ExternalAccountKey;

/// An EAB key id and HMAC key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EabError {
    /// The key id is empty.
    #[error("the EAB key id is empty")]
    EmptyKid,
    /// A key id was given without an HMAC key, or the other way round.
    #[error("EAB needs both a key id and an HMAC key; only the {given} was given")]
    Incomplete {
        /// Which half was given.
        given: &'static str,
    },
    /// The HMAC key is not base64url.
    #[error("the EAB HMAC key for key id \"{kid}\" is not base64url: {reason}")]
    Encoding {
        /// The key id it belongs to.
        kid: String,
        /// What is wrong, without the key itself.
        reason: String,
    },
}

/// A checked EAB credential: the key id and the decoded HMAC key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct EabCredentials {
    /// The key id (`kid`) the CA gave.
    pub kid: String,
    hmac: Vec<u8>,
}

impl std::fmt::Debug for EabCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EabCredentials")
            .field("kid", &self.kid)
            .field("hmac", &"<redacted>")
            .finish()
    }
}

impl EabCredentials {
    /// Check and decode a key id and a base64url HMAC key (padding optional).
    pub fn parse(kid: &str, hmac_key: &str) -> Result<Self, EabError> {
        let kid = kid.trim();
        if kid.is_empty() {
            return Err(EabError::EmptyKid);
        }
        let hmac = decode_base64url(hmac_key.trim()).map_err(|reason| EabError::Encoding {
            kid: kid.to_owned(),
            reason,
        })?;
        Ok(Self {
            kid: kid.to_owned(),
            hmac,
        })
    }

    /// Both halves or neither: `None` when neither was given.
    pub fn from_parts(kid: Option<&str>, hmac_key: Option<&str>) -> Result<Option<Self>, EabError> {
        match (kid, hmac_key) {
            (None, None) => Ok(None),
            (Some(kid), Some(key)) => Self::parse(kid, key).map(Some),
            (Some(_), None) => Err(EabError::Incomplete { given: "key id" }),
            (None, Some(_)) => Err(EabError::Incomplete { given: "HMAC key" }),
        }
    }

    /// The key instant-acme signs the binding with.
    pub(crate) fn key(&self) -> ExternalAccountKey {
        ExternalAccountKey::new(self.kid.clone(), &self.hmac)
    }
}

fn decode_base64url(text: &str) -> Result<Vec<u8>, String> {
    if text.is_empty() {
        return Err("it is empty".into());
    }
    let unpadded = text.trim_end_matches('=');
    if text.len() - unpadded.len() > 2 {
        return Err("it ends in more than two '=' characters".into());
    }
    if let Some((at, c)) = unpadded
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        let hint = match c {
            '+' | '/' => " (that is standard base64: use '-' for '+' and '_' for '/')",
            _ => "",
        };
        return Err(format!(
            "character {} ('{c}') is not in the base64url alphabet{hint}",
            at + 1
        ));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(unpadded)
        .map_err(|e| format!("it does not decode: {e}"))?;
    if text.len() != unpadded.len() && !text.len().is_multiple_of(4) {
        return Err("its '=' padding does not match its length".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // pebble's kid-1 key from its test configuration: 64 base64url characters, 48 bytes.
    const KID1_KEY: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

    #[test]
    fn an_unpadded_key_decodes() {
        let eab = EabCredentials::parse("kid-1", KID1_KEY).unwrap();
        assert_eq!(eab.hmac.len(), 48);
    }

    #[test]
    fn padded_and_unpadded_keys_decode_to_the_same_bytes() {
        let padded = EabCredentials::parse("k", "YWJjZA==").unwrap();
        let unpadded = EabCredentials::parse("k", "YWJjZA").unwrap();
        assert_eq!(padded, unpadded);
        assert_eq!(padded.hmac, b"abcd");
    }

    #[test]
    fn a_standard_base64_key_is_refused_with_a_hint() {
        let err = EabCredentials::parse("kid-9", "ab+d/fgh")
            .unwrap_err()
            .to_string();
        assert!(err.contains("kid-9") && err.contains("'+'"), "{err}");
        assert!(err.contains("standard base64"), "{err}");
    }

    #[test]
    fn the_error_for_a_bad_key_never_shows_the_key() {
        let key = "secret*secret";
        let err = EabCredentials::parse("kid-1", key).unwrap_err().to_string();
        assert!(!err.contains(key), "{err}");
        assert!(err.contains("character 7"), "{err}");
    }

    #[test]
    fn wrong_padding_is_refused() {
        assert!(EabCredentials::parse("k", "YWJjZA=").is_err());
        assert!(EabCredentials::parse("k", "YWJjZA===").is_err());
    }

    #[test]
    fn a_key_of_impossible_length_is_refused() {
        assert!(EabCredentials::parse("k", "YWJjZ").is_err());
    }

    #[test]
    fn an_empty_kid_or_key_is_refused() {
        assert_eq!(
            EabCredentials::parse(" ", KID1_KEY),
            Err(EabError::EmptyKid)
        );
        assert!(EabCredentials::parse("k", "").is_err());
    }

    #[test]
    fn half_a_credential_is_refused() {
        let only_kid = EabCredentials::from_parts(Some("k"), None).unwrap_err();
        assert_eq!(only_kid, EabError::Incomplete { given: "key id" });
        assert!(EabCredentials::from_parts(None, Some(KID1_KEY)).is_err());
        assert_eq!(EabCredentials::from_parts(None, None), Ok(None));
    }

    #[test]
    fn debug_output_redacts_the_key() {
        let eab = EabCredentials::parse("kid-1", "YWJjZA").unwrap();
        let shown = format!("{eab:?}");
        assert!(
            shown.contains("<redacted>") && !shown.contains("97"),
            "{shown}"
        );
    }
}
