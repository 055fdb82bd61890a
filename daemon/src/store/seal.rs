//! Encryption at rest for the records that hold private keys.
//!
//! With a store key file, a record holding key material is written sealed with AES-256-GCM: a
//! fresh random nonce per write, and the record's kind and id as associated data, so a sealed
//! value copied under another id or into another table fails to open. A sealed value starts
//! with a short prefix that carries the format version; a record without it is the plain JSON
//! earlier builds wrote (always starting with `{`), which still reads, so a store can be sealed
//! in place when a key file is first configured.
//!
//! The key file is 32 raw bytes, owner-only. Anything looser is refused rather than used: a
//! key that other users can read seals nothing.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::TryRngCore;

/// Length of a store key, in bytes.
pub const KEY_LEN: usize = 32;

/// What every sealed value starts with: a NUL (never the first byte of JSON), `CKS`, and the
/// format version byte.
const MAGIC: &[u8; 4] = b"\0CKS";

/// The sealed format this build writes: AES-256-GCM, 12-byte nonce, then ciphertext and tag.
const VERSION: u8 = 1;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a key file cannot be made or used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("store key file {}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Group or other users may read or write it.
    #[error(
        "store key file {}: mode {mode:o} lets other users at it; chmod 600 it",
        path.display()
    )]
    TooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// It does not hold exactly [`KEY_LEN`] bytes.
    #[error(
        "store key file {}: holds {len} bytes, a store key is {KEY_LEN}; \
         make one with `certkeeper store keygen`",
        path.display()
    )]
    WrongLength {
        /// The key file.
        path: PathBuf,
        /// How many bytes it holds.
        len: u64,
    },
    /// Not a regular file, or longer than a key: refused after reading at most one byte more.
    #[error("store key file {0}; a store key is {KEY_LEN} bytes")]
    Unfit(crate::secret_file::SecretFileError),
    /// `keygen` will not replace an existing file (it may be the key a store is sealed with).
    #[error("store key file {}: already exists; not overwriting it", path.display())]
    Exists {
        /// The key file.
        path: PathBuf,
    },
    /// The operating system's random source failed.
    #[error("store key file {}: no random bytes from the OS: {message}", path.display())]
    Random {
        /// The key file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Why a sealed value did not open; each names the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Sealed, but the store was opened without a key file.
    #[error(
        "{kind} {id} is sealed and no store_key_file is configured; \
         configure the key file the store was sealed with"
    )]
    NoKey {
        /// Record kind.
        kind: &'static str,
        /// Record id.
        id: String,
    },
    /// The key is not the one it was sealed with, or the value was altered or moved.
    #[error(
        "{kind} {id} does not open with the store key file {}: \
         wrong key, or the record was altered or moved",
        key_file.display()
    )]
    WrongKey {
        /// Record kind.
        kind: &'static str,
        /// Record id.
        id: String,
        /// The key file used.
        key_file: PathBuf,
    },
    /// Sealed in a format this build does not know.
    #[error("{kind} {id} is sealed in format {version}, newer than this build's; upgrade")]
    UnknownVersion {
        /// Record kind.
        kind: &'static str,
        /// Record id.
        id: String,
        /// The format byte found.
        version: u8,
    },
}

/// The key records are sealed with, and the file it came from.
#[derive(Clone)]
pub struct StoreKey {
    key: [u8; KEY_LEN],
    path: PathBuf,
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StoreKey {
    /// Read the key at `path`, refusing a file that is missing, readable or writable by group
    /// or others, or not exactly [`KEY_LEN`] bytes long.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let path = path.to_owned();
            return Err(KeyFileError::TooOpen { path, mode });
        }
        let bytes = crate::secret_file::read_bounded(path, KEY_LEN).map_err(|e| match e {
            crate::secret_file::SecretFileError::Io { source, .. } => io(source),
            unfit => KeyFileError::Unfit(unfit),
        })?;
        let key =
            <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| KeyFileError::WrongLength {
                path: path.to_owned(),
                len: bytes.len() as u64,
            })?;
        Ok(Self {
            key,
            path: path.to_owned(),
        })
    }

    /// Write a new key of [`KEY_LEN`] bytes from the OS's random source to `path`, owner-only;
    /// an existing file is never replaced.
    pub fn generate(path: &Path) -> Result<(), KeyFileError> {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut key)
            .map_err(|e| KeyFileError::Random {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::AlreadyExists => KeyFileError::Exists {
                    path: path.to_owned(),
                },
                _ => KeyFileError::Io {
                    path: path.to_owned(),
                    source,
                },
            })?;
        let io = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        file.write_all(&key).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// The file the key was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seal `plain` as the value of the record `kind`/`id`.
    pub fn seal(&self, kind: &str, id: &str, plain: &[u8]) -> Vec<u8> {
        // rand's thread generator is a CSPRNG seeded from the OS.
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: &associated_data(kind, id),
                },
            )
            .expect("AES-GCM seals any record: they are far below its length limit");
        let mut out = Vec::with_capacity(MAGIC.len() + 1 + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Open a value [`seal`](Self::seal) made for the record `kind`/`id`.
    fn open(&self, kind: &'static str, id: &str, body: &[u8]) -> Result<Vec<u8>, SealError> {
        let wrong = || SealError::WrongKey {
            kind,
            id: id.to_owned(),
            key_file: self.path.clone(),
        };
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(wrong());
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).expect("split at NONCE_LEN");
        let payload = Payload {
            msg: sealed,
            aad: &associated_data(kind, id),
        };
        self.cipher()
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| wrong())
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.key))
    }
}

/// Whether `bytes` is a sealed value (of any format version).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The plain bytes of a stored value: opened with `key` when sealed, as they are when not.
pub fn unseal(
    key: Option<&StoreKey>,
    kind: &'static str,
    id: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, SealError> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Ok(bytes.to_vec());
    };
    let Some(key) = key else {
        let id = id.to_owned();
        return Err(SealError::NoKey { kind, id });
    };
    match rest.split_first() {
        Some((&VERSION, body)) => key.open(kind, id, body),
        Some((&version, _)) => Err(SealError::UnknownVersion {
            kind,
            id: id.to_owned(),
            version,
        }),
        None => Err(SealError::WrongKey {
            kind,
            id: id.to_owned(),
            key_file: key.path.clone(),
        }),
    }
}

/// Binds a sealed value to its place: the format, the record kind and the record id, each
/// NUL-terminated so no two places share the bytes.
fn associated_data(kind: &str, id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + kind.len() + id.len());
    aad.extend_from_slice(b"certkeeper-store-v1\0");
    aad.extend_from_slice(kind.as_bytes());
    aad.push(0);
    aad.extend_from_slice(id.as_bytes());
    aad.push(0);
    aad
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
