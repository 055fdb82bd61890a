//! Routes for the account lifecycle — register, list (optionally refreshed from the CA), update
//! the contact, roll the key over, delete (optionally deactivating at the CA first) — and for
//! revoking certificates.

use bytes::Bytes;
use hyper::{Method, Request, StatusCode};

use super::routes::{Reply, body, created, fail, ok};
use super::views::{AccountView, CertificateView, RevokeCertificate, UpdateContact};
use crate::acme::{AccountRequest, Engine};

/// `/v1/accounts…`
pub(super) async fn accounts(
    engine: &Engine,
    method: &Method,
    parts: &[&str],
    req: Request<Bytes>,
) -> Reply {
    let refresh = query_flag(&req, "refresh");
    let deactivate = query_flag(&req, "deactivate");
    match (method, parts) {
        (&Method::GET, ["v1", "accounts"]) => {
            let accounts = engine.accounts(refresh).await.map_err(fail)?;
            let view = |a| AccountView::new(a, engine.vendor_of(a));
            ok(accounts.iter().map(view).collect::<Vec<_>>())
        }
        (&Method::POST, ["v1", "accounts"]) => {
            let new: AccountRequest = body(req).await?;
            let account = engine.register_account(&new).await.map_err(fail)?;
            created(account_view(engine, &account))
        }
        (&Method::DELETE, ["v1", "accounts", key]) => {
            let account = engine.delete_account(key, deactivate).await.map_err(fail)?;
            ok(account_view(engine, &account))
        }
        (&Method::POST, ["v1", "accounts", key, "rollover"]) => {
            let account = engine.rollover_account(key).await.map_err(fail)?;
            ok(account_view(engine, &account))
        }
        (&Method::POST, ["v1", "accounts", key, "contact"]) => {
            let update: UpdateContact = body(req).await?;
            let account = engine.update_account_email(key, &update.email).await;
            ok(account_view(engine, &account.map_err(fail)?))
        }
        _ => Err((
            StatusCode::NOT_FOUND,
            format!("no route for {method} /{}", parts.join("/")),
        )),
    }
}

/// `POST /v1/certificates/<certificate>/revoke`
pub(super) async fn revoke(engine: &Engine, key: &str, req: Request<Bytes>) -> Reply {
    let revoke: RevokeCertificate = body(req).await?;
    let cert = engine.revoke_certificate(key, revoke.reason).await;
    ok(CertificateView::new(&cert.map_err(fail)?, false))
}

/// Whether the query string holds `name=true` (or a bare `name`).
/// What the API shows of `account`.
fn account_view(engine: &Engine, account: &crate::store::AccountRecord) -> AccountView {
    AccountView::new(account, engine.vendor_of(account))
}

fn query_flag<B>(req: &Request<B>, name: &str) -> bool {
    req.uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == name || pair == format!("{name}=true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_is_read_from_the_query_string() {
        let req = Request::get("/v1/accounts?refresh=true&x=1")
            .body(())
            .unwrap();
        assert!(query_flag(&req, "refresh"));
        assert!(!query_flag(&req, "deactivate"));
        let bare = Request::get("/v1/accounts/a?deactivate").body(()).unwrap();
        assert!(query_flag(&bare, "deactivate"));
        let off = Request::get("/v1/accounts?refresh=false").body(()).unwrap();
        assert!(!query_flag(&off, "refresh"));
    }
}
