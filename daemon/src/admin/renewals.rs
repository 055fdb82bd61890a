//! Admin routes for renewal and export: the certificate list with each one's renewal state,
//! `renew` now, turning renewal on for a CLI certificate, and exporting chain and key.

use std::collections::HashSet;

use hyper::{Method, StatusCode};
use serde_json::json;

use super::routes::{AdminState, Reply, fail, ok};
use super::views::CertificateView;
use crate::acme::EngineError;
use crate::schedule::{ScheduleError, Scheduler};

/// Every certificate, newest first; the newest of each name carries its renewal state.
pub(super) fn list(state: &AdminState) -> Result<Vec<CertificateView>, EngineError> {
    let certs = state.engine.certificates()?;
    let mut seen = HashSet::new();
    let mut views = Vec::with_capacity(certs.len());
    for cert in &certs {
        let mut view = CertificateView::new(cert, false);
        if !seen.insert(cert.name.clone()) {
            view.status = Some("superseded".into());
        } else if let Some(scheduler) = &state.scheduler {
            annotate(&mut view, scheduler)?;
        }
        views.push(view);
    }
    Ok(views)
}

fn annotate(view: &mut CertificateView, scheduler: &Scheduler) -> Result<(), EngineError> {
    let configured = scheduler
        .config()
        .certificates
        .iter()
        .any(|c| c.name.get_ref() == &view.name);
    let record = scheduler.state(&view.name).map_err(engine_error)?;
    let status = match &record {
        Some(r) if configured || r.auto => scheduler.status_of(r),
        _ if configured => "ok",
        _ => "manual",
    };
    view.status = Some(status.into());
    if let Some(r) = record.filter(|r| configured || r.auto) {
        view.next_renewal = r.retry_at.max(r.next_at);
        view.renewal_error = r.last_error;
    }
    Ok(())
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
