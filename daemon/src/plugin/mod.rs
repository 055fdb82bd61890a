//! The plugin host: DNS providers as sandboxed WebAssembly components.
//!
//! A provider's API client is third-party code that holds credentials, so it runs as a
//! component of the `dns-provider` world in `wit/`, under wasmtime, with nothing but what the
//! contract gives it: no filesystem, environment or sockets; HTTP only through the host and only
//! to the instance's `allowed_hosts`; its own settings; a logger. Every call gets a fresh
//! instance with a memory limit and a wall-clock deadline, on a blocking thread, so a plugin that
//! loops, grows or traps costs one failed call and nothing else.
//!
//! One file per WIT interface the host implements (`host_http`, `host_log`, `host_config`);
//! `component` loads and checks files, `cache` keeps their compiled code, `reload` and `watch`
//! swap them while the daemon runs, `call` runs one call, `provider` holds the instances.

mod answer;
mod cache;
mod call;
mod component;
mod error;
mod host_config;
mod host_http;
mod host_log;
mod pool;
mod provider;
mod redact;
mod reload;
mod vendor;
mod vendor_eab;
mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tracing::{Instrument, debug, info, info_span, warn};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, Store};

pub use call::PluginLimits;
pub use component::PluginInfo;
pub use error::{HostFault, Operation, PluginCallError, PluginError, ProviderError};
pub use provider::{DEFAULT_SECRET_SETTINGS, ProviderConfig};
pub use redact::redact_secret;
pub use reload::FileChange;
pub use vendor::VendorProfile;
pub use vendor_eab::VendorEab;
pub use watch::PluginWatcher;

use answer::zone_holds;
use bindings::DnsProvider;
use bindings::certkeeper::plugin::types::ProviderError as WitProviderError;
use cache::CodeCache;
use call::{CallFailure, CallState, EPOCH_TICK, HttpAccess};
use component::LoadedPlugin;
use host_http::HttpClient;
use provider::Provider;

/// The version of the `certkeeper:plugin` WIT package this host implements. A plugin built for
/// another version is refused when it is loaded.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// How long past its time limit the caller still waits for a call stuck in a host function.
const CALL_GRACE: Duration = Duration::from_secs(1);

mod bindings {
    wasmtime::component::bindgen!({ world: "dns-provider", path: "../wit" });
}

impl bindings::certkeeper::plugin::types::Host for CallState {}

/// The loaded plugins and the DNS provider instances that run them.
///
/// Shared as `Arc<PluginHost>`; plugins can be swapped while it is shared (see [`Self::watch`]),
/// and each call keeps the plugin it started with until it ends.
pub struct PluginHost {
    linker: Linker<CallState>,
    /// The directory plugins are loaded from and watched in.
    dir: PathBuf,
    /// By plugin name, from each plugin's metadata. Held only to clone or swap an `Arc`.
    plugins: RwLock<BTreeMap<String, Arc<LoadedPlugin>>>,
    /// By provider instance name.
    providers: BTreeMap<String, Arc<Provider>>,
    http: HttpClient,
    limits: PluginLimits,
    cache: Option<CodeCache>,
    cache_hits: AtomicU64,
    /// One permit per instance slot for calls ([`pool::CALL_SLOTS`]): a call holds one from
    /// before it instantiates until its instance is dropped.
    call_slots: Arc<tokio::sync::Semaphore>,
}

impl PluginHost {
    /// Loads every `*.wasm` file in `dir` and sets up `providers` on them, compiling every time.
    ///
    /// Fails on the first file that is not a component of this contract version, on two files
    /// with the same plugin name, and on a provider that names a plugin not loaded.
    pub fn load(dir: &Path, providers: Vec<ProviderConfig>) -> Result<Self, PluginError> {
        Self::load_with_cache(dir, providers, None)
    }

    /// As [`Self::load`], keeping compiled code in `cache_dir` (created owner-only when missing)
    /// so unchanged plugins are not compiled again after a restart. A cache directory that
    /// others may write to is not used, with a warning.
    pub fn load_with_cache(
        dir: &Path,
        providers: Vec<ProviderConfig>,
        cache_dir: Option<&Path>,
    ) -> Result<Self, PluginError> {
        let mut host = Self::empty(dir)?;
        host.cache = cache_dir.and_then(|cache_dir| {
            CodeCache::open(cache_dir, host.linker.engine())
                .inspect_err(|error| warn!(%error, "compiling plugins without a cache"))
                .ok()
        });
        for path in wasm_files(dir)? {
            let plugin = host.compile(&path, &component::read(&path)?)?;
            if let Some(first) = host.read_plugins().get(&plugin.info.name) {
                return Err(PluginError::DuplicatePlugin {
                    name: plugin.info.name.clone(),
                    first: first.info.file.clone(),
                    second: path,
                });
            }
            host.insert(plugin);
        }

        for config in providers {
            host.add_provider(config)?;
        }
        crate::acme::vendor_registry::register(&host.vendor_profiles());
        let (plugins, providers) = (host.read_plugins().len(), host.providers.len());
        info!(dir = %dir.display(), plugins, providers, "plugins loaded");
        Ok(host)
    }

    /// How many plugins were loaded from the compiled-code cache instead of being compiled.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// Replaces the limits that calls from now on run under.
    pub fn set_limits(&mut self, limits: PluginLimits) {
        self.limits = limits;
    }

    /// Adds `value` to the TXT record set at `fqdn` through provider instance `provider`.
    pub async fn present(
        &self,
        provider: &str,
        fqdn: &str,
        value: &str,
        ttl: u32,
    ) -> Result<(), PluginCallError> {
        let (fqdn, value) = (canonical(fqdn), value.to_owned());
        self.call(provider, Operation::Present, move |plugin, store| {
            plugin
                .certkeeper_plugin_txt_records()
                .call_present(store, &fqdn, &value, ttl)
        })
        .await
    }

    /// Removes exactly `value` from the TXT record set at `fqdn`; other values stay.
    pub async fn cleanup(
        &self,
        provider: &str,
        fqdn: &str,
        value: &str,
    ) -> Result<(), PluginCallError> {
        let (fqdn, value) = (canonical(fqdn), value.to_owned());
        self.call(provider, Operation::Cleanup, move |plugin, store| {
            plugin
                .certkeeper_plugin_txt_records()
                .call_cleanup(store, &fqdn, &value)
        })
        .await
    }

    /// Returns the provider's zone that holds `fqdn`, lowercase with a trailing dot.
    ///
    /// A zone that is not a valid name or does not hold `fqdn` is a [`HostFault::InvalidAnswer`].
    pub async fn find_zone(&self, provider: &str, fqdn: &str) -> Result<String, PluginCallError> {
        let name = canonical(fqdn);
        let zone = self
            .call(provider, Operation::FindZone, move |plugin, store| {
                plugin
                    .certkeeper_plugin_zones()
                    .call_find_zone(store, &name)
            })
            .await?;
        let (zone, fqdn) = (canonical(&zone), canonical(fqdn));
        match zone_holds(&zone, &fqdn) {
            true => Ok(zone),
            false => Err(self.invalid_answer(provider, Operation::FindZone, &zone, &fqdn)),
        }
    }

    /// Checks that the provider instance's settings work, changing nothing.
    pub async fn test_connection(&self, provider: &str) -> Result<(), PluginCallError> {
        self.call(provider, Operation::TestConnection, |plugin, store| {
            plugin
                .certkeeper_plugin_connection()
                .call_test_connection(store)
        })
        .await
    }

    /// The loaded plugins, by name.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.read_plugins()
            .values()
            .map(|plugin| plugin.info.clone())
            .collect()
    }

    /// Whether a provider instance of this name is configured.
    pub fn has_provider(&self, name: &str) -> bool {
        self.providers.contains_key(name)
    }

    /// The kind (`dns-provider` or `ca-vendor`) of the plugin behind provider instance `name`:
    /// `None` when no such instance is configured or its plugin is not loaded.
    pub fn provider_kind(&self, name: &str) -> Option<String> {
        let provider = self.providers.get(name)?;
        let plugins = self.read_plugins();
        let plugin = plugins.get(&provider.config.plugin)?;
        Some(plugin.info.kind.clone())
    }

    fn empty(dir: &Path) -> Result<Self, PluginError> {
        let engine_error = |error: wasmtime::Error| PluginError::Engine(format!("{error:#}"));
        let engine = Engine::new(&pool::engine_config()).map_err(engine_error)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_error)?;
        DnsProvider::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(engine_error)?;
        spawn_epoch_ticker(&engine)?;

        let (plugins, providers) = (BTreeMap::new(), BTreeMap::new());
        let (http, limits) = (host_http::client(), PluginLimits::default());
        Ok(Self {
            linker,
            dir: dir.to_owned(),
            plugins: RwLock::new(plugins),
            providers,
            http,
            limits,
            cache: None,
            cache_hits: AtomicU64::new(0),
            call_slots: Arc::new(tokio::sync::Semaphore::new(pool::CALL_SLOTS as usize)),
        })
    }

    /// Checks and compiles the plugin file read from `path`, through the cache when there is one.
    fn compile(&self, path: &Path, file: &(Vec<u8>, String)) -> Result<LoadedPlugin, PluginError> {
        let (bytes, sha256) = (file.0.as_slice(), file.1.as_str());
        let plugin = component::load(
            &self.linker,
            path,
            (bytes, sha256),
            &self.limits,
            self.cache.as_ref(),
        )?;
        if plugin.from_cache {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(plugin)
    }

    /// Adds `plugin`, replacing a plugin of the same name; returns the one it replaced.
    fn insert(&self, plugin: LoadedPlugin) -> Option<Arc<LoadedPlugin>> {
        let info = &plugin.info;
        let (name, version, sha256) = (&info.name, &info.version, &info.sha256);
        let (file, cached) = (info.file.display(), plugin.from_cache);
        info!(plugin = %name, %version, %sha256, %file, cached, "plugin loaded");
        self.write_plugins().insert(name.clone(), Arc::new(plugin))
    }

    // N.B. the lock only guards map operations that cannot panic half-way, so a poisoned lock
    // still holds a consistent map.
    fn read_plugins(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<LoadedPlugin>>> {
        self.plugins.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_plugins(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Arc<LoadedPlugin>>> {
        self.plugins.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn add_provider(&mut self, config: ProviderConfig) -> Result<(), PluginError> {
        if self.providers.contains_key(&config.name) {
            return Err(PluginError::DuplicateProvider(config.name));
        }
        let plugins = self.read_plugins();
        if !plugins.contains_key(&config.plugin) {
            let loaded: Vec<&str> = plugins.keys().map(String::as_str).collect();
            return Err(PluginError::UnknownPlugin {
                provider: config.name,
                plugin: config.plugin,
                loaded: if loaded.is_empty() {
                    "none".into()
                } else {
                    loaded.join(", ")
                },
            });
        }
        drop(plugins);
        let provider = Provider::new(config)?;
        self.providers
            .insert(provider.name().to_owned(), Arc::new(provider));
        Ok(())
    }

    /// Runs `f` against a fresh instance of the provider's plugin on a blocking thread, in a
    /// span that names provider, plugin and operation and carries no payload.
    async fn call<R: Send + 'static>(
        &self,
        name: &str,
        operation: Operation,
        f: impl FnOnce(&DnsProvider, &mut Store<CallState>) -> CallResult<R> + Send + 'static,
    ) -> Result<R, PluginCallError> {
        self.call_with(name, operation, move |plugin, state, limits| {
            let component::PluginPre::Dns(pre) = &plugin.pre else {
                let why = format!(
                    "plugin {} is a ca-vendor, not a DNS provider",
                    plugin.info.name
                );
                return Err(CallFailure::Host(HostFault::Instantiate(why)));
            };
            call::run(pre, state, limits, f)
        })
        .await
    }

    /// As [`Self::call`], with `run` choosing the world and the export to call.
    async fn call_with<R: Send + 'static>(
        &self,
        name: &str,
        operation: Operation,
        run: impl FnOnce(&LoadedPlugin, CallState, &PluginLimits) -> Result<R, CallFailure>
        + Send
        + 'static,
    ) -> Result<R, PluginCallError> {
        let unknown = || PluginCallError::UnknownProvider(name.to_owned());
        let provider = self.providers.get(name).cloned().ok_or_else(unknown)?;
        self.call_on(provider, operation, run).await
    }

    /// As [`Self::call_with`], on a provider instance in hand.
    async fn call_on<R: Send + 'static>(
        &self,
        provider: Arc<Provider>,
        operation: Operation,
        run: impl FnOnce(&LoadedPlugin, CallState, &PluginLimits) -> Result<R, CallFailure>
        + Send
        + 'static,
    ) -> Result<R, PluginCallError> {
        let name = provider.name().to_owned();
        let name = name.as_str();
        let plugin_name = provider.config.plugin.clone();
        let plugin = self
            .read_plugins()
            .get(&plugin_name)
            .cloned()
            .ok_or_else(|| {
                let why = format!("plugin {plugin_name} is not loaded");
                CallFailure::Host(HostFault::Instantiate(why))
            });
        let span = info_span!("plugin_call", provider = %name, plugin = %plugin_name, %operation);

        let _writing = match operation {
            Operation::Present | Operation::Cleanup => {
                Some(provider.writes.clone().lock_owned().await)
            }
            _ => None,
        };
        // N.B. before the deadline is set: time spent waiting for a slot is not the plugin's.
        let slot = Arc::clone(&self.call_slots)
            .acquire_owned()
            .await
            .expect("the call gate is never closed");
        let limits = self.limits.for_provider(&provider.config);
        let access = HttpAccess {
            runtime: Handle::current(),
            client: self.http.clone(),
            deadline: Instant::now() + limits.call_timeout,
            limits,
        };
        let started = Instant::now();
        let task = tokio::task::spawn_blocking({
            let span = span.clone();
            move || {
                let _slot = slot;
                let _entered = span.enter();
                let plugin = plugin?;
                let state = CallState::new(&plugin.info.name, provider, &limits, Some(access));
                run(&plugin, state, &limits)
            }
        });
        // N.B. the epoch cannot interrupt a plugin while it waits inside a host call (a WASI
        // sleep or poll), so the caller also stops waiting a little after the limit; the blocking
        // thread then ends when that host call returns, and its result is dropped.
        let waited = limits.call_timeout + CALL_GRACE;
        let outcome = tokio::time::timeout(waited, task.instrument(span.clone()))
            .await
            .unwrap_or_else(|_| {
                Ok(Err(CallFailure::Host(HostFault::Timeout(
                    limits.call_timeout,
                ))))
            });

        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let result = call_error(name, &plugin_name, operation, outcome);
        let verdict = if result.is_ok() { "ok" } else { "error" };
        let op = operation.to_string();
        crate::metrics::plugin_call(&plugin_name, &op, verdict, started.elapsed());
        span.in_scope(|| match &result {
            Ok(_) => debug!(elapsed_ms, "plugin call succeeded"),
            Err(error) => warn!(%error, elapsed_ms, "plugin call failed"),
        });
        result
    }
}

/// Names the provider, plugin and operation in a call's failure.
fn call_error<R>(
    provider: &str,
    plugin: &str,
    operation: Operation,
    outcome: Result<Result<R, CallFailure>, tokio::task::JoinError>,
) -> Result<R, PluginCallError> {
    let (provider, plugin) = (provider.to_owned(), plugin.to_owned());
    let failure = match outcome {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(failure)) => failure,
        Err(join) => CallFailure::Host(HostFault::Worker(join.to_string())),
    };
    Err(match failure {
        CallFailure::Provider(error) => PluginCallError::Provider {
            provider,
            plugin,
            operation,
            error,
        },
        CallFailure::Host(fault) => PluginCallError::Host {
            provider,
            plugin,
            operation,
            fault,
        },
    })
}

type CallResult<R> = wasmtime::Result<Result<R, WitProviderError>>;

/// `name` lowercase with one trailing dot, as names cross the contract.
fn canonical(name: &str) -> String {
    let mut name = name.trim_end_matches('.').to_ascii_lowercase();
    name.push('.');
    name
}

/// The `*.wasm` files in `dir`, sorted so load order (and the duplicate error) is stable.
fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>, PluginError> {
    let io = |source| PluginError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    // A missing directory holds no plugins; a provider that needs one is then reported by name.
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        other => other.map_err(io)?,
    };
    for entry in entries {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|ext| ext == "wasm") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped; a call's
/// deadline is a number of ticks.
fn spawn_epoch_ticker(engine: &Engine) -> Result<(), PluginError> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
        .map_err(|error| PluginError::Engine(format!("cannot start the epoch thread: {error}")))
}

#[cfg(test)]
mod tests;
