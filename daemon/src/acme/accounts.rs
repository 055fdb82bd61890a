//! The account lifecycle (RFC 8555 §7.3): registration with or without External Account
//! Binding, status refresh, contact update, key rollover, deactivation and deletion.
//!
//! Everything that can be refused locally — a malformed email, half an EAB credential, an HMAC
//! key that is not base64url, a CA that requires EAB when none is given — is refused before a
//! request is sent and before anything is stored.

use instant_acme::{Account, AccountCredentials, Key};
use rustls::pki_types::PrivateKeyDer;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::client::{AcmeError, CaEndpoint};
use super::eab::EabCredentials;
use super::engine::{Engine, EngineError};
use super::names::{validate_email, validate_object_name};
use crate::store::{AccountRecord, OrderRecord};

/// RFC 8555 §6.7: the problem type a CA answers for a deactivated (or revoked) account.
const UNAUTHORIZED: &str = "urn:ietf:params:acme:error:unauthorized";
/// RFC 8555 §6.7: the problem type for a key no account is registered with.
const NO_ACCOUNT: &str = "urn:ietf:params:acme:error:accountDoesNotExist";

/// What an operator (or the config) asks for when registering an account.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AccountRequest {
    /// Name to refer to it by.
    pub name: String,
    /// CA name from the config; empty when `vendor` picks the CA.
    #[serde(default)]
    pub ca: String,
    /// A CA vendor profile instead of `ca`: its one configured `[[ca]]`, else its own directory.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Contact email.
    pub email: String,
    /// Agree to the CA's terms of service.
    #[serde(default)]
    pub agree_tos: bool,
    /// External Account Binding key id.
    #[serde(default)]
    pub eab_kid: Option<String>,
    /// External Account Binding HMAC key, base64url with or without padding. Secret.
    #[serde(default)]
    pub eab_hmac_key: Option<String>,
    /// The vendor's API access key, which its `ca-vendor` plugin trades for EAB credentials.
    /// Secret.
    #[serde(default)]
    pub eab_api_key: Option<String>,
}

impl std::fmt::Debug for AccountRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRequest")
            .field("name", &self.name)
            .field("ca", &self.ca)
            .field("vendor", &self.vendor)
            .field("email", &self.email)
            .field("eab_kid", &self.eab_kid)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Register an account with a key generated here and store it.
    pub async fn register_account(
        &self,
        req: &AccountRequest,
    ) -> Result<AccountRecord, EngineError> {
        validate_object_name("account", &req.name)?;
        validate_email(&req.email)?;
        let ca = self.requested_ca(&req.ca, req.vendor.as_deref())?;
        if self.find_account(&req.name).is_ok() {
            let msg = format!("an account called \"{}\" exists", req.name);
            return Err(EngineError::Invalid(msg));
        }
        let eab = EabCredentials::from_parts(req.eab_kid.as_deref(), req.eab_hmac_key.as_deref())
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if !req.agree_tos {
            let msg = format!(
                "CA {} requires agreeing to its terms of service: pass --agree-tos",
                ca.name
            );
            return Err(EngineError::Invalid(msg));
        }
        super::vendors::refuse_retired(&ca.name, &ca.directory)?;
        let eab = match eab {
            Some(eab) => Some(eab),
            None => {
                self.eab_from_vendor(&ca, &req.email, req.eab_api_key.as_deref())
                    .await?
            }
        };
        check_eab_requirement(&ca, eab.as_ref()).await?;

        let (record, account) = ca
            .register(&req.name, &req.email, true, eab.as_ref())
            .await?;
        self.store.put(&record)?;
        self.remember(&record.id, account).await;
        info!(account = %record.name, ca = %record.ca, eab_kid = ?record.eab_kid, "account registered");
        Ok(record)
    }

    /// The vendor profile an account's CA follows: the configured CA's `vendor`, else the profile
    /// whose directory the account was registered at, else `custom`.
    pub fn vendor_of(&self, account: &AccountRecord) -> String {
        let configured = self.ca(&account.ca).ok().and_then(|ca| ca.vendor.clone());
        configured
            .or_else(|| {
                super::vendors::vendor_for_directory(&account.directory_url).map(str::to_owned)
            })
            .unwrap_or_else(|| "custom".to_owned())
    }

    /// The account with this id or name.
    pub fn find_account(&self, key: &str) -> Result<AccountRecord, EngineError> {
        let accounts = self.store.list::<AccountRecord>()?;
        accounts
            .into_iter()
            .find(|a| a.id == key || a.name == key)
            .ok_or_else(|| EngineError::NotFound {
                kind: "account",
                key: key.to_owned(),
            })
    }

    /// Delete an account: its orders are hidden, its certificates stay. With `deactivate`, the
    /// CA is told first (RFC 8555 §7.3.6), and nothing is deleted if it refuses.
    pub async fn delete_account(
        &self,
        key: &str,
        deactivate: bool,
    ) -> Result<AccountRecord, EngineError> {
        let mut account = self.find_account(key)?;
        if deactivate && account.status == "valid" {
            let handle = self.account_handle(&account.id).await?;
            let ca = self.endpoint_for(&account);
            super::nonce::retry_bad_nonce(&ca.name, "deactivate", || handle.clone().deactivate())
                .await
                .map_err(|e| ca.ca_error(e))?;
            account = self.set_account_status(&account.id, "deactivated")?;
            info!(account = %account.name, "account deactivated at the CA");
        }
        for order in self.store.list::<OrderRecord>()? {
            if order.account_id == account.id {
                self.store
                    .update::<OrderRecord>(&order.id, |o| o.hidden = true)?;
            }
        }
        self.store.delete::<AccountRecord>(&account.id)?;
        self.forget(&account.id).await;
        info!(account = %account.name, "account deleted; its certificates stay");
        Ok(account)
    }

    /// Every account, after asking each CA for the account's status when `refresh` is set.
    /// An account whose CA cannot be reached keeps its stored status (and a warning is logged).
    pub async fn accounts(&self, refresh: bool) -> Result<Vec<AccountRecord>, EngineError> {
        let accounts = self.store.list::<AccountRecord>()?;
        if !refresh {
            return Ok(accounts);
        }
        let mut out = Vec::with_capacity(accounts.len());
        for account in accounts {
            match self.status_at_ca(&account).await {
                Ok(status) if status != account.status => {
                    out.push(self.set_account_status(&account.id, &status)?);
                }
                Ok(_) => out.push(account),
                Err(error) => {
                    warn!(%error, account = %account.name, "cannot refresh account status");
                    out.push(account);
                }
            }
        }
        Ok(out)
    }

    /// Replace the account's contact with `mailto:<email>` at the CA (RFC 8555 §7.3.2), then here.
    pub async fn update_account_email(
        &self,
        key: &str,
        email: &str,
    ) -> Result<AccountRecord, EngineError> {
        validate_email(email)?;
        let account = self.find_account(key)?;
        let handle = self.account_handle(&account.id).await?;
        let contact = format!("mailto:{email}");
        let ca = self.endpoint_for(&account);
        handle
            .update_contacts(&[&contact])
            .await
            .map_err(|e| ca.ca_error(e))?;
        let updated = self
            .store
            .update::<AccountRecord>(&account.id, |a| a.email = email.to_owned())?;
        info!(account = %updated.name, "account contact updated");
        Ok(updated)
    }

    /// Roll the account key over to a new one (RFC 8555 §7.3.5) and store it.
    pub async fn rollover_account(&self, key: &str) -> Result<AccountRecord, EngineError> {
        let account = self.find_account(key)?;
        let mut handle = self.account_handle(&account.id).await?;
        let ca = self.endpoint_for(&account);
        // N.B. a loop, not `retry_bad_nonce`: the call borrows the handle mutably. A rejected
        // request leaves the handle on the old key, so asking again is safe.
        let mut round = 0;
        let credentials = loop {
            match handle.update_key().await {
                Err(e) if super::nonce::is_bad_nonce(&e) && round < super::nonce::MAX_ROUNDS => {
                    round += 1;
                    warn!(ca = %ca.name, round, "key rollover: still badNonce; asking again");
                }
                outcome => break outcome.map_err(|e| ca.ca_error(e))?,
            }
        };

        // N.B. from here the CA accepts only the new key, so it is written (one transaction)
        // before anything else can fail.
        let value = serde_json::to_value(&credentials).expect("credentials serialize");
        let updated = self
            .store
            .update::<AccountRecord>(&account.id, |a| a.credentials = value)?;
        self.remember(&account.id, handle).await;
        info!(account = %updated.name, "account key rolled over");
        Ok(updated)
    }

    fn set_account_status(&self, id: &str, status: &str) -> Result<AccountRecord, EngineError> {
        Ok(self
            .store
            .update::<AccountRecord>(id, |a| a.status = status.to_owned())?)
    }

    /// Ask the CA for the account object its key maps to (`onlyReturnExisting`, §7.3.1).
    async fn status_at_ca(&self, record: &AccountRecord) -> Result<String, EngineError> {
        let ca = self.endpoint_for(record);
        let credentials: AccountCredentials = serde_json::from_value(record.credentials.clone())
            .map_err(|e| AcmeError::Credentials {
                account: record.name.clone(),
                message: e.to_string(),
            })?;
        let der = credentials.private_key().clone_key();
        let key = Key::from_pkcs8_der(der.clone_key()).map_err(|e| ca.ca_error(e))?;

        let directory = ca.directory_info().await?;
        let http = ca.http()?.keeping(&directory.new_account);
        let lookup = Account::builder_with_http(Box::new(http.clone()))
            .from_key((key, PrivateKeyDer::Pkcs8(der)), ca.directory.clone())
            .await;
        match lookup {
            Ok(_) => Ok(status_in(http.last_body(&directory.new_account).as_deref())),
            Err(instant_acme::Error::Api(problem)) => match problem.r#type.as_deref() {
                Some(UNAUTHORIZED) => Ok(refused_status(problem.detail.as_deref())),
                Some(NO_ACCOUNT) => Ok("unknown-to-ca".into()),
                _ => Err(ca.ca_error(instant_acme::Error::Api(problem)).into()),
            },
            Err(e) => Err(ca.ca_error(e).into()),
        }
    }

    async fn remember(&self, id: &str, account: Account) {
        self.accounts.lock().await.insert(id.to_owned(), account);
    }

    async fn forget(&self, id: &str) {
        self.accounts.lock().await.remove(id);
    }
}

/// Refuse, before registering, at a CA whose directory says EAB is required when none is given.
async fn check_eab_requirement(
    ca: &CaEndpoint,
    eab: Option<&EabCredentials>,
) -> Result<(), EngineError> {
    if eab.is_some() || !ca.directory_info().await?.meta.external_account_required {
        return Ok(());
    }
    Err(EngineError::Invalid(format!(
        "CA {} ({}) requires External Account Binding (its directory sets \
         externalAccountRequired): pass --eab-kid and --eab-hmac-key from your account with \
         the CA",
        ca.name, ca.directory
    )))
}

/// The `status` of an account object, `valid` when the body has none.
fn status_in(body: Option<&[u8]>) -> String {
    #[derive(Deserialize)]
    struct Object {
        status: Option<String>,
    }
    body.and_then(|b| serde_json::from_slice::<Object>(b).ok())
        .and_then(|o| o.status)
        .unwrap_or_else(|| "valid".into())
}

/// A CA refusing an account's key says why in the detail; revoked accounts say so.
fn refused_status(detail: Option<&str>) -> String {
    match detail {
        Some(d) if d.to_ascii_lowercase().contains("revoked") => "revoked".into(),
        _ => "deactivated".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_comes_from_the_account_object() {
        let body = br#"{"status":"deactivated","contact":[]}"#;
        assert_eq!(status_in(Some(body)), "deactivated");
        assert_eq!(status_in(Some(b"{}")), "valid");
        assert_eq!(status_in(None), "valid");
    }

    #[test]
    fn a_refusal_that_says_revoked_means_revoked() {
        assert_eq!(refused_status(Some("Account is Revoked")), "revoked");
        assert_eq!(refused_status(Some("account deactivated")), "deactivated");
        assert_eq!(refused_status(None), "deactivated");
    }

    #[test]
    fn debug_output_of_a_request_omits_the_hmac_key() {
        let req = AccountRequest {
            eab_kid: Some("kid-1".into()),
            eab_hmac_key: Some("c2VjcmV0".into()),
            eab_api_key: Some("YXBpLWtleQ".into()),
            ..AccountRequest::default()
        };
        let shown = format!("{req:?}");
        assert!(
            shown.contains("kid-1") && !shown.contains("c2VjcmV0") && !shown.contains("YXBpLWtleQ"),
            "{shown}"
        );
    }
}
