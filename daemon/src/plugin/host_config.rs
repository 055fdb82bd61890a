//! The `config` import: the provider instance's settings, read by key.

use super::bindings::certkeeper::plugin::config::Host;
use super::call::CallState;

impl Host for CallState {
    fn get(&mut self, key: String) -> Option<String> {
        self.provider.config.settings.get(&key).cloned()
    }
}
