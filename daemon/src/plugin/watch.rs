//! Watching the plugin directory and reloading what changes in it.
//!
//! Copying a file makes several events (create, writes, close), and an editor or package manager
//! may write a temporary file and rename it. So events are only collected, by path, until the
//! directory has been quiet for [`DEBOUNCE`]; then each `*.wasm` path is brought in line with what
//! is on disk now, one at a time, on a blocking thread (compiling takes a while). Working from
//! the file's state rather than from the event's kind makes a missed or merged event harmless.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{PluginError, PluginHost};

/// How long the directory must be quiet before changes are applied.
pub(super) const DEBOUNCE: Duration = Duration::from_millis(300);

/// A running watch of the plugin directory; dropping it stops the watch.
pub struct PluginWatcher {
    _watcher: RecommendedWatcher,
    task: JoinHandle<()>,
}

impl Drop for PluginWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PluginHost {
    /// Starts watching the plugin directory: from now on a new or changed `*.wasm` file is
    /// loaded in place of the old version, and a removed one unloaded when no provider uses it.
    /// Must be called inside a tokio runtime.
    pub fn watch(self: &Arc<Self>) -> Result<PluginWatcher, PluginError> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let watch_error = |error: notify::Error| PluginError::Watch {
            path: self.dir.clone(),
            reason: error.to_string(),
        };
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // N.B. the receiver is gone only after the watcher is dropped; nothing to do then.
                let _ = sender.send(event);
            })
            .map_err(watch_error)?;
        watcher
            .watch(&self.dir, RecursiveMode::NonRecursive)
            .map_err(watch_error)?;

        let task = tokio::spawn(reload_forever(Arc::clone(self), receiver));
        info!(dir = %self.dir.display(), "watching the plugin directory");
        Ok(PluginWatcher {
            _watcher: watcher,
            task,
        })
    }
}

type Events = mpsc::UnboundedReceiver<notify::Result<notify::Event>>;

async fn reload_forever(host: Arc<PluginHost>, mut events: Events) {
    while let Some(paths) = next_batch(&mut events).await {
        for path in paths {
            let host = Arc::clone(&host);
            let applied = tokio::task::spawn_blocking(move || host.apply(&path)).await;
            if let Err(error) = applied {
                warn!(%error, "applying a plugin file change failed");
            }
        }
    }
}

/// The `*.wasm` paths touched by the events up to the next quiet spell of [`DEBOUNCE`]; `None`
/// once the watcher is gone.
async fn next_batch(events: &mut Events) -> Option<BTreeSet<PathBuf>> {
    let mut paths = BTreeSet::new();
    add(&mut paths, events.recv().await?);
    while let Ok(event) = tokio::time::timeout(DEBOUNCE, events.recv()).await {
        add(&mut paths, event?);
    }
    Some(paths)
}

fn add(paths: &mut BTreeSet<PathBuf>, event: notify::Result<notify::Event>) {
    match event {
        // N.B. reading a plugin raises access events of its own: reacting to them reloaded the
        // file, which raised them again, forever.
        Ok(event) if !changes_content(&event.kind) => {}
        Ok(event) => paths.extend(event.paths.into_iter().filter(|path| is_wasm(path))),
        Err(error) => warn!(%error, "plugin directory watch error"),
    }
}

/// Whether an event can mean a file's bytes or presence changed (not a mere open or read).
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::EventKind::{Access, Any, Create, Modify, Other, Remove};
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    match kind {
        Access(AccessKind::Close(AccessMode::Write)) => true,
        Access(_) | Other => false,
        Modify(ModifyKind::Metadata(_)) => false,
        Create(_) | Modify(_) | Remove(_) | Any => true,
    }
}

fn is_wasm(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "wasm")
}

#[cfg(test)]
mod event_tests {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, CreateKind, MetadataKind, ModifyKind};

    use super::changes_content;

    /// Regression: the watcher reloaded a plugin on the access events of its own read.
    #[test]
    fn reading_a_plugin_is_not_a_change_but_writing_one_is() {
        assert!(!changes_content(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!changes_content(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::Any
        ))));
        assert!(changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(changes_content(&EventKind::Create(CreateKind::File)));
    }
}
