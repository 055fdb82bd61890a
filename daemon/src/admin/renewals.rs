//! Admin routes for renewal and export: the certificate list with each one's renewal state,
//! `renew` now, turning renewal on for a CLI certificate, and exporting chain and key.

use std::collections::{HashMap, HashSet};

use hyper::{Method, StatusCode};
use serde_json::json;

use super::routes::{AdminState, Reply, fail, ok};
use super::views::{CertificateView, ListedCertificate, PendingCertificateView};
use crate::acme::EngineError;
use crate::schedule::{RenewalRecord, ScheduleError, Scheduler};
use crate::store::{OrderRecord, OrderStatus, OrderSummary};

/// Every certificate, newest first; the newest of each name carries its renewal state. A
/// configured certificate with none stored yet comes first, with the state of its first order.
///
/// Reads each table once: certificates without their chains and keys, and every renewal record.
pub(super) fn list(state: &AdminState) -> Result<Vec<ListedCertificate>, EngineError> {
    let certs = state.engine.certificate_summaries()?;
    let mut plans: HashMap<String, RenewalRecord> = match &state.scheduler {
        Some(_) => state.engine.store().list::<RenewalRecord>()?,
        None => Vec::new(),
    }
    .into_iter()
    .map(|r| (r.name.clone(), r))
    .collect();
    // Configured certificate name → whether it has deploy targets.
    let configured: HashMap<String, bool> =
        state.scheduler.as_ref().map_or_else(HashMap::new, |s| {
            s.config()
                .certificates
                .iter()
                .map(|c| (c.name.get_ref().clone(), !c.deploy.is_empty()))
                .collect()
        });
    let order_ids = plans.values().filter_map(|r| r.order_id.as_deref());
    let orders = state
        .engine
        .store()
        .get_many_as::<OrderRecord, OrderSummary>(order_ids)?;
    let mut seen = HashSet::new();
    let mut views = Vec::with_capacity(certs.len());
    for cert in certs {
        let mut view = CertificateView::from_summary(cert);
        if !seen.insert(view.name.clone()) {
            view.status = Some("superseded".into());
        } else if let Some(scheduler) = &state.scheduler {
            let record = plans.remove(&view.name);
            let order = record
                .as_ref()
                .and_then(|r| r.order_id.as_deref())
                .and_then(|id| orders.get(id))
                .map(|o| o.status);
            let deploys = configured.get(&view.name).copied();
            annotate(&mut view, scheduler, deploys, record, order);
        }
        views.push(ListedCertificate::Stored(view));
    }
    let Some(scheduler) = &state.scheduler else {
        return Ok(views);
    };
    let mut pending: Vec<ListedCertificate> = scheduler
        .config()
        .certificates
        .iter()
        .filter(|c| !seen.contains(c.name.get_ref()))
        .map(|c| {
            let record = plans.remove(c.name.get_ref());
            let order = record
                .as_ref()
                .and_then(|r| r.order_id.as_deref())
                .and_then(|id| orders.get(id));
            let view = pending_view(
                c.name.get_ref(),
                c.names.get_ref(),
                scheduler,
                record,
                order,
            );
            ListedCertificate::Pending(view)
        })
        .collect();
    pending.append(&mut views);
    Ok(pending)
}

/// The row of a configured certificate with none stored, from its renewal record if the
/// scheduler has one.
fn pending_view(
    name: &str,
    names: &[String],
    scheduler: &Scheduler,
    record: Option<RenewalRecord>,
    order: Option<&OrderSummary>,
) -> PendingCertificateView {
    // N.B. an order that has just failed counts as a failure before the next pass records it.
    let failed = order.filter(|o| o.status == OrderStatus::Invalid);
    let status = match (&record, failed) {
        (Some(r), Some(_)) if r.failures + 1 >= scheduler.flag_after() => "failing",
        (_, Some(_)) => "retrying",
        // N.B. once an attempt failed, the row says so while the next attempt runs too.
        (Some(r), None) if r.failures >= scheduler.flag_after() => "failing",
        (Some(r), None) if r.failures > 0 => "retrying",
        (Some(_) | None, None) => "issuing",
    };
    let order_error = failed.and_then(|o| o.error.clone());
    PendingCertificateView {
        name: name.to_owned(),
        names: names.to_vec(),
        status,
        order_id: record.as_ref().and_then(|r| r.order_id.clone()),
        next_renewal: record.as_ref().and_then(|r| r.retry_at.max(r.next_at)),
        renewal_error: order_error.or_else(|| record.and_then(|r| r.last_error)),
    }
}

/// Fill in the renewal state of the newest certificate of a name; `deploys` is whether the config
/// gives it deploy targets, `None` when the config does not name it.
fn annotate(
    view: &mut CertificateView,
    scheduler: &Scheduler,
    deploys: Option<bool>,
    record: Option<RenewalRecord>,
    order: Option<OrderStatus>,
) {
    let configured = deploys.is_some();
    let status = match &record {
        Some(r) if configured || r.auto => scheduler.status_given(r, order),
        _ if configured => "ok",
        _ => "manual",
    };
    view.status = Some(status.into());
    if let Some(r) = record.filter(|r| configured || r.auto) {
        view.next_renewal = r.retry_at.max(r.next_at);
        view.renewal_error = r.last_error;
        // N.B. an error from targets since removed from the config is stale.
        view.deploy_error = r.deploy_error.filter(|_| deploys == Some(true));
    }
}

/// The routes under `/v1/certificates/NAME/…` and `/v1/renewals`.
pub(super) async fn route(state: &AdminState, method: &Method, parts: &[&str]) -> Reply {
    let scheduler = || {
        state.scheduler.as_ref().ok_or((
            StatusCode::CONFLICT,
            "this daemon runs no scheduler".to_owned(),
        ))
    };
    match (method, parts) {
        (&Method::POST, ["v1", "certificates", name, "renew"]) => {
            let order = scheduler()?.renew_now(name).await.map_err(schedule_fail)?;
            ok(order)
        }
        (&Method::POST, ["v1", "renewals", name]) => {
            ok(scheduler()?.enable(name).await.map_err(schedule_fail)?)
        }
        (&Method::GET, ["v1", "certificates", key, "export"]) => {
            let cert = state.engine.certificate(key).map_err(fail)?;
            ok(json!({
                "name": cert.name,
                "chain_pem": cert.chain_pem,
                "private_key_pem": cert.private_key_pem,
            }))
        }
        _ => Err((
            StatusCode::NOT_FOUND,
            format!("no route for {method} /{}", parts.join("/")),
        )),
    }
}

fn engine_error(error: ScheduleError) -> EngineError {
    match error {
        ScheduleError::Engine(e) => e,
        ScheduleError::Store(e) => EngineError::Store(e),
    }
}

fn schedule_fail(error: ScheduleError) -> (StatusCode, String) {
    fail(engine_error(error))
}
