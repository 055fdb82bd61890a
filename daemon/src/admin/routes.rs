//! Routing admin requests to the engine and turning its errors into HTTP statuses.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::{Instrument, info_span};

use super::views::{CertificateView, CreateCsr, CsrView, ImportCsr, OrderView};
use crate::acme::{Engine, EngineError, NewOrderRequest};
use crate::plugin::PluginHost;
use crate::store::CsrRecord;

/// Largest request body the API reads (a CSR or an order is far smaller).
const MAX_BODY: usize = super::MAX_REQUEST_BODY;

/// What the routes need.
pub struct AdminState {
    /// The order engine.
    pub engine: Arc<Engine>,
    /// The plugin host.
    pub plugins: Arc<PluginHost>,
    /// The renewal scheduler, when the daemon runs one.
    pub scheduler: Option<Arc<crate::schedule::Scheduler>>,
}

/// A status and its JSON body, already serialized: views go straight to bytes, without a
/// `serde_json::Value` tree in between (a 10,000-certificate listing built one of 4 MB).
pub(super) type Reply = Result<(StatusCode, Vec<u8>), (StatusCode, String)>;

pub(super) async fn handle(
    state: Arc<AdminState>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = info_span!("admin", %method, %path);
    let reply = read_then_route(&state, req).instrument(span).await;
    let (status, bytes) = match reply {
        Ok((status, bytes)) => (status, bytes),
        Err((status, message)) => (status, json_bytes(&json!({ "error": message }))),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("static headers are valid"))
}

/// Read the whole (bounded) body before routing, so every answer — a 404 included — is sent to
/// a client that is no longer writing; closing on unread bytes would reset the connection and
/// lose the answer.
async fn read_then_route(state: &AdminState, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let bytes = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| (StatusCode::PAYLOAD_TOO_LARGE, format!("request body: {e}")))?
        .to_bytes();
    route(state, Request::from_parts(parts, bytes)).await
}

async fn route(state: &AdminState, req: Request<Bytes>) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let decoded: Vec<String> = path.split('/').skip(1).map(percent_decode).collect();
    // N.B. `cert show ''` asks for /v1/certificates/: an empty id is an error, not the listing.
    if decoded.iter().any(String::is_empty) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("{path}: an empty path segment; an id or name cannot be empty"),
        ));
    }
    let parts: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let engine = &state.engine;
    match (&method, parts.as_slice()) {
        (&Method::GET, ["v1", "status"]) => ok(json!({ "version": env!("CARGO_PKG_VERSION") })),
        (_, ["v1", "accounts", ..]) => {
            super::lifecycle::accounts(engine, &method, &parts, req).await
        }
        (&Method::GET, ["v1", "csrs"]) => csrs(engine),
        (&Method::GET, ["v1", "csrs", id]) => {
            let csr = engine
                .store()
                .require::<CsrRecord>(id)
                .map_err(|e| fail(e.into()))?;
            ok(CsrView::from(&csr))
        }
        (&Method::POST, ["v1", "csrs"]) => {
            let req: CreateCsr = body(req).await?;
            created(CsrView::from(
                &engine.create_csr(&req.names, req.key_type).map_err(fail)?,
            ))
        }
        (&Method::POST, ["v1", "csrs", "import"]) => {
            let req: ImportCsr = body(req).await?;
            created(CsrView::from(
                &engine.import_csr(req.pem.as_bytes()).map_err(fail)?,
            ))
        }
        _ => route_orders(state, &method, &parts, req).await,
    }
}

async fn route_orders(
    state: &AdminState,
    method: &Method,
    parts: &[&str],
    req: Request<Bytes>,
) -> Reply {
    let engine = &state.engine;
    match (method, parts) {
        (&Method::GET, ["v1", "orders"]) => ok(engine.orders().map_err(fail)?),
        (&Method::POST, ["v1", "orders"]) => {
            let new: NewOrderRequest = body(req).await?;
            let order = engine.create_order(new).await.map_err(fail)?;
            created(order_view(engine, &order.id)?)
        }
        (&Method::GET, ["v1", "orders", id]) => ok(order_view(engine, id)?),
        (&Method::POST, ["v1", "orders", id, "refresh"]) => {
            engine.refresh_order(id).await.map_err(fail)?;
            ok(order_view(engine, id)?)
        }
        (&Method::POST, ["v1", "orders", id, "finalize"]) => {
            engine.finalize_order(id).await.map_err(fail)?;
            ok(order_view(engine, id)?)
        }
        (&Method::GET, ["v1", "orders", id, "certificate"]) => {
            let cert = engine.download(id).await.map_err(fail)?;
            ok(CertificateView::new(&cert, true))
        }
        (&Method::DELETE, ["v1", "orders", id]) => {
            ok(engine.delete_order(id).await.map_err(fail)?)
        }
        (&Method::GET, ["v1", "challenges"]) => ok(engine.challenges().map_err(fail)?),
        (&Method::GET, ["v1", "certificates"]) => ok(super::renewals::list(state).map_err(fail)?),
        (&Method::GET, ["v1", "certificates", key]) => ok(CertificateView::new(
            &engine.certificate(key).map_err(fail)?,
            true,
        )),
        (&Method::POST, ["v1", "certificates", key, "revoke"]) => {
            super::lifecycle::revoke(engine, key, req).await
        }
        (&Method::GET, ["v1", "plugins"]) => ok(state.plugins.plugins()),
        (&Method::POST, ["v1", "providers", name, "test"]) => {
            ok(super::plugin_routes::test_provider(&state.plugins, name).await?)
        }
        _ => super::renewals::route(state, method, parts).await,
    }
}

/// Undo the CLI's percent-encoding of one path segment; malformed escapes stay as they are.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn csrs(engine: &Engine) -> Reply {
    let csrs = engine
        .store()
        .list::<CsrRecord>()
        .map_err(|e| fail(e.into()))?;
    ok(csrs.iter().map(CsrView::from).collect::<Vec<_>>())
}

fn order_view(engine: &Engine, id: &str) -> Result<OrderView, (StatusCode, String)> {
    let order = engine.order(id).map_err(fail)?;
    let challenges = engine.order_challenges(id).map_err(fail)?;
    Ok(OrderView { order, challenges })
}

pub(super) async fn body<T: DeserializeOwned>(
    req: Request<Bytes>,
) -> Result<T, (StatusCode, String)> {
    serde_json::from_slice(req.body()).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("request body is not valid: {e}"),
        )
    })
}

pub(super) fn ok<T: Serialize>(value: T) -> Reply {
    Ok((StatusCode::OK, json_bytes(&value)))
}

pub(super) fn created<T: Serialize>(value: T) -> Reply {
    Ok((StatusCode::CREATED, json_bytes(&value)))
}

fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("views serialize: no maps with non-string keys")
}

pub(super) fn fail(error: EngineError) -> (StatusCode, String) {
    let status = match &error {
        EngineError::Invalid(_) | EngineError::Name(_) | EngineError::Csr(_) => {
            StatusCode::BAD_REQUEST
        }
        EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
        EngineError::Store(crate::store::StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
        EngineError::State(_) => StatusCode::CONFLICT,
        EngineError::Acme(_) | EngineError::Validation(_) => StatusCode::BAD_GATEWAY,
        EngineError::Certificate(_) | EngineError::Stuck(_) => StatusCode::BAD_GATEWAY,
        EngineError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, error.to_string())
}
