//! What can go wrong while loading plugins and while calling them.
//!
//! A call fails in one of two layers, kept apart as wasmtime's WASI crates keep a trap apart from
//! the error a guest may return: [`HostFault`] is the host's side (the plugin trapped, ran out of
//! time or memory, could not be instantiated), [`ProviderError`] is the answer the plugin chose to
//! give through the WIT `provider-error` variant.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

/// Why a plugin file or the provider instances could not be loaded.
#[derive(Debug, Error)]
pub enum PluginError {
    /// The wasmtime engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),

    /// A file or the plugin directory could not be read.
    #[error("cannot read plugin path {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },

    /// The file is not a WebAssembly component.
    #[error("plugin file {} is not a WebAssembly component: {reason}", path.display())]
    NotAComponent {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },

    /// wasmtime refused to compile the component.
    #[error("plugin file {} does not compile: {reason}", path.display())]
    Compile {
        /// The file.
        path: PathBuf,
        /// wasmtime's message.
        reason: String,
    },

    /// The component is built for another version of the `certkeeper:plugin` contract.
    #[error(
        "plugin file {} targets contract certkeeper:plugin@{found}, \
         but this certkeeper implements @{expected}; rebuild it with a matching plugin SDK",
        path.display()
    )]
    IncompatibleContract {
        /// The file.
        path: PathBuf,
        /// The contract version the plugin names.
        found: String,
        /// The contract version this host implements.
        expected: &'static str,
    },

    /// The component is not a plugin of a kind this host knows.
    #[error("plugin file {} is not a certkeeper dns-provider plugin: {reason}", path.display())]
    WrongWorld {
        /// The file.
        path: PathBuf,
        /// What is missing or unexpected.
        reason: String,
    },

    /// The component could not be linked or instantiated, e.g. it imports what the host does
    /// not provide.
    #[error("plugin file {} cannot be instantiated: {reason}", path.display())]
    Instantiate {
        /// The file.
        path: PathBuf,
        /// wasmtime's message.
        reason: String,
    },

    /// The plugin's `metadata` export failed or returned something invalid.
    #[error("plugin file {} gave bad metadata: {reason}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// Two files hold plugins of the same name.
    #[error("plugin {name} is in both {} and {}", first.display(), second.display())]
    DuplicatePlugin {
        /// The plugin name.
        name: String,
        /// The file loaded first.
        first: PathBuf,
        /// The other file.
        second: PathBuf,
    },

    /// Two provider instances have the same name.
    #[error("DNS provider {0} is configured twice")]
    DuplicateProvider(String),

    /// A provider instance names a plugin that is not loaded.
    #[error("DNS provider {provider} uses plugin {plugin}, which is not loaded (loaded: {loaded})")]
    UnknownPlugin {
        /// The provider instance.
        provider: String,
        /// The plugin it names.
        plugin: String,
        /// The plugins that are loaded, comma-separated.
        loaded: String,
    },

    /// The plugin directory could not be watched for changes.
    #[error("cannot watch plugin directory {}: {reason}", path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// What the watcher said.
        reason: String,
    },

    /// A per-provider limit is out of range.
    #[error("DNS provider {provider}: {key} = {value} is out of range (1 to {max})")]
    BadLimit {
        /// The provider instance.
        provider: String,
        /// The setting, e.g. `call_timeout_secs`.
        key: &'static str,
        /// The value given.
        value: u64,
        /// The largest value allowed.
        max: u64,
    },

    /// An `allowed_hosts` entry is not `host` or `host:port`.
    #[error("DNS provider {provider}: allowed_hosts entry {entry:?} is not `host` or `host:port`")]
    BadAllowedHost {
        /// The provider instance.
        provider: String,
        /// The entry.
        entry: String,
    },
}

/// Why a call into a plugin failed: the host's fault, or the plugin's own error.
#[derive(Debug, Error)]
pub enum PluginCallError {
    /// No provider instance has this name.
    #[error("no DNS provider named {0} is configured")]
    UnknownProvider(String),

    /// No loaded `ca-vendor` plugin fetches EAB credentials for this vendor profile.
    #[error("no loaded ca-vendor plugin fetches EAB credentials for vendor profile {0}")]
    NoEabApi(String),

    /// The host could not complete the call: a trap, a limit, an instantiation failure.
    #[error("{} {provider} (plugin {plugin}) {operation}: {fault}", operation.caller())]
    Host {
        /// The provider instance.
        provider: String,
        /// The plugin it runs.
        plugin: String,
        /// The operation called.
        operation: Operation,
        /// What went wrong on the host's side.
        fault: HostFault,
    },

    /// The plugin ran to completion and returned an error.
    #[error("{} {provider} (plugin {plugin}) {operation}: {error}", operation.caller())]
    Provider {
        /// The provider instance.
        provider: String,
        /// The plugin it runs.
        plugin: String,
        /// The operation called.
        operation: Operation,
        /// The plugin's error.
        error: ProviderError,
    },
}

impl PluginCallError {
    /// The plugin's own error, when the call failed in the plugin rather than in the host.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            Self::Provider { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The host's fault, when the call failed on the host's side.
    pub fn host_fault(&self) -> Option<&HostFault> {
        match self {
            Self::Host { fault, .. } => Some(fault),
            _ => None,
        }
    }
}

/// What went wrong on the host's side of a plugin call.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum HostFault {
    /// The call ran past its wall-clock limit and was interrupted.
    #[error("interrupted after its time limit of {0:?}")]
    Timeout(Duration),
    /// The plugin asked for more linear memory than it may have.
    #[error("trapped at its memory limit of {0} bytes")]
    MemoryLimit(usize),
    /// The plugin trapped (a panic, an `unreachable`, a bad memory access).
    #[error("trapped: {0}")]
    Trap(String),
    /// The plugin returned something the contract does not allow, e.g. a zone that does not
    /// hold the name it was asked about.
    #[error("returned an invalid answer: {0}")]
    InvalidAnswer(String),
    /// The component could not be instantiated for the call.
    #[error("cannot be instantiated: {0}")]
    Instantiate(String),
    /// The worker thread running the call failed.
    #[error("worker thread failed: {0}")]
    Worker(String),
}

/// The error a DNS provider plugin returned, as the WIT `provider-error` variant defines it.
#[derive(Clone, Debug, Error, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum ProviderError {
    /// The provider refused the credentials.
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// No zone of the account holds the name.
    #[error("zone not found: {0}")]
    ZoneNotFound(String),
    /// The provider throttles; retry after this many seconds when given.
    #[error("rate limited (retry after {} s)", retry_after_secs.map_or("?".into(), |s| s.to_string()))]
    RateLimited {
        /// Seconds to wait, when the provider said.
        retry_after_secs: Option<u32>,
    },
    /// A setting is missing or malformed.
    #[error("bad configuration: {0}")]
    BadConfig(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A plugin operation, for errors and log fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// `metadata`, called while loading.
    Metadata,
    /// `present`.
    Present,
    /// `cleanup`.
    Cleanup,
    /// `find-zone`.
    FindZone,
    /// `test-connection`.
    TestConnection,
    /// `fetch-eab`, of a `ca-vendor`.
    FetchEab,
}

impl Operation {
    /// What the instance making this call is called in errors: a DNS provider, or a CA vendor
    /// profile for `fetch-eab`.
    pub fn caller(&self) -> &'static str {
        match self {
            Self::FetchEab => "CA vendor",
            _ => "DNS provider",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Metadata => "metadata",
            Self::Present => "present",
            Self::Cleanup => "cleanup",
            Self::FindZone => "find-zone",
            Self::TestConnection => "test-connection",
            Self::FetchEab => "fetch-eab",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(operation: Operation) -> String {
        PluginCallError::Host {
            provider: "inst".into(),
            plugin: "plug".into(),
            operation,
            fault: HostFault::Instantiate("no slot".into()),
        }
        .to_string()
    }

    #[test]
    fn a_call_error_names_a_dns_provider_or_a_ca_vendor_by_what_was_called() {
        assert_eq!(
            failed(Operation::Present),
            "DNS provider inst (plugin plug) present: cannot be instantiated: no slot"
        );
        assert_eq!(
            failed(Operation::FetchEab),
            "CA vendor inst (plugin plug) fetch-eab: cannot be instantiated: no slot"
        );
    }
}
