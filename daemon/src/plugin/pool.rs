//! The engine's instance allocator: wasmtime's pooling allocator, so that the fresh instance
//! every call gets comes from a slot kept between calls (reset, not unmapped and mapped again).
//! That is most of a call's cost without it (docs/BENCHMARKS.md, "Plugin calls").
//!
//! The pool is sized once, for at most [`CALL_SLOTS`] calls at a time plus [`LOAD_SLOTS`]
//! instances that loading plugins (their `metadata` call) may use meanwhile; calls beyond that
//! wait for a permit of [`PluginHost`](super::PluginHost)'s call gate instead of failing to
//! instantiate. Each slot can hold the largest memory a provider may be given
//! (`memory_limit_mib` ≤ 4096); the per-call limit is still the provider's own, enforced by the
//! store's limiter. The address space of the slots is reserved, not committed: a slot takes
//! memory only while an instance touches it.

use wasmtime::{Config, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Plugin calls that may run at once; more wait for a free slot.
pub(super) const CALL_SLOTS: u32 = 32;

/// Instances kept apart for loading plugins, so a reload never waits on calls.
const LOAD_SLOTS: u32 = 8;

/// Core modules one plugin component may instantiate (a Rust `wasm32-wasip2` component has a
/// handful: its own code and small shims).
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;

/// Linear memories and tables one plugin component may define.
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 4;

/// The largest linear memory any provider may be given: `memory_limit_mib`'s ceiling.
const MAX_MEMORY_BYTES: usize = 4096 << 20;

/// Memory a slot's instance touched that is reset in place when the instance is dropped,
/// instead of handed back to the kernel. Handing pages back and faulting them in again on the
/// next call (each a TLB shootdown across the daemon's threads) was most of a call's cost; with
/// `PAGEMAP_SCAN` (Linux 6.7+) only the pages really touched are reset and stay resident.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// The engine configuration every plugin is compiled and run with.
pub(super) fn engine_config() -> Config {
    let instances = CALL_SLOTS + LOAD_SLOTS;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances * CORE_INSTANCES_PER_COMPONENT)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_memories(instances * MEMORIES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .total_tables(instances * TABLES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(MAX_MEMORY_BYTES)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES)
        .pagemap_scan(Enabled::Auto);
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}
