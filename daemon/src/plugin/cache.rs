//! The compiled-code cache: a restart does not compile unchanged plugins again.
//!
//! Compiling a component with Cranelift takes tens of milliseconds with a release host (and half a
//! second with a debug one); loading the compiled code back takes a fraction of a millisecond. So
//! each compiled plugin is serialized into the cache directory under a name made of the SHA-256 of
//! the plugin file and a hash of everything in the engine that compiled code depends on (the
//! wasmtime version, the target, the engine settings). A changed file or a new wasmtime misses the
//! cache and compiles anew; stale entries of older files are left for the operator to delete.
//!
//! N.B. loading compiled code is `unsafe` in wasmtime: the bytes are machine code run as they are,
//! unchecked. The invariant that makes it sound here: we read only files that this host wrote,
//! from a directory owned by the daemon's user and closed to everyone else (mode 0700, checked
//! each time the cache is opened), so only someone who can already act as the daemon's user could
//! have put code there.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tracing::{debug, warn};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled components, checked to be ours alone.
#[derive(Debug)]
pub(super) struct CodeCache {
    dir: PathBuf,
    /// Identifies the engine's compiled-code format, as hex.
    engine_key: String,
}

/// Why the cache directory cannot be used; the host then compiles every time.
#[derive(Debug, thiserror::Error)]
pub(super) enum CacheError {
    /// The directory could not be created or inspected.
    #[error("cannot use plugin cache directory {}: {source}", dir.display())]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// Someone other than the daemon's user owns the directory or may write to it.
    #[error(
        "plugin cache directory {} must be owned by uid {uid} and closed to others \
         (mode 0700), but is owned by uid {owner} with mode {mode:o}",
        dir.display()
    )]
    NotPrivate {
        dir: PathBuf,
        uid: u32,
        owner: u32,
        mode: u32,
    },
}

impl CodeCache {
    /// Opens `dir`, creating it owner-only when missing; refuses a directory others can write to
    /// or that another user owns.
    pub(super) fn open(dir: &Path, engine: &Engine) -> Result<Self, CacheError> {
        let io = |source| CacheError::Io {
            dir: dir.to_owned(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
        let meta = std::fs::metadata(dir).map_err(io)?;
        let (uid, mode) = (effective_uid(), meta.permissions().mode() & 0o7777);
        if meta.uid() != uid || mode & 0o077 != 0 {
            return Err(CacheError::NotPrivate {
                dir: dir.to_owned(),
                uid,
                owner: meta.uid(),
                mode,
            });
        }

        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        Ok(Self {
            dir: dir.to_owned(),
            engine_key,
        })
    }

    /// The component compiled from a file whose SHA-256 is `sha256`, when the cache holds it.
    pub(super) fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.entry(sha256);
        if !path.is_file() {
            return None;
        }
        // SAFETY: `path` is in our owner-only directory and was written by `put` (see the module
        // docs); wasmtime still checks that its version and settings match the engine's.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(error) => {
                warn!(error = %format!("{error:#}"), path = %path.display(),
                    "unusable compiled plugin in the cache; compiling again");
                None
            }
        }
    }

    /// Stores `component`, compiled from a file whose SHA-256 is `sha256`. A failure only costs
    /// a compile at the next start, so it is logged, not returned.
    pub(super) fn put(&self, sha256: &str, component: &Component) {
        let path = self.entry(sha256);
        if let Err(error) = self.write(&path, component) {
            warn!(%error, path = %path.display(), "cannot store the compiled plugin in the cache");
        } else {
            debug!(path = %path.display(), "compiled plugin cached");
        }
    }

    fn write(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        let bytes = component
            .serialize()
            .map_err(|error| std::io::Error::other(format!("{error:#}")))?;
        // Written whole under a temporary name, then renamed: a reader never sees half a file.
        let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        })
    }

    fn entry(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }
}

/// The uid this process runs as, to compare with the directory's owner; `u32::MAX` (no one's)
/// when it cannot be read, which refuses the cache.
fn effective_uid() -> u32 {
    // N.B. /proc/self belongs to the process's effective uid; reading it avoids unsafe libc calls.
    std::fs::metadata("/proc/self").map_or(u32::MAX, |meta| meta.uid())
}
