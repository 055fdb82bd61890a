//! Checks of what a plugin answers, beyond what the WIT types already guarantee.
//!
//! The types say a zone is a string; the contract says it is a DNS name that holds the name asked
//! about. An answer that breaks the contract is the host's fault to report (the plugin did not
//! choose to fail), so it comes back as [`HostFault::InvalidAnswer`] and is logged.

use tracing::warn;

use super::{HostFault, Operation, PluginCallError, PluginHost};

impl PluginHost {
    /// The error for a zone answer that breaks the contract, logged as a warning; the zone is
    /// quoted escaped and cut, as a plugin chose it.
    pub(super) fn invalid_answer(
        &self,
        provider: &str,
        operation: Operation,
        zone: &str,
        fqdn: &str,
    ) -> PluginCallError {
        let mut quoted = format!("{zone:?}");
        if let Some((cut, _)) = quoted.char_indices().nth(200) {
            quoted.truncate(cut);
            quoted.push_str("...");
        }
        let why = format!("zone {quoted} is not a valid name that holds {fqdn}");
        let plugin = self
            .providers
            .get(provider)
            .map(|p| p.config.plugin.clone());
        let plugin = plugin.unwrap_or_default();
        warn!(%provider, %plugin, %operation, reason = %why, "plugin answer refused");
        PluginCallError::Host {
            provider: provider.to_owned(),
            plugin,
            operation,
            fault: HostFault::InvalidAnswer(why),
        }
    }
}

/// Whether `zone` is a valid DNS name (not the root) that holds `fqdn`; both canonical.
pub(super) fn zone_holds(zone: &str, fqdn: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let name = zone.trim_end_matches('.');
    let valid = zone.len() <= 254 && !name.is_empty() && name.split('.').all(label_ok);
    valid && (fqdn == zone || fqdn.ends_with(&format!(".{zone}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_holds_itself_and_names_below_it_only() {
        assert!(zone_holds("example.test.", "example.test."));
        assert!(zone_holds(
            "example.test.",
            "_acme-challenge.www.example.test."
        ));
        assert!(!zone_holds(
            "example.test.",
            "_acme-challenge.badexample.test."
        ));
        assert!(!zone_holds("other.test.", "_acme-challenge.example.test."));
    }

    #[test]
    fn the_root_empty_labels_and_odd_bytes_are_not_zones() {
        for zone in [
            ".",
            "",
            "a..test.",
            "\0zone.test.",
            "zone test.",
            &"a".repeat(64),
        ] {
            assert!(!zone_holds(zone, "x.a.test."), "{zone:?}");
        }
    }
}
