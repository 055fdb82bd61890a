//! The renewal scheduler: keeps every configured certificate (and every CLI certificate with
//! renewal turned on) issued, renews each inside its renewal window, backs off per certificate
//! when renewal fails, and deploys each new certificate to its targets.
//!
//! Each certificate's plan is stored (`RenewalRecord`) so a restart resumes its backoff instead
//! of renewing everything at once. The window comes from the CA's renewal information
//! (RFC 9773) when its directory offers it, else from the certificate's lifetime; a random
//! point inside it spreads a fleet out. One pass runs every `check_interval_secs`.

mod account_retry;
mod deploy;
mod report;
mod settings;
mod snapshot;
mod state;
mod trim;
mod window;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tracing::{Instrument, debug, error, info, info_span, warn};

use snapshot::Snapshot;
pub use state::RenewalRecord;
pub use window::{Window, backoff, lifetime_window, pick};

use crate::acme::{Engine, EngineError, NewOrderRequest};
use crate::config::Config;
use crate::store::{CertificateRecord, OrderRecord, OrderStatus, now};

/// `[renewal]`: how often the scheduler looks and how it backs off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RenewalConfig {
    /// Seconds between passes over every certificate.
    pub check_interval_secs: u64,
    /// Wait after the first failure; doubles with each further one.
    pub backoff_base_secs: u64,
    /// Longest wait between attempts.
    pub backoff_cap_secs: u64,
    /// Failures in a row after which a certificate is flagged `failing`.
    pub flag_after: u32,
}

impl Default for RenewalConfig {
    fn default() -> Self {
        Self {
            check_interval_secs: 60,
            backoff_base_secs: 3600,
            backoff_cap_secs: 86_400,
            flag_after: 3,
        }
    }
}

/// Why a scheduler operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The scheduler; shared by its loop, the admin API and the reload handler.
pub struct Scheduler {
    engine: Arc<Engine>,
    config: RwLock<Arc<Config>>,
    wake: Notify,
    /// Held while a renewal record is read, changed and written back, so a `cert renew` from
    /// the admin API and a pass never overwrite each other's changes.
    records: tokio::sync::Mutex<()>,
    /// Configured accounts that failed to register, and when to try each again.
    account_retries: std::sync::Mutex<account_retry::AccountRetries>,
}

impl Scheduler {
    /// A scheduler over `engine` for `config`.
    pub fn new(engine: Arc<Engine>, config: Arc<Config>) -> Self {
        Self {
            engine,
            config: RwLock::new(config),
            wake: Notify::new(),
            records: tokio::sync::Mutex::new(()),
            account_retries: Default::default(),
        }
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(
            &self
                .config
                .read()
                .expect("config lock poisoned only by a panic"),
        )
    }

    /// Put a reloaded config in force and run a pass at once; orders under way go on.
    pub fn apply(&self, config: Arc<Config>) {
        *self
            .config
            .write()
            .expect("config lock poisoned only by a panic") = config;
        self.retries().clear();
        self.wake.notify_one();
    }

    /// Pass over every certificate until the task is aborted.
    pub async fn run(self: Arc<Self>) {
        let mut first = true;
        loop {
            self.pass(first).await;
            first = false;
            let every = Duration::from_secs(self.config().renewal.check_interval_secs.max(1));
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = self.wake.notified() => first = true,
            }
        }
    }

    /// One pass: register missing accounts, then renew and deploy what is due. `verify_files`
    /// also compares deployed files with the store (at start and after a reload).
    pub async fn pass(&self, verify_files: bool) {
        let started = Instant::now();
        let config = self.config();
        self.register_accounts(&config).await;
        let mut snapshot = match Snapshot::read(&self.engine) {
            Ok(snapshot) => snapshot,
            Err(error) => return error!(%error, "renewal pass cannot read the store"),
        };
        let names = self.names(&config);
        for name in &names {
            let span = info_span!("renewal", certificate = %name);
            let step = self.step(&config, name, &mut snapshot);
            if let Err(error) = step.instrument(span.clone()).await {
                error!(parent: &span, %error, "renewal pass failed");
            }
            self.deploy(&config, name, verify_files, &snapshot)
                .instrument(span)
                .await;
        }
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        let stored = snapshot.names();
        drop(snapshot);
        trim::release_freed_memory();
        debug!(
            certificates = names.len(),
            stored, elapsed_ms, "renewal pass done"
        );
    }

    /// Renew `name` now, whatever its window, with its own settings and a fresh key; turns
    /// automatic renewal on for a certificate ordered from the CLI.
    pub async fn renew_now(&self, name: &str) -> Result<OrderRecord, ScheduleError> {
        let _records = self.records.lock().await;
        let config = self.config();
        let request = self.request_for(&config, name)?;
        let mut record = self.record(name)?;
        record.auto = true;
        let order = self.place(&mut record, request).await;
        self.engine.store().put(&record)?;
        order
    }

    /// Turn automatic renewal on for certificate `name` (one ordered from the CLI).
    pub async fn enable(&self, name: &str) -> Result<RenewalRecord, ScheduleError> {
        let _records = self.records.lock().await;
        let mut record = self.record(name)?;
        record.auto = true;
        self.engine.store().put(&record)?;
        Ok(record)
    }

    fn names(&self, config: &Config) -> Vec<String> {
        let mut names: Vec<String> = config
            .certificates
            .iter()
            .map(|c| c.name.get_ref().clone())
            .collect();
        let auto = self
            .engine
            .store()
            .list::<RenewalRecord>()
            .unwrap_or_default();
        // N.B. a set, not `names.contains`: with thousands of renewal records that was quadratic.
        let mut seen: std::collections::HashSet<String> = names.iter().cloned().collect();
        for record in auto.into_iter().filter(|r| r.auto) {
            if seen.insert(record.name.clone()) {
                names.push(record.name);
            }
        }
        names
    }

    fn record(&self, name: &str) -> Result<RenewalRecord, ScheduleError> {
        let stored = self.engine.store().get::<RenewalRecord>(name)?;
        Ok(stored.unwrap_or_else(|| RenewalRecord::new(name)))
    }

    async fn register_accounts(&self, config: &Config) {
        for account in &config.accounts {
            let name = account.name.get_ref();
            let due = self.retries().due(name, Instant::now());
            if !due || self.engine.find_account(name).is_ok() {
                continue;
            }
            let result = match account.request() {
                Ok(request) => self.engine.register_account(&request).await.map(drop),
                Err(message) => Err(crate::acme::EngineError::Invalid(message)),
            };
            match result {
                Ok(()) => self.retries().succeeded(name),
                Err(error) => {
                    let r = &config.renewal;
                    let (interval, cap) = (r.check_interval_secs, r.backoff_base_secs);
                    let wait = self.retries().failed(
                        name,
                        Instant::now(),
                        (Duration::from_secs(interval), Duration::from_secs(cap)),
                        error.to_string(),
                    );
                    let retry_in_secs = wait.as_secs();
                    error!(
                        %error, account = %name, retry_in_secs,
                        "cannot register configured account"
                    );
                }
            }
        }
    }

    fn retries(&self) -> std::sync::MutexGuard<'_, account_retry::AccountRetries> {
        self.account_retries
            .lock()
            .expect("account retries poisoned only by a panic")
    }

    fn request_for(&self, config: &Config, name: &str) -> Result<NewOrderRequest, ScheduleError> {
        self.request_from(config, name, None)
    }

    /// As [`Self::request_for`], given the newest certificate of `name` when it is known.
    fn request_from(
        &self,
        config: &Config,
        name: &str,
        latest: Option<&CertificateRecord>,
    ) -> Result<NewOrderRequest, ScheduleError> {
        if let Some(cert) = config
            .certificates
            .iter()
            .find(|c| c.name.get_ref() == name)
        {
            return Ok(settings::from_config(cert));
        }
        let latest = match latest {
            Some(cert) => cert.clone(),
            None => self.engine.certificate(name)?,
        };
        Ok(settings::from_issuing_order(&self.engine, &latest)?)
    }

    /// The whole certificate record behind a snapshot's id.
    fn by_id(&self, id: Option<&str>) -> Result<Option<CertificateRecord>, ScheduleError> {
        match id {
            Some(id) => Ok(self.engine.store().get::<CertificateRecord>(id)?),
            None => Ok(None),
        }
    }

    fn latest(&self, name: &str) -> Result<Option<CertificateRecord>, ScheduleError> {
        let certs = self.engine.certificates()?;
        Ok(certs.into_iter().find(|c| c.name == name))
    }

    /// Settle the order under way, then place a new one if `name` is due.
    async fn step(
        &self,
        config: &Config,
        name: &str,
        snapshot: &mut Snapshot,
    ) -> Result<(), ScheduleError> {
        let _records = self.records.lock().await;
        let mut record = self.record(name)?;
        let before = record.clone();
        let had_order = record.order_id.is_some();
        if !self.settle(config, &mut record)? || snapshot.in_flight(name) {
            return self.save_changed(&before, record);
        }
        if had_order {
            // The order just ended, perhaps with a certificate newer than the snapshot's.
            snapshot.set_latest(name, self.latest(name)?.map(|c| c.id));
        }
        let latest = self.by_id(snapshot.latest(name))?;
        let request = self.request_from(config, name, latest.as_ref())?;
        let now = now();
        let due = match &latest {
            // A revoked certificate is replaced at once, like one for other names.
            Some(cert)
                if settings::same_names(cert, &request.names) && cert.revoked_at.is_none() =>
            {
                self.plan(&mut record, &request, cert, now).await;
                record.next_at.is_some_and(|at| at <= now)
            }
            _ => true,
        };
        // N.B. read orders afresh before placing: one may have been placed since the snapshot.
        if due && record.retry_at.is_none_or(|at| at <= now) && !self.order_in_flight(name)? {
            let _ = self.place(&mut record, request).await;
        }
        self.save_changed(&before, record)
    }

    /// Account for the outcome of the renewal order under way; false while it runs.
    fn settle(&self, config: &Config, record: &mut RenewalRecord) -> Result<bool, ScheduleError> {
        let Some(id) = record.order_id.clone() else {
            return Ok(true);
        };
        let order = self.engine.store().get::<OrderRecord>(&id)?;
        match order {
            Some(o) if o.status == OrderStatus::Valid && o.certificate_id.is_some() => {
                info!(order = %id, "certificate renewed");
                *record = RenewalRecord {
                    order_id: None,
                    failures: 0,
                    last_error: None,
                    retry_at: None,
                    ..record.clone()
                };
                Ok(true)
            }
            Some(o) if o.error.is_none() && !o.status.is_final() => Ok(false),
            Some(o) if o.error.is_none() && self.engine.is_driving(&id) => Ok(false),
            Some(o) => {
                let reason = o
                    .error
                    .unwrap_or_else(|| format!("order {id} is {}", o.status.as_str()));
                self.fail(config, record, reason);
                Ok(true)
            }
            None => {
                self.fail(config, record, format!("order {id} was deleted"));
                Ok(true)
            }
        }
    }

    fn order_in_flight(&self, name: &str) -> Result<bool, ScheduleError> {
        let orders = self.engine.orders()?;
        Ok(orders
            .iter()
            .any(|o| settings::name_of(o) == name && !o.status.is_final() && o.error.is_none()))
    }

    /// Make (or refresh) the plan for `cert`: once per certificate, and again when the CA's
    /// renewal information asked to be fetched again.
    async fn plan(
        &self,
        record: &mut RenewalRecord,
        req: &NewOrderRequest,
        cert: &CertificateRecord,
        now: OffsetDateTime,
    ) {
        let fresh = record.planned_for.as_deref() == Some(cert.id.as_str());
        let ari_stale = record.ari_refresh_at.is_some_and(|at| at <= now);
        if fresh && !ari_stale {
            return;
        }
        let (window, source) = self.window(record, req, cert, now).await;
        let at = pick(window, now, &mut rand::rng());
        info!(next_renewal = %at, source, "renewal planned");
        record.planned_for = Some(cert.id.clone());
        record.next_at = Some(at);
        record.source = Some(source.to_owned());
    }

    /// The CA's suggested window when it offers one, else the lifetime window.
    async fn window(
        &self,
        record: &mut RenewalRecord,
        req: &NewOrderRequest,
        cert: &CertificateRecord,
        now: OffsetDateTime,
    ) -> (Window, &'static str) {
        let lifetime = lifetime_window(cert.not_before, cert.not_after);
        let ari = match self.engine.find_account(&req.account) {
            Ok(account) => self.engine.renewal_info(&account.id, cert).await,
            Err(error) => Err(error),
        };
        match ari {
            Ok(Some(info)) => {
                record.ari_refresh_at = Some(window::ari_refresh_at(now, info.retry_after));
                record.replaces = Some(info.identifier);
                (
                    Window {
                        start: info.start,
                        end: info.end,
                    },
                    "ari",
                )
            }
            Ok(None) => (lifetime, "lifetime"),
            Err(error) => {
                warn!(%error, "renewal information unavailable; using the lifetime");
                record.ari_refresh_at = Some(now + time::Duration::HOUR);
                (lifetime, "lifetime")
            }
        }
    }

    async fn place(
        &self,
        record: &mut RenewalRecord,
        mut request: NewOrderRequest,
    ) -> Result<OrderRecord, ScheduleError> {
        request.replaces = record
            .replaces
            .clone()
            .filter(|_| record.source.as_deref() == Some("ari"));
        match self.engine.create_order(request).await {
            Ok(order) => {
                info!(order = %order.id, "renewal ordered");
                record.order_id = Some(order.id.clone());
                Ok(order)
            }
            Err(error) => {
                let config = self.config();
                // N.B. "no account called X" alone hides why: say what registering it met.
                let reason = match &error {
                    EngineError::NotFound { kind, key } if *kind == "account" => {
                        match self.retries().last_error(key) {
                            Some(why) => format!("account \"{key}\" is not registered: {why}"),
                            None => error.to_string(),
                        }
                    }
                    _ => error.to_string(),
                };
                self.fail(&config, record, reason);
                Err(error.into())
            }
        }
    }

    fn fail(&self, config: &Config, record: &mut RenewalRecord, reason: String) {
        record.order_id = None;
        record.failures += 1;
        if reason.contains("alreadyReplaced") {
            // RFC 9773 §5: the old certificate already has a successor order; retry without
            // naming it rather than fail the same way forever.
            record.replaces = None;
        }
        let r = &config.renewal;
        let rate_limited = reason.contains("rateLimited") || reason.contains("429");
        let cap = Duration::from_secs(r.backoff_cap_secs);
        let floor = rate_limited.then_some(cap);
        let wait = backoff(
            record.failures,
            Duration::from_secs(r.backoff_base_secs),
            cap,
            floor,
            &mut rand::rng(),
        );
        let retry = time::Duration::try_from(wait).unwrap_or(time::Duration::DAY);
        let now = now();
        record.retry_at = Some(now.checked_add(retry).unwrap_or(now + time::Duration::DAY));
        crate::metrics::renewal_failure(&record.name);
        if record.failures >= r.flag_after {
            error!(failures = record.failures, %reason, retry_in = ?wait, "renewal failing");
        } else {
            warn!(failures = record.failures, %reason, retry_in = ?wait, "renewal failed; backing off");
        }
        record.last_error = Some(reason);
    }

    /// Write `record` back unless it equals `before`: a pass over thousands of certificates
    /// with nothing due then writes nothing, instead of one synced transaction per certificate.
    fn save_changed(
        &self,
        before: &RenewalRecord,
        record: RenewalRecord,
    ) -> Result<(), ScheduleError> {
        if *before == record {
            return Ok(());
        }
        self.save(record)
    }

    fn save(&self, record: RenewalRecord) -> Result<(), ScheduleError> {
        Ok(self.engine.store().put(&record)?)
    }
}
