//! The background drivers that take an order from placed to a stored certificate: one task per
//! order, resumed at start for every unfinished order, stopped when the order is deleted.
//!
//! Each step re-reads the order from the CA, so a driver started again (after a restart or a
//! badNonce) continues from wherever the order stands instead of repeating steps.

use std::collections::HashMap;
use std::sync::Arc;

use instant_acme::OrderStatus as AcmeStatus;
use tracing::{Instrument, info, info_span, warn};

use super::csr;
use super::engine::{Engine, EngineError, convert_status};
use crate::store::{ChallengeRecord, CsrRecord, OrderRecord, OrderStatus, now};

impl Engine {
    /// Start driving `order_id` in the background unless a driver already is.
    pub fn spawn_driver(self: &Arc<Self>, order_id: String) {
        let mut drivers = self.drivers();
        if drivers.contains_key(&order_id) {
            return;
        }
        let engine = Arc::clone(self);
        let id = order_id.clone();
        // N.B. a root span: a driver outlives the admin request that may have started it.
        let span = info_span!(parent: None, "order", id = %order_id);
        let task = tokio::spawn(
            async move {
                let _slot = DriverSlot {
                    engine: &engine,
                    order_id: &id,
                };
                engine.run_driver(&id).await;
            }
            .instrument(span),
        );
        drivers.insert(order_id, task.abort_handle());
    }

    /// Whether a driver is working on `order_id`.
    pub fn is_driving(&self, order_id: &str) -> bool {
        self.drivers().contains_key(order_id)
    }

    /// Stop the driver of `order_id`, if one runs.
    pub(super) fn stop_driver(&self, order_id: &str) {
        if let Some(task) = self.drivers().remove(order_id) {
            task.abort();
        }
    }

    fn drivers(&self) -> std::sync::MutexGuard<'_, HashMap<String, tokio::task::AbortHandle>> {
        self.driving
            .lock()
            .expect("driver map poisoned only by a panic while it was held")
    }

    /// Drive an order; when that fails, record why and what the CA now says about the order, so
    /// a rejected order shows `invalid` instead of staying `pending`.
    async fn run_driver(&self, id: &str) {
        let Err(error) = self.drive_through_bad_nonces(id).await else {
            return;
        };
        warn!(%error, "order stopped");
        let status = match self.order(id) {
            // N.B. an order we gave up on is not asked about again: it is already invalid.
            Ok(_) if error.ends_order() => Some(OrderStatus::Invalid),
            Ok(record) => self.fetch_status(&record).await.ok(),
            Err(_) => None,
        };
        // N.B. also when the order is still pending: nothing drives it any more, so no answer
        // of it is waited for, and one left posted would stay in DNS. `order refresh` posts
        // them again.
        self.cleanup_order(id).await;
        let message = error.to_string();
        let _ = self.store.update::<OrderRecord>(id, |o| {
            o.error = Some(message);
            o.status = stored_status(status.unwrap_or(o.status), o);
            o.updated_at = now();
        });
    }

    pub(super) async fn drive(&self, id: &str) -> Result<(), EngineError> {
        let record = self.store.require::<OrderRecord>(id)?;
        if record.hidden {
            return Ok(());
        }
        self.store.update::<OrderRecord>(id, |o| o.error = None)?;
        let account = self.account_handle(&record.account_id).await?;
        let mut order = self.load_order(&account, &record).await?;
        loop {
            let status = order.state().status;
            self.set_status(id, convert_status(status), None)?;
            if status != AcmeStatus::Pending {
                // N.B. validation is over: take down any answer still posted. A restart after
                // the CA validated but before our cleanup would otherwise leave it in DNS.
                self.cleanup_order(id).await;
            }
            match status {
                AcmeStatus::Pending => self.validate(&record, &mut order).await?,
                AcmeStatus::Ready if record.auto_finalize => {
                    self.finalize(&record, &mut order).await?
                }
                AcmeStatus::Ready => {
                    info!("order ready; waiting for the operator to finalize");
                    return Ok(());
                }
                AcmeStatus::Processing | AcmeStatus::Valid => {
                    return self.collect(&record, &mut order).await;
                }
                AcmeStatus::Invalid => return self.give_up(&record, &order.state().error).await,
            }
        }
    }

    async fn give_up(
        &self,
        record: &OrderRecord,
        problem: &Option<instant_acme::Problem>,
    ) -> Result<(), EngineError> {
        self.cleanup_order(&record.id).await;
        let reason = problem
            .as_ref()
            .map_or("the CA marked the order invalid".into(), |p| p.to_string());
        warn!(%reason, "order invalid");
        self.set_status(&record.id, OrderStatus::Invalid, Some(reason))
    }

    pub(super) fn set_status(
        &self,
        id: &str,
        status: OrderStatus,
        error: Option<String>,
    ) -> Result<(), EngineError> {
        self.store.update::<OrderRecord>(id, |o| {
            o.status = stored_status(status, o);
            if error.is_some() {
                o.error = error;
            }
            o.updated_at = now();
        })?;
        Ok(())
    }

    /// On start: put live challenge answers back on the board, finish cleanups a crash
    /// interrupted, and pick up every unfinished order.
    pub async fn resume(self: &Arc<Self>) -> Result<(), EngineError> {
        let orders = self.store.list::<OrderRecord>()?;
        self.rekey_challenges()?;
        for challenge in self.store.list::<ChallengeRecord>()? {
            if challenge.cleaned_up {
                continue;
            }
            let order = orders.iter().find(|o| o.id == challenge.order_id);
            match order {
                Some(o) if resumable(o) => self.repost(&challenge),
                _ => self.cleanup(&challenge).await,
            }
        }
        for order in orders {
            if resumable(&order) {
                info!(order = %order.id, status = order.status.as_str(), "resuming order");
                self.spawn_driver(order.id);
            } else if !order.status.is_final() && !order.hidden {
                info!(
                    order = %order.id,
                    "not resuming an order that stopped with an error; \
                     `order refresh` drives it again"
                );
            }
        }
        Ok(())
    }

    pub(super) async fn finalize(
        &self,
        record: &OrderRecord,
        order: &mut instant_acme::Order,
    ) -> Result<(), EngineError> {
        let csr = self.store.require::<CsrRecord>(&record.csr_id)?;
        let der = csr::der_of(&csr)?;
        let ca = self.ca_of(record)?;
        let finalized = order.finalize_csr(&der).await;
        crate::metrics::acme_result(&ca.name, "finalize", &finalized);
        finalized.map_err(|e| ca.ca_error(e))?;
        self.set_status(&record.id, convert_status(order.state().status), None)?;
        info!("order finalized");
        crate::crashpoint::reach("finalized").await;
        self.collect(record, order).await
    }

    /// Wait for the certificate and store it; an order whose certificate is refused, or which
    /// stays `processing` too long, is marked invalid with the reason.
    pub(super) async fn collect(
        &self,
        record: &OrderRecord,
        order: &mut instant_acme::Order,
    ) -> Result<(), EngineError> {
        let result = self.collect_chain(record, order).await;
        if let Err(error) = &result
            && error.ends_order()
        {
            warn!(%error, "order failed");
            self.set_status(&record.id, OrderStatus::Invalid, Some(error.to_string()))?;
        }
        result
    }

    async fn collect_chain(
        &self,
        record: &OrderRecord,
        order: &mut instant_acme::Order,
    ) -> Result<(), EngineError> {
        let current = self.store.require::<OrderRecord>(&record.id)?;
        if current.certificate_id.is_some() {
            return self.set_status(&record.id, OrderStatus::Valid, None);
        }
        let ca = self.ca_of(record)?;
        let polled = super::poll::Polled {
            order: &record.id,
            ca: &ca.name,
        };
        let chain = self
            .limits()
            .poll_certificate(order, &polled)
            .await
            .map_err(|failure| failure.into_engine_error(&ca))?;
        let csr = self.store.require::<CsrRecord>(&record.csr_id)?;
        let cert = super::certificate::parse(record, &csr, chain, &ca.name)?;
        let _storing = self
            .storing_certificate
            .lock()
            .expect("poisoned only by a panic while storing");
        if self
            .store
            .require::<OrderRecord>(&record.id)?
            .certificate_id
            .is_some()
        {
            // N.B. fetched twice (driver and `order download`); the first one stored it.
            return self.set_status(&record.id, OrderStatus::Valid, None);
        }
        self.store.put(&cert)?;
        self.store.update::<OrderRecord>(&record.id, |o| {
            o.status = OrderStatus::Valid;
            o.certificate_id = Some(cert.id.clone());
            o.updated_at = now();
        })?;
        info!(certificate = %cert.name, not_after = %cert.not_after, issuer = %cert.issuer, "certificate issued");
        Ok(())
    }
}

/// The status to store for an order the CA reports as `status`: `valid` only once its
/// certificate is stored here. Until then the order shows `processing`, so `order wait --until
/// valid` returns when the certificate can be downloaded and listed, not before.
pub(super) fn stored_status(status: OrderStatus, order: &OrderRecord) -> OrderStatus {
    if status == OrderStatus::Valid && order.certificate_id.is_none() {
        OrderStatus::Processing
    } else {
        status
    }
}

/// Releases an order's driver slot when its task ends, panics or is aborted.
struct DriverSlot<'a> {
    engine: &'a Engine,
    order_id: &'a str,
}

impl Drop for DriverSlot<'_> {
    fn drop(&mut self) {
        self.engine.drivers().remove(self.order_id);
    }
}

/// Whether a restart picks `order` up again: unfinished, not hidden, and not stopped by an error
/// (the scheduler has already counted that failure and may have ordered anew; driving the old
/// order too would ask for two answers for one name).
fn resumable(order: &OrderRecord) -> bool {
    !order.status.is_final() && !order.hidden && order.error.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(certificate_id: Option<&str>) -> OrderRecord {
        OrderRecord {
            id: "ord-1".into(),
            account_id: "acc".into(),
            url: "https://ca.test/order/1".into(),
            names: vec!["a.example.test".into()],
            status: OrderStatus::Processing,
            challenge: "http-01".into(),
            dns: None,
            csr_id: "csr-1".into(),
            certificate_name: None,
            profile: None,
            auto_finalize: true,
            certificate_id: certificate_id.map(str::to_owned),
            error: None,
            hidden: false,
            created_at: now(),
            updated_at: now(),
        }
    }

    #[test]
    fn an_order_is_stored_valid_only_with_its_certificate() {
        let without = order(None);
        let with = order(Some("cert-1"));
        assert_eq!(
            stored_status(OrderStatus::Valid, &without),
            OrderStatus::Processing
        );
        assert_eq!(stored_status(OrderStatus::Valid, &with), OrderStatus::Valid);
        for other in [
            OrderStatus::Pending,
            OrderStatus::Ready,
            OrderStatus::Processing,
            OrderStatus::Invalid,
        ] {
            assert_eq!(stored_status(other, &without), other);
        }
    }
}
