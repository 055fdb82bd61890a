//! What the scheduler tells people and scrapers: the gauges of the metrics page, and config
//! reloads on SIGHUP.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tracing::{error, info, warn};

use super::{RenewalRecord, ScheduleError, Scheduler};
use crate::config::{Config, ConfigError};
use crate::metrics::Exposition;
use crate::store::{OrderRecord, OrderStatus, now};

const STATES: [OrderStatus; 5] = [
    OrderStatus::Pending,
    OrderStatus::Ready,
    OrderStatus::Processing,
    OrderStatus::Valid,
    OrderStatus::Invalid,
];

impl Scheduler {
    /// Read `path` again and put it in force; a config that does not load is refused, logged
    /// with its file, line and key, and the running one stays.
    pub fn reload(&self, path: &Path) -> Result<(), ConfigError> {
        let new = match Config::load(path) {
            Ok(new) => new,
            Err(error) => {
                error!(%error, "config reload refused; the running config stays");
                return Err(error);
            }
        };
        let old = self.config();
        warn_restart_only(&old, &new);
        self.engine.set_limits(new.acme.clone());
        let count = new.certificates.len();
        self.apply(Arc::new(new));
        info!(config = %path.display(), certificates = count, "config reloaded");
        Ok(())
    }

    /// The stored renewal state of `name`, if the scheduler has seen it.
    pub fn state(&self, name: &str) -> Result<Option<RenewalRecord>, ScheduleError> {
        Ok(self.engine.store().get::<RenewalRecord>(name)?)
    }

    /// The word `cert list` shows for `record`; an order that has just succeeded counts as
    /// `ok` before the next pass settles it.
    pub fn status_of(&self, record: &RenewalRecord) -> &'static str {
        let order = record
            .order_id
            .as_deref()
            .map(|id| self.engine.store().get::<OrderRecord>(id));
        let order_status = match order {
            Some(Ok(Some(o))) => Some(o.status),
            _ => None,
        };
        self.status_given(record, order_status)
    }

    /// As [`Self::status_of`], with the status of the record's order already read (listings
    /// read every order's status in one transaction).
    pub fn status_given(
        &self,
        record: &RenewalRecord,
        order_status: Option<OrderStatus>,
    ) -> &'static str {
        if order_status == Some(OrderStatus::Valid) {
            return "ok";
        }
        record.status(self.flag_after())
    }

    /// Failures in a row after which a certificate shows as `failing`.
    pub fn flag_after(&self) -> u32 {
        self.config().renewal.flag_after
    }

    /// Gauges read from the store at scrape time.
    pub fn write_gauges(&self, out: &mut Exposition) {
        self.expiry_gauges(out);
        let orders = self
            .engine
            .store()
            .list::<OrderRecord>()
            .unwrap_or_default();
        let family = "certkeeper_orders";
        for state in STATES {
            let n = orders
                .iter()
                .filter(|o| o.status == state && !o.hidden)
                .count();
            out.sample(family, "gauge", &[("state", state.as_str())], n as f64);
        }
        let failing = "certkeeper_renewal_consecutive_failures";
        out.declare(failing, "gauge");
        for record in self
            .engine
            .store()
            .list::<RenewalRecord>()
            .unwrap_or_default()
        {
            let status = self.status_of(&record);
            let labels = [("certificate", record.name.as_str()), ("status", status)];
            out.sample(failing, "gauge", &labels, f64::from(record.failures));
        }
        out.declare("certkeeper_renewal_failures_total", "counter");
        out.declare("certkeeper_deploy_failures_total", "counter");
        out.declare("certkeeper_acme_requests_total", "counter");
        out.declare("certkeeper_dns_queries_answered_total", "counter");
        out.declare("certkeeper_plugin_calls_total", "counter");
        out.declare("certkeeper_plugin_call_duration_seconds", "histogram");
    }

    fn expiry_gauges(&self, out: &mut Exposition) {
        let family = "certkeeper_certificate_days_to_expiry";
        out.declare(family, "gauge");
        let mut newest = BTreeMap::new();
        for cert in self.engine.certificates().unwrap_or_default() {
            newest.entry(cert.name.clone()).or_insert(cert);
        }
        let now = now();
        for (name, cert) in newest {
            let days = (cert.not_after - now).as_seconds_f64() / 86_400.0;
            out.sample(family, "gauge", &[("certificate", name.as_str())], days);
        }
    }
}

/// Settings a reload cannot change in a running daemon: name each one rather than pretend.
fn warn_restart_only(old: &Config, new: &Config) {
    for setting in crate::config::restart_needed(old, new) {
        warn!(
            %setting,
            "this setting changed; it takes effect on the next restart"
        );
    }
}
