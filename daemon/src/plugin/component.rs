//! Loading one plugin file: is it a component, of our contract, of a world we host, and what
//! does it say about itself.
//!
//! Each check names the file and what is wrong, because at daemon start this is the line an
//! operator reads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::bindings::DnsProviderPre;
use super::cache::CodeCache;
use super::call::{self, CallFailure, CallState, PluginLimits};
use super::provider::Provider;
use super::vendor::{self, CaVendorPre, VendorProfile};
use super::{CONTRACT_VERSION, PluginError};

/// What the host knows about a loaded plugin, for the admin API and `certkeeper plugins`.
#[derive(Clone, Debug, Serialize)]
pub struct PluginInfo {
    /// The plugin's name from its metadata, e.g. `powerdns`.
    pub name: String,
    /// The world it implements: `dns-provider` or `ca-vendor`.
    pub kind: String,
    /// The plugin's own version.
    pub version: String,
    /// The contract version it was built for.
    pub contract_version: String,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// When it was loaded.
    #[serde(with = "time::serde::rfc3339")]
    pub loaded_at: OffsetDateTime,
}

/// A compiled plugin, ready to be instantiated for each call.
pub(super) struct LoadedPlugin {
    pub(super) info: PluginInfo,
    pub(super) pre: PluginPre,
    /// A `ca-vendor` plugin's profiles, read once while loading; empty for other kinds.
    pub(super) profiles: Vec<VendorProfile>,
    /// Whether the compiled code came from the cache rather than from Cranelift.
    pub(super) from_cache: bool,
}

/// A compiled plugin of one of the worlds the host runs.
pub(super) enum PluginPre {
    /// A `dns-provider` component.
    Dns(DnsProviderPre<CallState>),
    /// A `ca-vendor` component.
    Vendor(CaVendorPre<CallState>),
}

impl PluginPre {
    /// The world's name, as `plugin list` shows it.
    fn kind(&self) -> &'static str {
        match self {
            Self::Dns(_) => "dns-provider",
            Self::Vendor(_) => "ca-vendor",
        }
    }
}

/// The package every interface of the contract lives in.
const PACKAGE: &str = "certkeeper:plugin";

/// The interfaces a `dns-provider` component exports.
const DNS_PROVIDER_EXPORTS: [&str; 4] = ["metadata", "txt-records", "zones", "connection"];

/// The interfaces a `ca-vendor` component exports.
const CA_VENDOR_EXPORTS: [&str; 2] = ["metadata", "vendor-profiles"];

/// The most time the `metadata` call may take while a plugin loads.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

const WASM_MAGIC: &[u8] = b"\0asm";
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// Reads the plugin file at `path`, with its SHA-256 as hex.
pub(super) fn read(path: &Path) -> Result<(Vec<u8>, String), PluginError> {
    let bytes = std::fs::read(path).map_err(|source| PluginError::Io {
        path: path.to_owned(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok((bytes, sha256))
}

/// Checks and compiles (or takes from `cache`) the plugin read from `path`, then asks it for its
/// metadata.
pub(super) fn load(
    linker: &Linker<CallState>,
    path: &Path,
    (bytes, sha256): (&[u8], &str),
    limits: &PluginLimits,
    cache: Option<&CodeCache>,
) -> Result<LoadedPlugin, PluginError> {
    let engine = linker.engine();
    check_header(path, bytes)?;

    let cached = cache.and_then(|cache| cache.get(engine, sha256));
    let from_cache = cached.is_some();
    let component = match cached {
        Some(component) => component,
        None => Component::new(engine, bytes).map_err(|error| PluginError::Compile {
            path: path.to_owned(),
            reason: format!("{error:#}"),
        })?,
    };
    let is_vendor = check_contract(path, engine, &component)?;
    let instantiate_error = |error: wasmtime::Error| PluginError::Instantiate {
        path: path.to_owned(),
        reason: format!("{error:#}"),
    };
    let instance_pre = linker
        .instantiate_pre(&component)
        .map_err(instantiate_error)?;
    let pre = match is_vendor {
        true => CaVendorPre::new(instance_pre).map(PluginPre::Vendor),
        false => DnsProviderPre::new(instance_pre).map(PluginPre::Dns),
    }
    .map_err(instantiate_error)?;

    let info = metadata(path, &pre, limits, sha256)?;
    let profiles = match &pre {
        PluginPre::Vendor(vendor) => vendor::read_profiles(path, vendor, limits)?,
        PluginPre::Dns(_) => Vec::new(),
    };
    // Cached only once it has proved to be a plugin of ours, so garbage never fills the cache.
    if let (Some(cache), false) = (cache, from_cache) {
        cache.put(sha256, &component);
    }
    Ok(LoadedPlugin {
        info,
        pre,
        profiles,
        from_cache,
    })
}

/// Refuses files that are not WebAssembly, and core modules, with a message saying which.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
    let reason = if !bytes.starts_with(WASM_MAGIC) {
        "not a WebAssembly file (no \\0asm header)"
    } else if bytes.get(4..8) == Some(&CORE_MODULE_VERSION) {
        "a core WebAssembly module, not a component: build it for wasm32-wasip2 \
         (scripts/build-plugins.sh)"
    } else {
        return Ok(());
    };
    Err(PluginError::NotAComponent {
        path: path.to_owned(),
        reason: reason.into(),
    })
}

/// Checks the export names: our package, our version, the interfaces of a world we host.
/// Returns whether the component is a `ca-vendor` (else it is a `dns-provider`).
fn check_contract(
    path: &Path,
    engine: &Engine,
    component: &Component,
) -> Result<bool, PluginError> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let ours: Vec<(&str, &str)> = exports
        .iter()
        .filter_map(|name| {
            name.strip_prefix(PACKAGE)?
                .strip_prefix('/')?
                .split_once('@')
        })
        .collect();

    if let Some((_, found)) = ours
        .iter()
        .find(|(_, version)| *version != CONTRACT_VERSION)
    {
        return Err(PluginError::IncompatibleContract {
            path: path.to_owned(),
            found: (*found).to_owned(),
            expected: CONTRACT_VERSION,
        });
    }
    let is_vendor = ours.iter().any(|(name, _)| *name == "vendor-profiles");
    let wanted: &[&str] = match is_vendor {
        true => &CA_VENDOR_EXPORTS,
        false => &DNS_PROVIDER_EXPORTS,
    };
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|wanted| !ours.iter().any(|(name, _)| name == wanted))
        .collect();
    if missing.is_empty() {
        return Ok(is_vendor);
    }
    let reason = format!(
        "it does not export {PACKAGE}/{{{}}}@{CONTRACT_VERSION} (it exports: {})",
        missing.join(", "),
        if exports.is_empty() {
            "nothing".into()
        } else {
            exports.join(", ")
        }
    );
    Err(PluginError::WrongWorld {
        path: path.to_owned(),
        reason,
    })
}

/// Calls the plugin's `metadata` export and checks what it says.
fn metadata(
    path: &Path,
    pre: &PluginPre,
    limits: &PluginLimits,
    sha256: &str,
) -> Result<PluginInfo, PluginError> {
    let bad = |reason: String| PluginError::Metadata {
        path: path.to_owned(),
        reason,
    };
    // N.B. a plugin whose metadata spins holds up loading, so it gets less time than a call.
    let limits = &PluginLimits {
        call_timeout: limits.call_timeout.min(METADATA_TIMEOUT),
        ..*limits
    };
    let state = CallState::new("", Arc::new(Provider::loading()), limits, None);
    let meta = match pre {
        PluginPre::Dns(dns) => call::run(dns, state, limits, |plugin, store| {
            plugin
                .certkeeper_plugin_metadata()
                .call_metadata(store)
                .map(Ok)
        }),
        PluginPre::Vendor(vendor) => call::run(vendor, state, limits, |plugin, store| {
            plugin
                .certkeeper_plugin_metadata()
                .call_metadata(store)
                .map(Ok)
        }),
    }
    .map_err(|failure| match failure {
        CallFailure::Host(fault) => bad(format!("the metadata call {fault}")),
        CallFailure::Provider(error) => bad(error.to_string()),
    })?;

    if meta.contract_version != CONTRACT_VERSION {
        return Err(PluginError::IncompatibleContract {
            path: path.to_owned(),
            found: meta.contract_version,
            expected: CONTRACT_VERSION,
        });
    }
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if meta.name.is_empty() || !meta.name.chars().all(valid) {
        return Err(bad(format!(
            "name {:?} is not lowercase letters, digits and -",
            meta.name
        )));
    }

    Ok(PluginInfo {
        name: meta.name,
        kind: pre.kind().into(),
        version: meta.version,
        contract_version: meta.contract_version,
        file: path.to_owned(),
        sha256: sha256.to_owned(),
        loaded_at: OffsetDateTime::now_utc(),
    })
}
