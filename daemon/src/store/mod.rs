//! The embedded store: one redb file holding accounts (with their keys), CSRs, orders,
//! challenge records and certificates.
//!
//! Every record is one JSON value under its id in its own table, and every change is one redb
//! transaction, so a crash at any point leaves either the old or the new record — never half of
//! one. The file is created owner-only because it holds private keys. The schema carries a
//! version; a file written by a newer schema is refused rather than misread.
//!
//! With a store key file, the records that hold private keys are sealed (see [`seal`]); a store
//! that has sealed records refuses to open without the key that opens them, before anything in
//! the file is changed.

mod migrate;
mod records;
pub mod seal;
mod summary;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::warn;

use seal::{SealError, StoreKey};

pub use records::{
    AccountRecord, CertificateRecord, ChallengeRecord, ChallengeStatus, CsrRecord, OrderRecord,
    OrderStatus, new_id, now,
};
pub use summary::{CertificateSummary, OrderSummary};

/// The most memory redb keeps pages of the file in. Its default is 1 GiB, so a daemon that
/// once read every record of a large store kept all of them; the OS caches the file anyway.
const CACHE_BYTES: usize = 4 << 20;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = 1;

const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");

/// A kind of record kept in its own table.
pub trait Record: Serialize + DeserializeOwned {
    /// The record's table.
    const TABLE: TableDefinition<'static, &'static str, &'static [u8]>;
    /// What the record is called in errors.
    const KIND: &'static str;
    /// Whether the record holds key material, and so is sealed when the store has a key.
    const SEALED: bool = false;
    /// The record's key.
    fn id(&self) -> &str;
}

/// Failures of the store; each names the file or the record.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or created.
    #[error("store {}: {message}", path.display())]
    Open {
        /// The store file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A read or write failed.
    #[error("store: {0}")]
    Io(String),
    /// A record is not valid JSON for its kind.
    #[error("store: {kind} {id} is unreadable: {message}")]
    Corrupt {
        /// Record kind.
        kind: &'static str,
        /// Record id.
        id: String,
        /// Why.
        message: String,
    },
    /// A sealed record does not open with the key the store has (or has none).
    #[error("{0}")]
    Sealed(#[from] SealError),
    /// No record with that id.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// Record kind.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
}

macro_rules! io_err {
    ($($t:ty),*) => { $(impl From<$t> for StoreError {
        fn from(e: $t) -> Self { StoreError::Io(e.to_string()) }
    })* };
}
io_err!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The open store.
#[derive(Debug)]
pub struct Store {
    db: Database,
    key: Option<StoreKey>,
}

impl Store {
    /// Open `path`, creating it (owner-only) with the current schema when absent. Records are
    /// kept as they come; a store holding sealed records is refused.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_key(path, None)
    }

    /// Open `path` like [`open`](Self::open), sealing key-holding records with `key` when one
    /// is given. Every sealed record must open with `key` (checked before anything is
    /// written); plaintext key records left by a store without a key are then sealed, all in
    /// one transaction.
    pub fn open_with_key(path: &Path, key: Option<StoreKey>) -> Result<Self, StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: path.to_owned(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        migrate::check_before_writing(path, key.as_ref()).map_err(|e| open_err(e.to_string()))?;
        let repaired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&repaired);
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .set_repair_callback(move |_| flag.store(true, Ordering::Relaxed))
            .create(path)
            .map_err(|e| open_err(e.to_string()))?;
        if repaired.load(Ordering::Relaxed) {
            warn!(path = %path.display(), "store needed repair: its allocator state was rebuilt");
        }
        restrict_mode(path).map_err(|e| open_err(e.to_string()))?;
        let mut store = Self { db, key };
        migrate::check_sealed(&store.db, store.key.as_ref())
            .map_err(|e| open_err(e.to_string()))?;
        store.check_schema().map_err(|e| open_err(e.to_string()))?;
        store
            .seal_plaintext()
            .map_err(|e| open_err(e.to_string()))?;
        Ok(store)
    }

    /// Insert or replace `record`.
    pub fn put<T: Record>(&self, record: &T) -> Result<(), StoreError> {
        let bytes = self.encode(record);
        let txn = self.begin_write()?;
        txn.open_table(T::TABLE)?
            .insert(record.id(), bytes.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Insert or replace every record of `records` in one transaction (one disk sync in all).
    pub fn put_all<T: Record>(&self, records: &[T]) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(T::TABLE)?;
            for record in records {
                let bytes = self.encode(record);
                table.insert(record.id(), bytes.as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The record with `id`, if any.
    pub fn get<T: Record>(&self, id: &str) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(T::TABLE) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(value) = table.get(id)? else {
            return Ok(None);
        };
        self.decode::<T>(id, value.value()).map(Some)
    }

    /// The record with `id`, or a not-found error naming it.
    pub fn require<T: Record>(&self, id: &str) -> Result<T, StoreError> {
        self.get(id)?.ok_or_else(|| StoreError::NotFound {
            kind: T::KIND,
            id: id.to_owned(),
        })
    }

    /// Every record of a kind, in id order.
    pub fn list<T: Record>(&self) -> Result<Vec<T>, StoreError> {
        self.list_as::<T, T>()
    }

    /// Every record of kind `T`, in id order, decoded as `V`: a view naming only some of the
    /// record's fields, so the others are skipped instead of copied.
    pub fn list_as<T: Record, V: DeserializeOwned>(&self) -> Result<Vec<V>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(T::TABLE) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            out.push(self.decode_as::<T, V>(key.value(), value.value())?);
        }
        Ok(out)
    }

    /// The records of kind `T` with the given ids that exist, decoded as `V`, read in one
    /// transaction (one lookup each, instead of one transaction each).
    pub fn get_many_as<'a, T: Record, V: DeserializeOwned>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<std::collections::HashMap<String, V>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(T::TABLE) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Default::default()),
            Err(e) => return Err(e.into()),
        };
        let mut out = std::collections::HashMap::new();
        for id in ids {
            if let Some(value) = table.get(id)? {
                out.insert(id.to_owned(), self.decode_as::<T, V>(id, value.value())?);
            }
        }
        Ok(out)
    }

    /// Every record of a kind whose id starts with `prefix`, in id order: a range read, so its
    /// cost follows the records it returns, not the size of the table.
    pub fn list_prefix<T: Record>(&self, prefix: &str) -> Result<Vec<T>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(T::TABLE) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in table.range(prefix..)? {
            let (key, value) = entry?;
            if !key.value().starts_with(prefix) {
                break;
            }
            out.push(self.decode::<T>(key.value(), value.value())?);
        }
        Ok(out)
    }

    /// Move a record from `old_id` to `record.id()` in one transaction.
    pub fn rekey<T: Record>(&self, old_id: &str, record: &T) -> Result<(), StoreError> {
        let bytes = self.encode(record);
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(T::TABLE)?;
            table.remove(old_id)?;
            table.insert(record.id(), bytes.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Remove the record with `id`; true when one was there.
    pub fn delete<T: Record>(&self, id: &str) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let existed = txn.open_table(T::TABLE)?.remove(id)?.is_some();
        txn.commit()?;
        Ok(existed)
    }

    /// Read, change and write back one record in a single transaction.
    pub fn update<T: Record>(
        &self,
        id: &str,
        change: impl FnOnce(&mut T),
    ) -> Result<T, StoreError> {
        let txn = self.begin_write()?;
        let record = {
            let mut table = txn.open_table(T::TABLE)?;
            let current = table
                .get(id)?
                .map(|v| self.decode::<T>(id, v.value()))
                .transpose()?;
            let mut record = current.ok_or_else(|| StoreError::NotFound {
                kind: T::KIND,
                id: id.to_owned(),
            })?;
            change(&mut record);
            let bytes = self.encode(&record);
            table.insert(id, bytes.as_slice())?;
            record
        };
        txn.commit()?;
        Ok(record)
    }

    /// A write transaction that saves redb's allocator state with its commit ("quick repair"),
    /// so a store the process was killed over opens without the full-file repair redb otherwise
    /// runs after an unclean shutdown.
    fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_quick_repair(true);
        Ok(txn)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let version = meta.get("schema_version")?.map(|v| v.value());
            match version {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(v) if v > SCHEMA_VERSION => {
                    return Err(StoreError::Io(format!(
                        "schema version {v} is newer than this build's {SCHEMA_VERSION}; \
                         upgrade certkeeper"
                    )));
                }
                Some(_) => {}
            }
        }
        txn.commit()?;
        Ok(())
    }
}

impl Store {
    /// A record's stored bytes: its JSON, sealed when it holds keys and the store has a key.
    fn encode<T: Record>(&self, record: &T) -> Vec<u8> {
        let json =
            serde_json::to_vec(record).expect("records serialize: no maps with non-string keys");
        match &self.key {
            Some(key) if T::SEALED => key.seal(T::KIND, record.id(), &json),
            _ => json,
        }
    }

    fn decode<T: Record>(&self, id: &str, bytes: &[u8]) -> Result<T, StoreError> {
        self.decode_as::<T, T>(id, bytes)
    }

    /// Read a stored `T` as `V` (the record itself or a smaller view of it), opening it first
    /// when it is sealed.
    fn decode_as<T: Record, V: DeserializeOwned>(
        &self,
        id: &str,
        bytes: &[u8],
    ) -> Result<V, StoreError> {
        let json = match seal::is_sealed(bytes) {
            true => Cow::Owned(seal::unseal(self.key.as_ref(), T::KIND, id, bytes)?),
            false => Cow::Borrowed(bytes),
        };
        serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt {
            kind: T::KIND,
            id: id.to_owned(),
            message: e.to_string(),
        })
    }
}

/// Keep the file owner-only: it holds private keys. redb creates it under the process umask;
/// nothing secret is written before this runs.
fn restrict_mode(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(test)]
mod tests;
