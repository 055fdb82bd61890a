//! Talking to one CA: building the HTTP client (with a test CA's TLS root when configured),
//! registering accounts and restoring them from the store.

use std::path::PathBuf;

use instant_acme::{Account, AccountCredentials, NewAccount};

use super::eab::EabCredentials;
use super::http::{CaHttp, DirectoryInfo};
use crate::store::{AccountRecord, new_id, now};

/// A CA endpoint as the engine needs it.
#[derive(Debug, Clone)]
pub struct CaEndpoint {
    /// Operator's name for it.
    pub name: String,
    /// ACME directory URL.
    pub directory: String,
    /// Root for the CA's TLS certificate, when it is not publicly trusted.
    pub tls_root: Option<PathBuf>,
    /// The vendor profile the config names for this CA, if any.
    pub vendor: Option<String>,
    /// A file holding the vendor's API access key, which a `ca-vendor` plugin trades for EAB
    /// credentials. Secret.
    pub eab_api_key_file: Option<PathBuf>,
}

/// A failure talking to a CA; the CA's problem document is passed through intact.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The CA answered with an error or could not be reached.
    #[error("CA {ca} ({directory}): {source}")]
    Ca {
        /// CA name.
        ca: String,
        /// Directory URL.
        directory: String,
        /// What instant-acme reported.
        source: Box<instant_acme::Error>,
    },
    /// The TLS root file could not be used.
    #[error("CA {ca}: tls_root {}: {message}", path.display())]
    TlsRoot {
        /// CA name.
        ca: String,
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The directory could not be fetched or read.
    #[error("CA {ca}: directory {directory}: {message}")]
    Directory {
        /// CA name.
        ca: String,
        /// Directory URL.
        directory: String,
        /// Why.
        message: String,
    },
    /// Stored credentials are unreadable.
    #[error("account {account}: stored credentials are unreadable: {message}")]
    Credentials {
        /// Account name.
        account: String,
        /// Why.
        message: String,
    },
}

impl CaEndpoint {
    /// The HTTPS client for this CA (trusting only `tls_root` when one is set).
    pub(crate) fn http(&self) -> Result<CaHttp, AcmeError> {
        CaHttp::new(&self.name, self.tls_root.as_deref()).map_err(|message| AcmeError::TlsRoot {
            ca: self.name.clone(),
            path: self.tls_root.clone().unwrap_or_default(),
            message,
        })
    }

    fn builder(&self) -> Result<instant_acme::AccountBuilder, AcmeError> {
        Ok(Account::builder_with_http(Box::new(self.http()?)))
    }

    /// Read the CA's directory: EAB requirement, profiles and the `newAccount` URL.
    pub(crate) async fn directory_info(&self) -> Result<DirectoryInfo, AcmeError> {
        self.http()?
            .directory(&self.directory)
            .await
            .map_err(|message| AcmeError::Directory {
                ca: self.name.clone(),
                directory: self.directory.clone(),
                message,
            })
    }

    pub(crate) fn ca_error(&self, source: instant_acme::Error) -> AcmeError {
        AcmeError::Ca {
            ca: self.name.clone(),
            directory: self.directory.clone(),
            source: Box::new(source),
        }
    }

    /// Register a new account with a key generated here (RFC 8555 §7.3).
    pub async fn register(
        &self,
        name: &str,
        email: &str,
        agree_tos: bool,
        eab: Option<&EabCredentials>,
    ) -> Result<(AccountRecord, Account), AcmeError> {
        let contact = format!("mailto:{email}");
        let new = NewAccount {
            contact: &[&contact],
            terms_of_service_agreed: agree_tos,
            only_return_existing: false,
        };
        // A tls_root that cannot be used is reported as itself, not as the CA's failure.
        self.http()?;
        let created = super::nonce::retry_bad_nonce(&self.name, "new-account", || async {
            let builder = self
                .builder()
                .map_err(|e| instant_acme::Error::Other(e.into()))?;
            let key = eab.map(|e| e.key());
            builder
                .create(&new, self.directory.clone(), key.as_ref())
                .await
        })
        .await;
        let (account, credentials) = created.map_err(|e| self.ca_error(e))?;
        let record = AccountRecord {
            id: new_id(),
            name: name.to_owned(),
            ca: self.name.clone(),
            directory_url: self.directory.clone(),
            email: email.to_owned(),
            status: "valid".to_owned(),
            account_url: account.id().to_owned(),
            credentials: serde_json::to_value(&credentials).expect("credentials serialize"),
            eab_kid: eab.map(|e| e.kid.clone()),
            created_at: now(),
        };
        Ok((record, account))
    }

    /// Rebuild a stored account without contacting the CA beyond its directory.
    pub async fn restore(&self, record: &AccountRecord) -> Result<Account, AcmeError> {
        let credentials: AccountCredentials = serde_json::from_value(record.credentials.clone())
            .map_err(|e| AcmeError::Credentials {
                account: record.name.clone(),
                message: e.to_string(),
            })?;
        let builder = self.builder()?;
        builder
            .from_credentials(credentials)
            .await
            .map_err(|e| self.ca_error(e))
    }
}
