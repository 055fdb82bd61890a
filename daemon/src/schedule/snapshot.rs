//! What one pass knows about the store: the newest certificate of each name and the names with
//! an order under way, read once per pass.
//!
//! Looking both up per certificate decoded every certificate and order record once for each
//! certificate, so a pass over 10,000 certificates read 10⁸ records. The snapshot makes a pass
//! linear. N.B. it may go stale while the pass runs; the pass reads the store again where acting
//! on stale data would do harm: after an order of the certificate's own has just finished, and
//! before placing a new order.

use std::collections::{HashMap, HashSet};

use super::{ScheduleError, settings};
use crate::acme::Engine;

/// The certificates and orders one pass works from.
pub(super) struct Snapshot {
    /// The id of the newest certificate of each name.
    latest: HashMap<String, String>,
    in_flight: HashSet<String>,
}

impl Snapshot {
    /// Read every certificate and order once.
    pub(super) fn read(engine: &Engine) -> Result<Self, ScheduleError> {
        let mut latest = HashMap::new();
        // Newest first: the first certificate seen for a name is its newest.
        for cert in engine.certificate_summaries()? {
            latest.entry(cert.name).or_insert(cert.id);
        }
        let in_flight = engine
            .orders()?
            .iter()
            .filter(|o| !o.status.is_final() && o.error.is_none())
            .map(|o| settings::name_of(o).into_owned())
            .collect();
        Ok(Self { latest, in_flight })
    }

    /// The id of the newest certificate named `name` when the pass began (or since
    /// [`Self::set_latest`]).
    pub(super) fn latest(&self, name: &str) -> Option<&str> {
        self.latest.get(name).map(String::as_str)
    }

    /// Replace what the snapshot holds for `name` with a fresh read.
    pub(super) fn set_latest(&mut self, name: &str, cert: Option<String>) {
        match cert {
            Some(cert) => self.latest.insert(name.to_owned(), cert),
            None => self.latest.remove(name),
        };
    }

    /// Whether an order for `name` was under way when the pass began.
    pub(super) fn in_flight(&self, name: &str) -> bool {
        self.in_flight.contains(name)
    }

    /// How many certificate names the snapshot holds.
    pub(super) fn names(&self) -> usize {
        self.latest.len()
    }
}
