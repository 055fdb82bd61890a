//! Moving a store between plaintext and sealed key records.
//!
//! Opening checks first, writes second: every sealed record must open with the key given (or
//! there must be none when no key is given) before the file is opened for writing, so a start
//! with a missing or wrong key leaves the file byte for byte as it was. Then, with a key,
//! records written before the key was configured are sealed in one transaction, and the file
//! is compacted so the pages that held them in plaintext are not kept.

use std::path::Path;

use redb::{
    CompactionMode, ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableDefinition, TableError,
};
use tracing::{info, warn};

use super::seal::{self, StoreKey};
use super::{AccountRecord, CertificateRecord, CsrRecord, Record, Store, StoreError};

type Table = TableDefinition<'static, &'static str, &'static [u8]>;

/// The tables whose records hold key material, with their kinds.
fn sealed_tables() -> [(Table, &'static str); 3] {
    fn of<T: Record>() -> (Table, &'static str) {
        debug_assert!(T::SEALED, "{} holds keys", T::KIND);
        (T::TABLE, T::KIND)
    }
    [
        of::<AccountRecord>(),
        of::<CsrRecord>(),
        of::<CertificateRecord>(),
    ]
}

/// Check the sealed records of an existing store at `path` through a read-only handle, which
/// writes nothing. A file that does not open read-only (absent, needing repair, not a store)
/// is left to the read-write open, which reports it or repairs it and is checked again after.
pub(super) fn check_before_writing(path: &Path, key: Option<&StoreKey>) -> Result<(), StoreError> {
    if !path.exists() {
        return Ok(());
    }
    match ReadOnlyDatabase::open(path) {
        Ok(db) => check_sealed(&db, key),
        Err(_) => Ok(()),
    }
}

/// Every sealed record opens with `key`; with no key, there is no sealed record.
pub(super) fn check_sealed(
    db: &impl ReadableDatabase,
    key: Option<&StoreKey>,
) -> Result<(), StoreError> {
    let txn = db.begin_read()?;
    for (definition, kind) in sealed_tables() {
        let table = match txn.open_table(definition) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in table.iter()? {
            let (id, value) = entry?;
            if seal::is_sealed(value.value()) {
                seal::unseal(key, kind, id.value(), value.value())?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Seal the key records still in plaintext, in one transaction; returns how many.
    pub(super) fn seal_plaintext(&mut self) -> Result<usize, StoreError> {
        let Some(key) = &self.key else {
            return Ok(0);
        };
        let txn = self.begin_write()?;
        let mut count = 0;
        for (definition, kind) in sealed_tables() {
            let mut table = txn.open_table(definition)?;
            let mut plain = Vec::new();
            for entry in table.iter()? {
                let (id, value) = entry?;
                if !seal::is_sealed(value.value()) {
                    plain.push((id.value().to_owned(), value.value().to_vec()));
                }
            }
            for (id, json) in &plain {
                table.insert(id.as_str(), key.seal(kind, id, json).as_slice())?;
            }
            count += plain.len();
        }
        txn.commit()?;
        if count > 0 {
            let key_file = key.path().display().to_string();
            info!(count, %key_file, "sealed the store's plaintext key records");
            self.compact();
        }
        Ok(count)
    }

    /// Give back the pages the plaintext records were in; the sealed data is already committed,
    /// so a failure here costs only disk space.
    /// Each pass returns whether it moved anything; a few passes reach the end.
    fn compact(&mut self) {
        for _ in 0..8 {
            match self.db.compact(CompactionMode::Maximum) {
                Ok(true) => continue,
                Ok(false) => return,
                Err(error) => return warn!(%error, "compacting the store after sealing failed"),
            }
        }
    }
}
