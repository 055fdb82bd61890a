//! The `log` import: a plugin's log lines in the daemon's log.
//!
//! Each line carries the plugin and provider instance as fields, has the values of secret
//! settings redacted, and is cut at [`MAX_MESSAGE_CHARS`] so a plugin cannot flood the log with
//! one call.

use tracing::{debug, error, info, trace, warn};

use super::bindings::certkeeper::plugin::log::{Host, Level};
use super::call::CallState;

/// The longest message a plugin may log in one line, in characters.
const MAX_MESSAGE_CHARS: usize = 2000;

impl Host for CallState {
    fn log(&mut self, level: Level, message: String) {
        let message = clip(self.provider.redact(&message));

        let (plugin, provider) = (self.plugin.as_str(), self.provider.name());
        match level {
            Level::Trace => trace!(%plugin, %provider, "{message}"),
            Level::Debug => debug!(%plugin, %provider, "{message}"),
            Level::Info => info!(%plugin, %provider, "{message}"),
            Level::Warn => warn!(%plugin, %provider, "{message}"),
            Level::Error => error!(%plugin, %provider, "{message}"),
        }
    }
}

/// `message` cut at [`MAX_MESSAGE_CHARS`], marked when cut: what a plugin says, in a log line or
/// an error, stays readable however much it sends.
pub(super) fn clip(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push_str(" [truncated]");
    }
    message
}
