//! Swapping plugins while the daemon runs.
//!
//! A changed file is read and compiled off to the side; only a component that passes every check
//! of a start-up load replaces the loaded one, in one swap of an `Arc` under the map's lock. Calls
//! already running hold the old `Arc` and finish on the old code; calls that start after the swap
//! get the new one. A file that fails a check changes nothing. A plugin that configured providers
//! use is never unloaded: a daemon that could stop solving challenges because a file went away
//! would fail long after the mistake, so the loaded code keeps serving until the next start.

use std::path::Path;
use std::sync::Arc;

use tracing::{debug, info, warn};

use super::component::{self, LoadedPlugin, PluginInfo};
use super::{PluginError, PluginHost};

/// What one change to a plugin file did.
#[derive(Clone, Debug)]
pub enum FileChange {
    /// The file's plugin is now loaded, new or in place of an older version.
    Loaded {
        /// The plugin now loaded.
        info: PluginInfo,
        /// The version it replaced, if a plugin of that name was loaded.
        previous: Option<String>,
    },
    /// The file is the one already loaded; nothing was done.
    Unchanged,
    /// The file is gone and no provider used its plugin, which is unloaded.
    Unloaded(String),
    /// The file is gone (or holds another plugin now) but providers use its plugin, so the
    /// loaded version keeps serving.
    KeptInUse {
        /// The plugin.
        plugin: String,
        /// The provider instances that use it.
        providers: Vec<String>,
    },
    /// The file is gone and nothing was loaded from it.
    NotLoaded,
}

impl PluginHost {
    /// Loads the plugin file at `path`, replacing a loaded plugin of the same name. Calls in
    /// flight finish on the plugin they started with. On error nothing changes.
    ///
    /// Refuses a file whose plugin name another file in the directory already provides.
    pub fn load_file(&self, path: &Path) -> Result<FileChange, PluginError> {
        let file = component::read(path)?;
        let previous_here = self.loaded_from(path);
        if previous_here
            .as_ref()
            .is_some_and(|p| p.info.sha256 == file.1)
        {
            return Ok(FileChange::Unchanged);
        }
        let plugin = self.compile(path, &file)?;
        let info = plugin.info.clone();

        let replaced = self.swap_in(plugin)?;
        let previous = replaced.map(|old| old.info.version.clone());
        if let Some(old) = previous_here.filter(|old| old.info.name != info.name) {
            self.retire(&old.info.name);
        }
        Ok(FileChange::Loaded { info, previous })
    }

    /// Forgets the plugin loaded from `path`, which is gone, unless providers use it.
    pub fn unload_file(&self, path: &Path) -> FileChange {
        match self.loaded_from(path) {
            Some(plugin) => self.retire(&plugin.info.name),
            None => FileChange::NotLoaded,
        }
    }

    /// Brings the host in line with the file at `path` as it is now, and logs what that did.
    pub(super) fn apply(&self, path: &Path) {
        let file = path.display();
        if !path.exists() {
            match self.unload_file(path) {
                FileChange::Unloaded(plugin) => {
                    info!(%plugin, %file, "plugin file removed; unloaded")
                }
                FileChange::KeptInUse { plugin, providers } => warn!(
                    %plugin, %file, providers = %providers.join(", "),
                    "plugin file removed while DNS providers use it; \
                     the loaded version keeps serving until the daemon restarts"
                ),
                _ => debug!(%file, "plugin file removed; nothing was loaded from it"),
            }
            return;
        }

        let before = self.loaded_from(path).map(|p| p.info.version.clone());
        match self.load_file(path) {
            Ok(FileChange::Loaded { info, previous }) => {
                let (plugin, version) = (&info.name, &info.version);
                let previous = previous.as_deref().unwrap_or("none");
                info!(%plugin, %version, %previous, %file, "plugin reloaded");
            }
            Ok(_) => debug!(%file, "plugin file unchanged"),
            Err(error) => match before {
                Some(version) => warn!(%error, %file, previous = %version,
                    "plugin file refused; the previous version keeps serving"),
                None => warn!(%error, %file, "plugin file refused; nothing loaded from it"),
            },
        }
    }

    /// Puts `plugin` in place of the one of its name, unless another file that still exists
    /// provides that name; the check and the swap happen under one lock.
    fn swap_in(&self, plugin: LoadedPlugin) -> Result<Option<Arc<LoadedPlugin>>, PluginError> {
        let mut plugins = self.write_plugins();
        if let Some(other) = plugins.get(&plugin.info.name) {
            // A plugin moved to a new file name: the old file is gone, so the name is free.
            if other.info.file != plugin.info.file && other.info.file.exists() {
                return Err(PluginError::DuplicatePlugin {
                    name: plugin.info.name.clone(),
                    first: other.info.file.clone(),
                    second: plugin.info.file.clone(),
                });
            }
        }
        let replaced = plugins.insert(plugin.info.name.clone(), Arc::new(plugin));
        drop(plugins);
        // A new or changed `ca-vendor` plugin's profiles answer from now on.
        crate::acme::vendor_registry::register(&self.vendor_profiles());
        Ok(replaced)
    }

    /// Unloads plugin `name` unless a provider uses it.
    fn retire(&self, name: &str) -> FileChange {
        let providers: Vec<String> = self
            .providers
            .values()
            .filter(|provider| provider.config.plugin == name)
            .map(|provider| provider.name().to_owned())
            .collect();
        if !providers.is_empty() {
            let plugin = name.to_owned();
            return FileChange::KeptInUse { plugin, providers };
        }
        self.write_plugins().remove(name);
        FileChange::Unloaded(name.to_owned())
    }

    /// The plugin loaded from `path`, if any.
    fn loaded_from(&self, path: &Path) -> Option<Arc<LoadedPlugin>> {
        self.read_plugins()
            .values()
            .find(|plugin| plugin.info.file == path)
            .cloned()
    }
}
