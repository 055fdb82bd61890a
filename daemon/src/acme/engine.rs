//! The order engine: every operation the admin API offers on accounts, CSRs and orders. The
//! background drivers that take orders to a certificate are in `driver.rs`.
//!
//! Each state change is written to the store before the next network step, so a restart picks
//! every unfinished order up where it stood (`resume`): a challenge record is stored before it is
//! presented, which is what lets cleanup find it after a crash.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use instant_acme::{Account, Identifier, NewOrder, OrderStatus as AcmeStatus};
use serde::{Deserialize, Serialize};
use tracing::info;

use super::nonce::retry_bad_nonce;

use super::client::{AcmeError, CaEndpoint};
use super::csr::{self, CsrError};
use super::names::{NameError, challenge_record_name, validate_domain};
use super::{ChallengeKind, DnsMethod, KeyType};
use crate::challenge::{Board, canonical_name};
use crate::dns::PropagationChecker;
use crate::plugin::PluginHost;
use crate::store::{
    AccountRecord, CertificateRecord, CertificateSummary, ChallengeRecord, CsrRecord, OrderRecord,
    OrderStatus, Store, StoreError, new_id, now,
};

/// What an operator (or the config) asks for when placing an order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrderRequest {
    /// Account id or name.
    pub account: String,
    /// DNS names.
    pub names: Vec<String>,
    /// Validation method.
    pub challenge: ChallengeKind,
    /// For dns-01: `builtin`, `manual` or a provider name.
    pub dns: Option<String>,
    /// Finalize with this stored CSR instead of a new one.
    pub csr_id: Option<String>,
    /// Key type for a new CSR.
    #[serde(default)]
    pub key_type: KeyType,
    /// Finalize and download as soon as the order is ready.
    #[serde(default)]
    pub auto_finalize: bool,
    /// The config certificate this order is for.
    pub certificate_name: Option<String>,
    /// The ARI identifier of the certificate this order replaces (RFC 9773 §5).
    #[serde(default)]
    pub replaces: Option<String>,
    /// ACME profile to ask the CA for; it must be listed in the CA's directory.
    #[serde(default)]
    pub profile: Option<String>,
}

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The CA failed or refused.
    #[error(transparent)]
    Acme(#[from] AcmeError),
    /// A name or email is malformed.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A CSR is unusable.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// The request is inconsistent; nothing was sent or stored.
    #[error("{0}")]
    Invalid(String),
    /// Nothing has that id or name.
    #[error("no {kind} called {key}")]
    NotFound {
        /// Kind of thing.
        kind: &'static str,
        /// The id or name asked for.
        key: String,
    },
    /// The object is not in a state that allows the operation.
    #[error("{0}")]
    State(String),
    /// Validation did not succeed.
    #[error("{0}")]
    Validation(String),
    /// The CA's certificate does not match the CSR; the order is failed.
    #[error(transparent)]
    Certificate(#[from] super::certificate::CertificateError),
    /// The CA did not finish the order in the configured time.
    #[error(transparent)]
    Stuck(#[from] super::poll::StuckOrder),
}

impl EngineError {
    /// Whether this error ends its order: it is marked invalid and no longer polled.
    pub fn ends_order(&self) -> bool {
        match self {
            Self::Certificate(_) => true,
            Self::Stuck(stuck) => stuck.ends_order(),
            _ => false,
        }
    }

    /// Whether the CA kept rejecting nonces (worth starting the operation again).
    pub fn is_bad_nonce(&self) -> bool {
        let Self::Acme(AcmeError::Ca { source, .. }) = self else {
            return false;
        };
        super::nonce::is_bad_nonce(source)
    }
}

/// The engine shared by the admin API and the drivers.
pub struct Engine {
    pub(super) store: Arc<Store>,
    pub(super) board: Arc<Board>,
    pub(super) plugins: Arc<PluginHost>,
    pub(super) propagation: Arc<PropagationChecker>,
    pub(super) builtin_zones: Vec<String>,
    pub(super) dns_ttl: u32,
    /// The `[acme]` section; a reload replaces it.
    limits: std::sync::RwLock<super::poll::AcmeLimits>,
    pub(super) cas: Vec<CaEndpoint>,
    pub(super) accounts: tokio::sync::Mutex<HashMap<String, Account>>,
    pub(super) driving: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Challenge URLs this process has told the CA to validate. Some CAs (pebble among them)
    /// keep a challenge `pending` while validation waits, and start a second validation when
    /// asked again; a re-drive after badNonce must not ask twice.
    pub(super) answered: Mutex<std::collections::HashSet<String>>,
    /// One new-order request at a time per CA (keyed by CA name). CAs limit new orders per
    /// account far below what one request at a time allows, and pebble 2.4's in-memory store
    /// deadlocks when two new-order requests build authorizations at once.
    new_order_gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Held while a downloaded certificate is checked against its order and stored: an order's
    /// driver and an operator's `order download` may both fetch it, and only one may store it.
    pub(super) storing_certificate: Mutex<()>,
}

impl Engine {
    /// Assemble the engine from its parts.
    pub fn new(
        store: Arc<Store>,
        board: Arc<Board>,
        plugins: Arc<PluginHost>,
        propagation: Arc<PropagationChecker>,
        cas: Vec<CaEndpoint>,
        builtin_zones: Vec<String>,
    ) -> Self {
        let builtin_zones = builtin_zones.iter().map(|z| canonical_name(z)).collect();
        Self {
            store,
            board,
            plugins,
            propagation,
            builtin_zones,
            dns_ttl: 60,
            limits: std::sync::RwLock::default(),
            cas,
            accounts: tokio::sync::Mutex::new(HashMap::new()),
            driving: Mutex::new(HashMap::new()),
            answered: Mutex::new(std::collections::HashSet::new()),
            new_order_gates: Mutex::new(HashMap::new()),
            storing_certificate: Mutex::new(()),
        }
    }

    /// Use these bounds on waiting for CAs (the `[acme]` section) instead of the defaults.
    pub fn with_limits(self, limits: super::poll::AcmeLimits) -> Self {
        self.set_limits(limits);
        self
    }

    /// Replaces the `[acme]` bounds for waits that start from now on (a reload).
    pub fn set_limits(&self, limits: super::poll::AcmeLimits) {
        super::hold::set_cap(limits.retry_after_cap_secs);
        *self
            .limits
            .write()
            .expect("limits lock poisoned only by a panic") = limits;
    }

    /// The `[acme]` bounds in force.
    pub fn limits(&self) -> super::poll::AcmeLimits {
        self.limits
            .read()
            .expect("limits lock poisoned only by a panic")
            .clone()
    }

    /// The store, for read-only listings.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configured CA called `name`.
    pub fn ca(&self, name: &str) -> Result<&CaEndpoint, EngineError> {
        self.cas.iter().find(|ca| ca.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.cas.iter().map(|c| c.name.as_str()).collect();
            EngineError::Invalid(format!("no CA called \"{name}\" (configured: {known:?})"))
        })
    }

    // ---- accounts ----

    pub(super) async fn account_handle(&self, account_id: &str) -> Result<Account, EngineError> {
        let mut cache = self.accounts.lock().await;
        if let Some(account) = cache.get(account_id) {
            return Ok(account.clone());
        }
        let record = self
            .store
            .get::<AccountRecord>(account_id)?
            .ok_or_else(|| {
                EngineError::State(format!(
                    "account {account_id} was deleted; its orders cannot go on"
                ))
            })?;
        let endpoint = self.endpoint_for(&record);
        let account = endpoint.restore(&record).await?;
        cache.insert(account_id.to_owned(), account.clone());
        Ok(account)
    }

    pub(super) fn endpoint_for(&self, record: &AccountRecord) -> CaEndpoint {
        let configured = self.cas.iter().find(|c| c.name == record.ca);
        configured.cloned().unwrap_or_else(|| CaEndpoint {
            name: record.ca.clone(),
            directory: record.directory_url.clone(),
            tls_root: None,
            vendor: None,
            eab_api_key_file: None,
        })
    }

    // ---- CSRs ----

    /// Make a key and CSR for `names`.
    pub fn create_csr(
        &self,
        names: &[String],
        key_type: KeyType,
    ) -> Result<CsrRecord, EngineError> {
        let names = normalize_names(names)?;
        let record = csr::generate(&names, key_type)?;
        self.store.put(&record)?;
        Ok(record)
    }

    /// Check and store an operator's CSR.
    pub fn import_csr(&self, pem: &[u8]) -> Result<CsrRecord, EngineError> {
        let record = csr::import(pem)?;
        normalize_names(&record.names)?;
        self.store.put(&record)?;
        Ok(record)
    }

    // ---- orders ----

    /// The lock that lets one new-order request at a time go to the CA called `ca`.
    fn new_order_gate(&self, ca: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self
            .new_order_gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(gates.entry(ca.to_owned()).or_default())
    }

    /// Place an order at the CA and start validating it in the background.
    pub async fn create_order(
        self: &Arc<Self>,
        req: NewOrderRequest,
    ) -> Result<OrderRecord, EngineError> {
        if let Some(name) = &req.certificate_name {
            super::names::validate_object_name("certificate", name)?;
        }
        let names = normalize_names(&req.names)?;
        self.check_method(&req, &names)?;
        let account = self.find_account(&req.account)?;
        let csr = self.csr_for(&req, &names)?;

        let handle = self.account_handle(&account.id).await?;
        let identifiers: Vec<Identifier> = names.iter().cloned().map(Identifier::Dns).collect();
        let endpoint = self.endpoint_for(&account);
        super::vendors::refuse_retired(&endpoint.name, &endpoint.directory)?;
        let mut new_order =
            super::ari::with_replaces(NewOrder::new(&identifiers), req.replaces.as_deref());
        if let Some(profile) = &req.profile {
            super::profiles::check_profile(&endpoint.name, handle.profiles(), profile)?;
            new_order = new_order.profile(profile);
        }
        let gate = self.new_order_gate(&endpoint.name);
        let turn = gate.lock().await;
        let placed = super::nonce::retry_bad_nonce(&endpoint.name, "new-order", || {
            handle.new_order(&new_order)
        })
        .await;
        drop(turn);
        crate::metrics::acme_result(&endpoint.name, "new-order", &placed);
        let order = placed.map_err(|e| endpoint.ca_error(e))?;

        self.store.put(&csr)?;
        let record = OrderRecord {
            id: new_id(),
            account_id: account.id,
            url: order.url().to_owned(),
            names,
            status: OrderStatus::Pending,
            challenge: req.challenge.as_str().to_owned(),
            dns: req.dns.clone(),
            csr_id: csr.id,
            certificate_name: req.certificate_name.clone(),
            profile: req.profile.clone(),
            auto_finalize: req.auto_finalize,
            certificate_id: None,
            error: None,
            hidden: false,
            created_at: now(),
            updated_at: now(),
        };
        self.store.put(&record)?;
        info!(order = %record.id, names = ?record.names, "order placed");
        self.spawn_driver(record.id.clone());
        Ok(record)
    }

    fn check_method(&self, req: &NewOrderRequest, names: &[String]) -> Result<(), EngineError> {
        match (req.challenge, req.dns.as_deref().map(DnsMethod::parse)) {
            (ChallengeKind::Http01, Some(_)) => {
                Err(EngineError::Invalid("--dns applies only to dns-01".into()))
            }
            (ChallengeKind::Http01, None) => match names.iter().find(|n| n.starts_with("*.")) {
                Some(n) => Err(EngineError::Invalid(format!(
                    "{n} is a wildcard: CAs validate wildcards only by dns-01"
                ))),
                None => Ok(()),
            },
            (ChallengeKind::Dns01, None) => Err(EngineError::Invalid(
                "dns-01 needs a DNS method: builtin, manual or a provider name".into(),
            )),
            (ChallengeKind::Dns01, Some(method)) => self.check_dns_method(&method, names),
        }
    }

    fn check_dns_method(&self, method: &DnsMethod, names: &[String]) -> Result<(), EngineError> {
        match method {
            DnsMethod::Manual => Ok(()),
            DnsMethod::Provider(p) if self.plugins.has_provider(p) => {
                match self.plugins.provider_kind(p).as_deref() {
                    Some("dns-provider") => Ok(()),
                    kind => Err(EngineError::Invalid(format!(
                        "DNS provider \"{p}\" runs a {} plugin, not a dns-provider: it cannot \
                         answer DNS-01 challenges",
                        kind.unwrap_or("not loaded")
                    ))),
                }
            }
            DnsMethod::Provider(p) => Err(EngineError::Invalid(format!(
                "no DNS provider instance called \"{p}\""
            ))),
            DnsMethod::Builtin => names.iter().try_for_each(|name| {
                let record = challenge_record_name(name);
                let served = self.builtin_zones.iter().any(|z| in_zone(&record, z));
                if served {
                    return Ok(());
                }
                Err(EngineError::Invalid(format!(
                    "{record} is in none of the built-in DNS server's zones {:?}",
                    self.builtin_zones
                )))
            }),
        }
    }

    fn csr_for(&self, req: &NewOrderRequest, names: &[String]) -> Result<CsrRecord, EngineError> {
        let Some(id) = &req.csr_id else {
            return Ok(csr::generate(names, req.key_type)?);
        };
        let csr = self
            .store
            .get::<CsrRecord>(id)?
            .ok_or_else(|| EngineError::NotFound {
                kind: "csr",
                key: id.clone(),
            })?;
        let want: HashSet<&String> = names.iter().collect();
        let have: HashSet<&String> = csr.names.iter().collect();
        if want != have {
            return Err(EngineError::Invalid(format!(
                "CSR {id} names {:?} but the order names {:?}",
                csr.names, names
            )));
        }
        Ok(csr)
    }

    /// Orders not hidden by an account deletion, newest first.
    pub fn orders(&self) -> Result<Vec<OrderRecord>, EngineError> {
        let mut orders: Vec<_> = self
            .store
            .list::<OrderRecord>()?
            .into_iter()
            .filter(|o| !o.hidden)
            .collect();
        orders.sort_by_key(|o| std::cmp::Reverse(o.created_at));
        Ok(orders)
    }

    /// The visible order with this id.
    pub fn order(&self, id: &str) -> Result<OrderRecord, EngineError> {
        match self.store.get::<OrderRecord>(id)? {
            Some(order) if !order.hidden => Ok(order),
            _ => Err(EngineError::NotFound {
                kind: "order",
                key: id.to_owned(),
            }),
        }
    }

    /// The challenge records of an order.
    pub fn order_challenges(&self, order_id: &str) -> Result<Vec<ChallengeRecord>, EngineError> {
        let prefix = ChallengeRecord::id_prefix(order_id);
        let all = self.store.list_prefix::<ChallengeRecord>(&prefix)?;
        Ok(all.into_iter().filter(|c| c.order_id == order_id).collect())
    }

    /// Every challenge record of a visible order.
    pub fn challenges(&self) -> Result<Vec<ChallengeRecord>, EngineError> {
        let visible: HashSet<String> = self.orders()?.into_iter().map(|o| o.id).collect();
        let all = self.store.list::<ChallengeRecord>()?;
        Ok(all
            .into_iter()
            .filter(|c| visible.contains(&c.order_id))
            .collect())
    }

    /// Ask the CA where the order stands, store it, and pick up driving it again if needed.
    pub async fn refresh_order(self: &Arc<Self>, id: &str) -> Result<OrderRecord, EngineError> {
        let record = self.order(id)?;
        let ca = self.ca_name_of(&record);
        let status = retry_bad_nonce(&ca, "refresh", || self.fetch_status(&record)).await?;
        let record = self.store.update::<OrderRecord>(id, |o| {
            o.status = super::driver::stored_status(status, o);
            o.updated_at = now();
        })?;
        if !record.status.is_final() && record.status != OrderStatus::Ready {
            self.spawn_driver(id.to_owned());
        }
        Ok(record)
    }

    pub(super) async fn fetch_status(
        &self,
        record: &OrderRecord,
    ) -> Result<OrderStatus, EngineError> {
        let account = self.account_handle(&record.account_id).await?;
        let mut order = self.load_order(&account, record).await?;
        Ok(convert_status(order.state().status))
    }

    pub(super) async fn load_order(
        &self,
        account: &Account,
        record: &OrderRecord,
    ) -> Result<instant_acme::Order, EngineError> {
        let acc = self.store.get::<AccountRecord>(&record.account_id)?;
        let ca = acc.map(|a| self.endpoint_for(&a));
        account
            .order(record.url.clone())
            .await
            .map_err(|e| match ca {
                Some(ca) => EngineError::Acme(ca.ca_error(e)),
                None => EngineError::State(format!("order {}: {e}", record.id)),
            })
    }

    /// Finalize a ready order with its CSR and download the certificate, starting again (from
    /// wherever the order then stands) while the CA keeps rejecting nonces.
    pub async fn finalize_order(&self, id: &str) -> Result<OrderRecord, EngineError> {
        let ca = self.ca_name_of(&self.order(id)?);
        retry_bad_nonce(&ca, "finalize", || self.finalize_once(id)).await
    }

    async fn finalize_once(&self, id: &str) -> Result<OrderRecord, EngineError> {
        let record = self.order(id)?;
        let account = self.account_handle(&record.account_id).await?;
        let mut order = self.load_order(&account, &record).await?;
        match order.state().status {
            AcmeStatus::Ready => self.finalize(&record, &mut order).await?,
            AcmeStatus::Processing | AcmeStatus::Valid => self.collect(&record, &mut order).await?,
            other => {
                let status = convert_status(other);
                self.set_status(id, status, None)?;
                return Err(EngineError::State(format!(
                    "order {id} is {}, not ready: it can be finalized once every name is validated",
                    status.as_str()
                )));
            }
        }
        self.order(id)
    }

    /// The certificate chain of a valid order, downloading it if it is not stored yet.
    pub async fn download(&self, id: &str) -> Result<CertificateRecord, EngineError> {
        let mut record = self.order(id)?;
        if record.certificate_id.is_none() {
            record = self.finalize_order(id).await?;
        }
        let cert_id = record.certificate_id.ok_or_else(|| {
            EngineError::State(format!(
                "order {id} has no certificate yet ({})",
                record.status.as_str()
            ))
        })?;
        Ok(self.store.require::<CertificateRecord>(&cert_id)?)
    }

    /// Delete an order: its challenge records are cleaned up, its certificate stays.
    pub async fn delete_order(&self, id: &str) -> Result<OrderRecord, EngineError> {
        let record = self.order(id)?;
        self.stop_driver(id);
        self.cleanup_order(id).await;
        for challenge in self.order_challenges(id)? {
            self.store.delete::<ChallengeRecord>(&challenge.id)?;
        }
        self.store.delete::<OrderRecord>(id)?;
        info!(order = %id, "order deleted");
        Ok(record)
    }

    // ---- certificates ----

    /// Every stored certificate, newest first.
    pub fn certificates(&self) -> Result<Vec<CertificateRecord>, EngineError> {
        let mut certs = self.store.list::<CertificateRecord>()?;
        certs.sort_by_key(|c| std::cmp::Reverse(c.created_at));
        Ok(certs)
    }

    /// Every stored certificate without its chain and key, newest first: for listings.
    pub fn certificate_summaries(&self) -> Result<Vec<CertificateSummary>, EngineError> {
        let mut certs = self
            .store
            .list_as::<CertificateRecord, CertificateSummary>()?;
        certs.sort_by_key(|c| std::cmp::Reverse(c.created_at));
        Ok(certs)
    }

    /// The certificate with this id, or the newest one with this name.
    pub fn certificate(&self, key: &str) -> Result<CertificateRecord, EngineError> {
        let certs = self.certificates()?;
        certs
            .into_iter()
            .find(|c| c.id == key || c.name == key)
            .ok_or_else(|| EngineError::NotFound {
                kind: "certificate",
                key: key.to_owned(),
            })
    }

    /// The name of the CA an order was placed with, for log lines; empty if its account is gone.
    fn ca_name_of(&self, record: &OrderRecord) -> String {
        self.ca_of(record).map(|ca| ca.name).unwrap_or_default()
    }

    pub(super) fn ca_of(&self, record: &OrderRecord) -> Result<CaEndpoint, EngineError> {
        let account = self
            .store
            .get::<AccountRecord>(&record.account_id)?
            .ok_or_else(|| {
                EngineError::State(format!("order {}: its account was deleted", record.id))
            })?;
        Ok(self.endpoint_for(&account))
    }
}

/// Most names one order may hold (Let's Encrypt's limit, the lowest among public CAs).
const MAX_NAMES: usize = 100;

/// Lowercase, check, and de-duplicate names, keeping their order.
pub(crate) fn normalize_names(names: &[String]) -> Result<Vec<String>, EngineError> {
    if names.is_empty() {
        return Err(EngineError::Invalid(
            "an order needs at least one name".into(),
        ));
    }
    if names.len() > MAX_NAMES {
        let msg = format!(
            "{} names in one order; CAs accept at most {MAX_NAMES}",
            names.len()
        );
        return Err(EngineError::Invalid(msg));
    }
    let mut out: Vec<String> = Vec::new();
    for name in names {
        validate_domain(name)?;
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

pub(super) fn convert_status(status: AcmeStatus) -> OrderStatus {
    match status {
        AcmeStatus::Pending => OrderStatus::Pending,
        AcmeStatus::Ready => OrderStatus::Ready,
        AcmeStatus::Processing => OrderStatus::Processing,
        AcmeStatus::Valid => OrderStatus::Valid,
        AcmeStatus::Invalid => OrderStatus::Invalid,
    }
}
