//! Checks that need the loaded plugins: a certificate's `dns` must name a `[[dns_provider]]`
//! whose plugin is a `dns-provider`, since a `ca-vendor` plugin (e.g. `vendor-zerossl`, which an
//! operator configures as a provider instance for its `api_url`) cannot answer DNS-01
//! challenges, and every order would otherwise fail at the CA.

use std::path::Path;

use super::error::Misplaced;
use super::{CertificateConfig, Config, ConfigError};
use crate::acme::DnsMethod;
use crate::plugin::PluginInfo;

/// The plugin kind that answers DNS-01 challenges.
const DNS_PROVIDER: &str = "dns-provider";

impl Config {
    /// Refuses a certificate whose `dns` names a provider whose plugin is not a loaded
    /// `dns-provider` (`plugins` as [`crate::plugin::PluginHost::plugins`] lists them); `path` is
    /// re-read to locate the error.
    pub fn check_dns_plugins(
        &self,
        path: &Path,
        plugins: &[PluginInfo],
    ) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.check_dns_plugins_in(path, &text, plugins)
    }

    /// As [`Self::check_dns_plugins`], locating errors in `text`.
    pub fn check_dns_plugins_in(
        &self,
        path: &Path,
        text: &str,
        plugins: &[PluginInfo],
    ) -> Result<(), ConfigError> {
        self.certificates
            .iter()
            .try_for_each(|cert| self.check_cert(cert, plugins))
            .map_err(|e| e.locate(path, text))
    }

    fn check_cert(
        &self,
        cert: &CertificateConfig,
        plugins: &[PluginInfo],
    ) -> Result<(), Misplaced> {
        let Some(dns) = &cert.dns else { return Ok(()) };
        let DnsMethod::Provider(name) = DnsMethod::parse(dns.get_ref()) else {
            return Ok(());
        };
        let Some(provider) = self.dns_providers.iter().find(|p| p.name == name) else {
            return Ok(()); // N.B. parsing already refused a name no provider has.
        };
        let kind = plugins
            .iter()
            .find(|p| p.name == provider.plugin)
            .map(|p| p.kind.as_str());
        match kind {
            Some(DNS_PROVIDER) => Ok(()),
            Some(kind) => Err(Misplaced::new(
                dns.span(),
                format!(
                    "certificate \"{}\": dns = \"{name}\" names [[dns_provider]] \"{name}\", whose \
                     plugin {} is a {kind} plugin, not a {DNS_PROVIDER}: it cannot answer DNS-01 \
                     challenges",
                    cert.name.get_ref(),
                    provider.plugin
                ),
            )),
            None => Err(Misplaced::new(
                dns.span(),
                format!(
                    "certificate \"{}\": dns = \"{name}\" names [[dns_provider]] \"{name}\", whose \
                     plugin {} is not loaded",
                    cert.name.get_ref(),
                    provider.plugin
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[[ca]]
name = "pebble"
directory = "https://127.0.0.1:14000/dir"

[[account]]
name = "main"
ca = "pebble"
email = "ops@example.test"
agree_tos = true

[[dns_provider]]
name = "x"
plugin = "vendor-zerossl"

[[dns_provider]]
name = "pdns"
plugin = "powerdns"

[[certificate]]
name = "a"
names = ["a.example.test"]
account = "main"
challenge = "dns-01"
dns = "DNS"
"#;

    fn plugin(name: &str, kind: &str) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            kind: kind.into(),
            version: "1".into(),
            contract_version: "1".into(),
            file: format!("{name}.wasm").into(),
            sha256: String::new(),
            loaded_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn check(dns: &str) -> Result<(), ConfigError> {
        let text = CONFIG.replace("\"DNS\"", &format!("\"{dns}\""));
        let config = Config::parse(Path::new("ck.toml"), &text).unwrap();
        let plugins = [
            plugin("vendor-zerossl", "ca-vendor"),
            plugin("powerdns", "dns-provider"),
        ];
        config.check_dns_plugins_in(Path::new("ck.toml"), &text, &plugins)
    }

    #[test]
    fn a_certificate_using_a_ca_vendor_plugin_for_dns_is_refused_naming_line_and_plugin() {
        let err = check("x").unwrap_err().to_string();
        assert!(
            err.starts_with("ck.toml:25:")
                && err.contains("certificate \"a\"")
                && err.contains("vendor-zerossl is a ca-vendor plugin"),
            "{err}"
        );
    }

    #[test]
    fn a_certificate_using_a_dns_provider_plugin_or_builtin_dns_passes() {
        check("pdns").unwrap();
        check("manual").unwrap();
    }
}
