//! Hand memory freed by a renewal pass back to the operating system.
//!
//! A pass over a large store decodes every certificate summary and renewal record, then frees
//! them; glibc keeps the freed pages in its arenas, so an idle daemon would go on holding the
//! peak of its last pass. `malloc_trim(0)` releases what is free at the top of each arena and
//! the unused pages inside it. Elsewhere (musl, other systems) this does nothing.

/// Release freed heap pages to the OS, where the allocator supports it.
pub(super) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only walks glibc's own arenas under their
    // locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
