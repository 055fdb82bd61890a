//! What the scheduler remembers per certificate, kept in the store so a restart neither forgets a
//! backoff nor renews everything at once.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::Record;

/// Where a certificate's renewal stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalRecord {
    /// The certificate's name (the key).
    pub name: String,
    /// Renew a certificate that is not in the config (one ordered from the CLI).
    #[serde(default)]
    pub auto: bool,
    /// The certificate id the plan below was made for.
    pub planned_for: Option<String>,
    /// When to renew.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_at: Option<OffsetDateTime>,
    /// Where `next_at` came from: `ari` or `lifetime`.
    pub source: Option<String>,
    /// When to ask the CA's renewal information again (its Retry-After).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ari_refresh_at: Option<OffsetDateTime>,
    /// The ARI identifier (`aki.serial`) of the certificate being replaced.
    pub replaces: Option<String>,
    /// The renewal order under way.
    pub order_id: Option<String>,
    /// Failed attempts in a row.
    #[serde(default)]
    pub failures: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// No attempt before this moment (backoff).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub retry_at: Option<OffsetDateTime>,
    /// The certificate id last written to the deploy targets.
    pub deployed: Option<String>,
    /// The reload hooks of the last deployment have not all succeeded.
    #[serde(default)]
    pub hooks_pending: bool,
    /// Why the last deployment (files or hooks) failed; cleared once one succeeds.
    #[serde(default)]
    pub deploy_error: Option<String>,
}

impl RenewalRecord {
    /// A fresh record for `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// The word `cert list` shows: `ok`, `renewing`, `retrying` or `failing`.
    pub fn status(&self, flag_after: u32) -> &'static str {
        match (self.order_id.is_some(), self.failures) {
            (true, _) => "renewing",
            (false, 0) => "ok",
            (false, n) if n >= flag_after => "failing",
            _ => "retrying",
        }
    }
}

impl Record for RenewalRecord {
    const TABLE: redb::TableDefinition<'static, &'static str, &'static [u8]> =
        redb::TableDefinition::new("renewals");
    const KIND: &'static str = "renewal";
    fn id(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_flagged_failing_only_after_the_configured_number_of_failures() {
        let mut record = RenewalRecord::new("www");
        assert_eq!(record.status(3), "ok");
        record.failures = 2;
        assert_eq!(record.status(3), "retrying");
        record.failures = 3;
        assert_eq!(record.status(3), "failing");
        record.order_id = Some("o".into());
        assert_eq!(record.status(3), "renewing");
    }

    #[test]
    fn a_record_written_before_deploy_fields_existed_still_reads() {
        let old = r#"{"name":"www","planned_for":null,"source":null,"replaces":null,
                      "order_id":null,"last_error":null,"deployed":null}"#;
        let record: RenewalRecord = serde_json::from_str(old).expect("reads");
        assert!(!record.auto && !record.hooks_pending && record.next_at.is_none());
    }
}
