//! One call into a plugin: a fresh store with its own limits, run on a blocking thread.
//!
//! Every call instantiates the component anew (tens of microseconds from an `InstancePre`), so
//! no state leaks from one provider instance or call to the next, and a trap poisons nothing
//! that outlives the call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::certkeeper::plugin::types::ProviderError as WitProviderError;
use super::bindings::{DnsProvider, DnsProviderPre};
use super::host_http::HttpClient;
use super::host_log::clip;
use super::provider::{Provider, ProviderConfig};
use super::{HostFault, ProviderError};

/// Limits that every plugin call runs under.
#[derive(Clone, Copy, Debug)]
pub struct PluginLimits {
    /// Most linear memory a plugin instance may have.
    pub memory_bytes: usize,
    /// Wall-clock time a call may take, host HTTP requests included.
    pub call_timeout: Duration,
    /// Time one HTTP request may take (never more than what is left of the call's time).
    pub http_timeout: Duration,
    /// Largest HTTP response body handed to a plugin.
    pub max_response_bytes: usize,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(30),
            http_timeout: Duration::from_secs(20),
            max_response_bytes: 4 << 20,
        }
    }
}

impl PluginLimits {
    /// These limits with a provider instance's own `call_timeout_secs` and `memory_limit_mib`.
    pub(super) fn for_provider(mut self, config: &ProviderConfig) -> Self {
        if let Some(secs) = config.call_timeout_secs {
            self.call_timeout = Duration::from_secs(secs);
        }
        if let Some(mib) = config.memory_limit_mib {
            self.memory_bytes = usize::try_from(mib << 20).unwrap_or(usize::MAX);
        }
        self
    }
}

/// How often the engine's epoch advances; the call timeout is counted in these ticks.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(50);

/// The store data of one call.
pub(super) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    pub(super) provider: Arc<Provider>,
    pub(super) plugin: String,
    /// `None` while a plugin is being loaded: `metadata` may not send requests.
    pub(super) http: Option<HttpAccess>,
}

/// What the `http` import needs to send a request for this call.
pub(super) struct HttpAccess {
    pub(super) runtime: Handle,
    pub(super) client: HttpClient,
    pub(super) deadline: Instant,
    pub(super) limits: PluginLimits,
}

impl CallState {
    pub(super) fn new(
        plugin: &str,
        provider: Arc<Provider>,
        limits: &PluginLimits,
        http: Option<HttpAccess>,
    ) -> Self {
        // No preopens, environment, arguments or sockets: the plugin's only way out is `http`.
        let wasi = WasiCtxBuilder::new().build();
        let limiter = MemoryLimiter {
            max: limits.memory_bytes,
            hit: false,
        };
        let table = ResourceTable::new();
        Self {
            wasi,
            table,
            limiter,
            provider,
            plugin: plugin.to_owned(),
            http,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Refuses memory growth past the limit and remembers that it did, to name the fault.
struct MemoryLimiter {
    max: usize,
    hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max;
        self.hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Why one call failed, before the caller adds the provider and operation.
pub(super) enum CallFailure {
    Host(HostFault),
    Provider(ProviderError),
}

/// A compiled component of some world that can be instantiated in a store.
pub(super) trait Instantiate {
    /// The world's instance type.
    type Instance;
    fn engine(&self) -> &wasmtime::Engine;
    fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<Self::Instance>;
}

impl Instantiate for DnsProviderPre<CallState> {
    type Instance = DnsProvider;
    fn engine(&self) -> &wasmtime::Engine {
        DnsProviderPre::engine(self)
    }
    fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<DnsProvider> {
        DnsProviderPre::instantiate(self, store)
    }
}

/// Instantiates the plugin in a fresh store and runs `call` on it. Blocks: run it on a blocking
/// thread.
pub(super) fn run<P: Instantiate, R>(
    pre: &P,
    state: CallState,
    limits: &PluginLimits,
    call: impl FnOnce(
        &P::Instance,
        &mut Store<CallState>,
    ) -> wasmtime::Result<Result<R, WitProviderError>>,
) -> Result<R, CallFailure> {
    let mut store = Store::new(pre.engine(), state);
    store.limiter(|state| &mut state.limiter);
    // N.B. set before instantiating: with epoch interruption on, no deadline traps at once.
    store.set_epoch_deadline(ticks(limits.call_timeout));

    let instance = pre
        .instantiate(&mut store)
        .map_err(|error| CallFailure::Host(HostFault::Instantiate(format!("{error:#}"))))?;
    match call(&instance, &mut store) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            let provider = &store.data().provider;
            Err(CallFailure::Provider(redacted(error.into(), provider)))
        }
        Err(error) => Err(CallFailure::Host(classify(&error, store.data(), limits))),
    }
}

/// The number of epoch ticks in `timeout`, at least one.
fn ticks(timeout: Duration) -> u64 {
    (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

fn classify(error: &wasmtime::Error, state: &CallState, limits: &PluginLimits) -> HostFault {
    if state.limiter.hit {
        return HostFault::MemoryLimit(limits.memory_bytes);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt | Trap::OutOfFuel) => HostFault::Timeout(limits.call_timeout),
        _ => HostFault::Trap(state.provider.redact(&format!("{error:#}"))),
    }
}

/// The plugin's error with any secret setting value taken out of its message, and the message cut
/// to a length fit for a log line.
fn redacted(error: ProviderError, provider: &Provider) -> ProviderError {
    let clean = |message: &str| clip(provider.redact(message));
    match error {
        ProviderError::AuthFailed(m) => ProviderError::AuthFailed(clean(&m)),
        ProviderError::ZoneNotFound(m) => ProviderError::ZoneNotFound(clean(&m)),
        ProviderError::BadConfig(m) => ProviderError::BadConfig(clean(&m)),
        ProviderError::Other(m) => ProviderError::Other(clean(&m)),
        rate_limited @ ProviderError::RateLimited { .. } => rate_limited,
    }
}

impl From<WitProviderError> for ProviderError {
    fn from(error: WitProviderError) -> Self {
        match error {
            WitProviderError::AuthFailed(m) => Self::AuthFailed(m),
            WitProviderError::ZoneNotFound(m) => Self::ZoneNotFound(m),
            WitProviderError::RateLimited(retry_after_secs) => {
                Self::RateLimited { retry_after_secs }
            }
            WitProviderError::BadConfig(m) => Self::BadConfig(m),
            WitProviderError::Other(m) => Self::Other(m),
        }
    }
}
