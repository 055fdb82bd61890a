//! Challenge records are keyed under their order's id, so an order's records are one key range
//! in the store rather than a scan of every record ever made (an order reads its own records
//! several times while it is driven: with a scan, a thousand orders in flight cost a million
//! record reads).
//!
//! Stores written before that kept random ids; `rekey_challenges` moves those under their
//! order's prefix once, at start, before anything reads them by order.

use tracing::info;

use super::engine::{Engine, EngineError};
use crate::store::ChallengeRecord;

impl Engine {
    /// Move every challenge record whose id does not start with its order's id under it.
    pub(super) fn rekey_challenges(&self) -> Result<(), EngineError> {
        let mut moved = 0_usize;
        for mut record in self.store.list::<ChallengeRecord>()? {
            if record
                .id
                .starts_with(&ChallengeRecord::id_prefix(&record.order_id))
            {
                continue;
            }
            let old_id = std::mem::take(&mut record.id);
            record.id = format!("{}{old_id}", ChallengeRecord::id_prefix(&record.order_id));
            self.store.rekey(&old_id, &record)?;
            moved += 1;
        }
        if moved > 0 {
            info!(moved, "challenge records keyed under their orders");
        }
        Ok(())
    }
}
