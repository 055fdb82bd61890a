//! The vendor's part in registering an account: which CA `--vendor` means, and External Account
//! Binding credentials from the vendor's `ca-vendor` plugin when the operator gave none.
//!
//! The daemon itself talks to no vendor API: a profile whose plugin names `eab-api-hosts` fetches
//! the credentials through the plugin host's allow-listed HTTP (see `plugin::vendor_eab`).

use std::path::{Path, PathBuf};

use tracing::info;

use super::client::CaEndpoint;
use super::eab::EabCredentials;
use super::engine::{Engine, EngineError};
use super::vendors::{self, EabSource, VendorProfile};

/// Why registration cannot get going on the vendor's side. Never holds a key.
#[derive(Debug, thiserror::Error)]
pub enum VendorAccountError {
    /// The API key file cannot be read or holds nothing.
    #[error("eab_api_key_file {}: {reason}", path.display())]
    ApiKeyFile {
        /// The file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The CA needs EAB, none was given and no loaded plugin can fetch it.
    #[error(
        "CA {ca} (vendor {vendor}) requires External Account Binding and no loaded ca-vendor plugin \
         fetches it: pass --eab-kid and --eab-hmac-key{how}"
    )]
    EabMissing {
        /// The CA's name.
        ca: String,
        /// The vendor profile.
        vendor: String,
        /// Where else credentials may come from.
        how: String,
    },
    /// An API key was given for a CA whose vendor has no plugin that uses one.
    #[error(
        "CA {ca}: an EAB API key is only used by a ca-vendor plugin that fetches EAB \
             credentials, and none is loaded for {vendor}"
    )]
    ApiKeyUnused {
        /// The CA's name.
        ca: String,
        /// The vendor profile, or `no vendor`.
        vendor: String,
    },
    /// The plugin's call failed; the message names plugin and operation.
    #[error("CA {ca}: {message}")]
    Fetch {
        /// The CA's name.
        ca: String,
        /// The plugin host's error.
        message: String,
    },
    /// `--ca` and `--vendor` were both given, or neither, or `--vendor` fits several CAs.
    #[error("{0}")]
    Choice(String),
}

impl From<VendorAccountError> for EngineError {
    fn from(error: VendorAccountError) -> Self {
        EngineError::Invalid(error.to_string())
    }
}

/// The largest API key file read: far above any vendor's key, far below a memory problem.
const MAX_API_KEY_FILE: usize = 4096;

/// The API key in `path`, trimmed; a missing, unreadable, empty, non-regular or over-4-KiB file,
/// or a key with whitespace inside, is an error naming it.
pub fn read_api_key_file(path: &Path) -> Result<String, VendorAccountError> {
    let bad = |reason: String| VendorAccountError::ApiKeyFile {
        path: path.to_owned(),
        reason,
    };
    crate::secret_file::read_text_key(path, MAX_API_KEY_FILE).map_err(bad)
}

impl Engine {
    /// The CA an account request means: `ca` by name, or `vendor`'s one configured `[[ca]]`,
    /// or else an implicit CA named after the vendor at the profile's own directory URL.
    pub(super) fn requested_ca(
        &self,
        ca: &str,
        vendor: Option<&str>,
    ) -> Result<CaEndpoint, EngineError> {
        match (ca.is_empty(), vendor) {
            (false, Some(_)) => Err(choice("give --ca or --vendor, not both")),
            (true, None) => Err(choice(
                "give --ca NAME (a configured [[ca]]) or --vendor V (a CA vendor profile)",
            )),
            (false, None) => Ok(self.ca(ca)?.clone()),
            (true, Some(vendor)) => self.vendor_ca(vendor),
        }
    }

    fn vendor_ca(&self, vendor: &str) -> Result<CaEndpoint, EngineError> {
        let matching: Vec<&CaEndpoint> = self
            .cas
            .iter()
            .filter(|c| c.vendor.as_deref() == Some(vendor))
            .collect();
        match matching.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            several => {
                let names: Vec<&str> = several.iter().map(|c| c.name.as_str()).collect();
                return Err(choice(&format!(
                    "vendor {vendor} is configured for several [[ca]] ({}): pick one with --ca",
                    names.join(", ")
                )));
            }
        }
        let profile = vendors::vendor(vendor).map_err(EngineError::Invalid)?;
        let directory = profile.directory.ok_or_else(|| {
            choice(&format!(
                "vendor {vendor} has no directory URL of its own: configure a [[ca]] with \
                 `directory` and pass --ca"
            ))
        })?;
        Ok(CaEndpoint {
            name: vendor.to_owned(),
            directory: directory.to_owned(),
            tls_root: None,
            vendor: Some(vendor.to_owned()),
            eab_api_key_file: None,
        })
    }

    /// EAB credentials from the CA vendor's plugin when the operator gave none: `None` when the
    /// vendor needs none or nothing is known about it. `api_key` (else the CA's
    /// `eab_api_key_file`) goes to the plugin instead of the email.
    pub(super) async fn eab_from_vendor(
        &self,
        ca: &CaEndpoint,
        email: &str,
        api_key: Option<&str>,
    ) -> Result<Option<EabCredentials>, EngineError> {
        let api_key = match (api_key, &ca.eab_api_key_file) {
            (Some(key), _) => Some(key.to_owned()),
            (None, Some(path)) => Some(read_api_key_file(path)?),
            (None, None) => None,
        };
        let Some(profile) = profile_of(ca) else {
            return match api_key {
                Some(_) => Err(unused(ca, "no vendor").into()),
                None => Ok(None),
            };
        };
        if self.plugins.eab_fetching_profile(profile.id).is_none() {
            return match (api_key, profile.eab_required) {
                (_, true) => Err(self.eab_missing(ca, profile).into()),
                (Some(_), false) => Err(unused(ca, profile.id).into()),
                (None, false) => Ok(None),
            };
        }

        let fetched = self
            .plugins
            .fetch_profile_eab(profile.id, email, api_key.as_deref())
            .await
            .map_err(|e| fetch_error(ca, &e.to_string(), api_key.as_deref()))?;
        let eab = EabCredentials::parse(&fetched.kid, &fetched.hmac_key)
            .map_err(|e| fetch_error(ca, &e.to_string(), api_key.as_deref()))?;
        info!(ca = %ca.name, vendor = %profile.id, eab_kid = %eab.kid, "EAB credentials obtained from the vendor plugin");
        Ok(Some(eab))
    }

    fn eab_missing(&self, ca: &CaEndpoint, profile: &VendorProfile) -> VendorAccountError {
        let how = match profile.eab_source {
            EabSource::PluginApi(plugin) => format!(
                ", or install the vendor plugin {plugin} ({}.wasm) in plugin_dir ({})",
                plugin.replace('-', "_"),
                self.plugins.dir().display()
            ),
            EabSource::Portal(portal) => format!(" (from {portal})"),
            EabSource::None => String::new(),
        };
        VendorAccountError::EabMissing {
            ca: ca.name.clone(),
            vendor: profile.id.to_owned(),
            how,
        }
    }
}

/// The vendor profile of `ca`: the one the config names, else one with the same directory URL.
fn profile_of(ca: &CaEndpoint) -> Option<&'static VendorProfile> {
    if let Some(vendor) = &ca.vendor {
        return vendors::vendor(vendor).ok();
    }
    let plugins = super::vendor_registry::all();
    plugins
        .into_iter()
        .chain(vendors::VENDORS)
        .find(|v| v.directory == Some(ca.directory.as_str()))
}

fn choice(message: &str) -> EngineError {
    VendorAccountError::Choice(message.to_owned()).into()
}

fn unused(ca: &CaEndpoint, vendor: &str) -> VendorAccountError {
    VendorAccountError::ApiKeyUnused {
        ca: ca.name.clone(),
        vendor: vendor.to_owned(),
    }
}

/// The plugin call's failure for `ca`, with the vendor API key (which a plugin or the API it
/// called may have echoed) taken out of the message.
fn fetch_error(ca: &CaEndpoint, message: &str, api_key: Option<&str>) -> EngineError {
    let message = match api_key {
        Some(key) => crate::plugin::redact_secret(message, key),
        None => message.to_owned(),
    };
    VendorAccountError::Fetch {
        ca: ca.name.clone(),
        message,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::challenge::Board;
    use crate::dns::{PropagationChecker, PropagationConfig};
    use crate::plugin::PluginHost;
    use crate::store::Store;

    /// An engine with `cas` configured, no plugins loaded, its store in `dir`.
    fn engine(dir: &Path, cas: Vec<CaEndpoint>) -> Engine {
        let propagation = PropagationConfig {
            resolvers: vec!["127.0.0.1:9".parse().unwrap()],
            ..PropagationConfig::default()
        };
        Engine::new(
            Arc::new(Store::open(&dir.join("store.redb")).unwrap()),
            Arc::new(Board::new()),
            Arc::new(PluginHost::load(&dir.join("plugins"), Vec::new()).unwrap()),
            Arc::new(PropagationChecker::new(propagation).unwrap()),
            cas,
            Vec::new(),
        )
    }

    fn ca(name: &str, vendor: Option<&str>) -> CaEndpoint {
        CaEndpoint {
            name: name.into(),
            directory: format!("https://127.0.0.1:9/{name}"),
            tls_root: None,
            vendor: vendor.map(str::to_owned),
            eab_api_key_file: None,
        }
    }

    fn message(result: Result<impl std::fmt::Debug, EngineError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn a_fetch_error_echoing_the_api_key_names_the_ca_with_the_key_redacted() {
        let zs = ca("zs", Some("zerossl"));
        let text = "bad key ?access_key=K3Y%2F1 or K3Y/1";
        let err = fetch_error(&zs, text, Some("K3Y/1")).to_string();
        assert_eq!(err, "CA zs: bad key ?access_key=[redacted] or [redacted]");
    }

    #[test]
    fn new_acme_limits_replace_the_engines_without_a_restart() {
        // N.B. here for the engine builder; `Scheduler::reload` calls `set_limits`.
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), Vec::new());
        let mut limits = engine.limits();
        limits.validation_timeout_secs += 7;
        engine.set_limits(limits.clone());
        assert_eq!(engine.limits(), limits);
    }

    #[test]
    fn an_api_key_file_is_read_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zerossl.key");
        std::fs::write(&path, "  0123abcd\n").unwrap();
        assert_eq!(read_api_key_file(&path).unwrap(), "0123abcd");
    }

    #[test]
    fn a_missing_or_empty_api_key_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.key");
        let err = read_api_key_file(&missing).unwrap_err().to_string();
        assert!(err.contains(missing.to_str().unwrap()), "{err}");
        let empty = dir.path().join("empty.key");
        std::fs::write(&empty, " \n").unwrap();
        let err = read_api_key_file(&empty).unwrap_err().to_string();
        assert!(
            err.contains(empty.to_str().unwrap()) && err.contains("empty"),
            "{err}"
        );
    }

    #[test]
    fn a_device_a_huge_file_or_a_two_line_api_key_file_is_refused_naming_it() {
        let err = read_api_key_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "eab_api_key_file /dev/zero: not a regular file");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.key");
        std::fs::write(&path, "a".repeat(5000)).unwrap();
        let err = read_api_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("api.key: larger than 4096 bytes"), "{err}");
        std::fs::write(&path, "key-one\nkey-two\n").unwrap();
        let err = read_api_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("api.key") && !err.contains("key-one"), "{err}");
    }

    #[test]
    fn ca_and_vendor_together_or_neither_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), vec![ca("zs", Some("zerossl"))]);
        let both = message(engine.requested_ca("zs", Some("zerossl")));
        assert!(both.contains("not both"), "{both}");
        let neither = message(engine.requested_ca("", None));
        assert!(
            neither.contains("--ca") && neither.contains("--vendor"),
            "{neither}"
        );
    }

    #[test]
    fn a_vendor_picks_its_one_configured_ca_else_its_own_directory() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), vec![ca("zs", Some("zerossl"))]);
        assert_eq!(engine.requested_ca("", Some("zerossl")).unwrap().name, "zs");
        let implicit = engine
            .requested_ca("", Some("letsencrypt-staging"))
            .unwrap();
        assert_eq!(implicit.name, "letsencrypt-staging");
        assert_eq!(
            implicit.directory,
            "https://acme-staging-v02.api.letsencrypt.org/directory"
        );
    }

    #[test]
    fn a_vendor_on_several_cas_or_unknown_is_refused_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let cas = vec![ca("a", Some("google")), ca("b", Some("google"))];
        let engine = engine(dir.path(), cas);
        let several = message(engine.requested_ca("", Some("google")));
        assert!(
            several.contains("a, b") && several.contains("--ca"),
            "{several}"
        );
        let unknown = message(engine.requested_ca("", Some("verisign")));
        assert!(
            unknown.contains("verisign") && unknown.contains("zerossl"),
            "{unknown}"
        );
    }

    #[tokio::test]
    async fn eab_required_without_a_plugin_names_ca_vendor_and_both_remedies() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), Vec::new());
        let zs = ca("zs", Some("zerossl"));
        let err = message(engine.eab_from_vendor(&zs, "ops@example.test", None).await);
        assert!(
            err.contains("CA zs") && err.contains("vendor zerossl"),
            "{err}"
        );
        assert!(
            err.contains("--eab-kid") && err.contains("--eab-hmac-key"),
            "{err}"
        );
        assert!(
            err.contains("vendor_zerossl.wasm") && err.contains("plugin_dir"),
            "{err}"
        );
        let with_key = engine
            .eab_from_vendor(&zs, "ops@example.test", Some("s3cr3t"))
            .await;
        let with_key = message(with_key);
        assert!(
            with_key.contains("vendor_zerossl.wasm") && !with_key.contains("s3cr3t"),
            "{with_key}"
        );
    }

    #[tokio::test]
    async fn an_api_key_for_a_vendor_without_a_fetching_plugin_is_refused_and_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), Vec::new());
        let le = ca("le", Some("letsencrypt"));
        let err = message(
            engine
                .eab_from_vendor(&le, "ops@example.test", Some("s3cr3t"))
                .await,
        );
        assert!(err.contains("CA le") && !err.contains("s3cr3t"), "{err}");
    }
}
