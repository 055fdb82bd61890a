//! PKCS#12 (`.pfx`) export: the private key with its chain in one password-protected file, for
//! servers that want it (IIS, Java keystores). PBES2 with AES-256 and an HMAC-SHA-256 MAC, the
//! defaults of current OpenSSL and Java.

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use sha2::{Digest, Sha256};

/// Build a PKCS#12 file from a PEM chain (leaf first) and a PKCS#8 PEM key.
pub(super) fn build(
    name: &str,
    chain_pem: &str,
    key_pem: &str,
    password: &str,
) -> anyhow::Result<Vec<u8>> {
    let certs = pem::parse_many(chain_pem.as_bytes())?
        .iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| Certificate::from_der(b.contents()))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = certs
        .first()
        .ok_or_else(|| anyhow::anyhow!("certificate {name} has an empty chain"))?;
    let key = PrivateKey::from_der(pem::parse(key_pem)?.contents())?;
    let local_id = Sha256::digest(leaf.as_der())[..20].to_vec();
    let mut store = KeyStore::new();
    let chain = PrivateKeyChain::new(local_id, key, certs);
    store.add_entry(name, KeyStoreEntry::PrivateKeyChain(chain));
    Ok(store.writer(password).write()?)
}
