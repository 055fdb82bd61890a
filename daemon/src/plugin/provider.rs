//! DNS provider instances: a plugin plus the operator's settings and the hosts it may reach.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::PluginError;
use super::redact::{REDACTED, redact_secret};

/// The settings whose values are redacted in logs when a provider instance names none.
pub const DEFAULT_SECRET_SETTINGS: &[&str] = &[
    "api_key",
    "api_token",
    "token",
    "secret",
    "secret_key",
    "client_secret",
    "access_key",
    "password",
    "hmac_key",
    "secret_access_key",
    "session_token",
    "client_token",
    "access_token",
];

/// One DNS provider instance, as the operator configures it.
///
/// ```toml
/// [[dns_provider]]
/// name = "pdns-lab"
/// plugin = "powerdns"
/// allowed_hosts = ["127.0.0.1:8081"]
/// settings = { server_url = "http://127.0.0.1:8081", api_key = "…" }
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The instance's name, used by certificates to pick it.
    pub name: String,
    /// The plugin to run, by the name in its metadata (e.g. `powerdns`).
    pub plugin: String,
    /// The hosts the plugin may send HTTP requests to: `host:port`, or `host` for the URL
    /// scheme's default port only (80 for http, 443 for https). IPv6 as `[::1]:8081`.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The plugin's settings; the plugin reads them through the `config` import.
    #[serde(default, deserialize_with = "string_settings")]
    pub settings: BTreeMap<String, String>,
    /// The settings whose values never appear in logs or errors. Defaults to
    /// [`DEFAULT_SECRET_SETTINGS`]; a list given here replaces it.
    #[serde(default = "default_secret_settings")]
    pub secret_settings: Vec<String>,
    /// Wall-clock seconds one call may take, HTTP requests included (1–3600). Defaults to 30.
    #[serde(default)]
    pub call_timeout_secs: Option<u64>,
    /// Linear memory one call's instance may grow to, in MiB (1–4096). Defaults to 64.
    #[serde(default)]
    pub memory_limit_mib: Option<u64>,
}

/// `settings` as strings. A value of another type is refused without the value in the error:
/// serde's own message quotes it (`invalid type: integer `12345``), and a setting may be a
/// secret typed without quotes.
fn string_settings<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let settings: BTreeMap<String, StringSetting> = BTreeMap::deserialize(deserializer)?;
    Ok(settings.into_iter().map(|(k, v)| (k, v.0)).collect())
}

struct StringSetting(String);

impl<'de> Deserialize<'de> for StringSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StringOnly).map(StringSetting)
    }
}

struct StringOnly;

impl StringOnly {
    fn refuse<E: serde::de::Error>(what: &str) -> Result<String, E> {
        Err(E::custom(format!(
            "a provider setting must be a string, not {what}: put the value in quotes"
        )))
    }
}

impl<'de> serde::de::Visitor<'de> for StringOnly {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<String, E> {
        Self::refuse("a boolean")
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<String, E> {
        Self::refuse("an integer")
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<String, E> {
        Self::refuse("an integer")
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<String, E> {
        Self::refuse("a number")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Self::refuse("an array")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Self::refuse("a table or date")
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings: BTreeMap<&str, &str> = self
            .settings
            .iter()
            .map(|(key, value)| {
                let shown = if self.secret_settings.contains(key) {
                    REDACTED
                } else {
                    value
                };
                (key.as_str(), shown)
            })
            .collect();
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("plugin", &self.plugin)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("settings", &settings)
            .field("secret_settings", &self.secret_settings)
            .field("call_timeout_secs", &self.call_timeout_secs)
            .field("memory_limit_mib", &self.memory_limit_mib)
            .finish()
    }
}

fn default_secret_settings() -> Vec<String> {
    DEFAULT_SECRET_SETTINGS
        .iter()
        .map(|key| (*key).to_owned())
        .collect()
}

/// A provider instance checked and ready for calls.
#[derive(Debug)]
pub(super) struct Provider {
    pub(super) config: ProviderConfig,
    allowed: Vec<AllowedHost>,
    /// Held across `present` and `cleanup`: plugins for record-set APIs read, merge and write
    /// back, and two such calls for one name at once (wildcard and apex) would lose a value.
    pub(super) writes: Arc<tokio::sync::Mutex<()>>,
    /// Secrets of one call (e.g. a vendor API key passed to `fetch_eab`), redacted like the
    /// secret settings.
    call_secrets: Vec<String>,
}

/// One parsed `allowed_hosts` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AllowedHost {
    /// Lowercase, IPv6 without brackets.
    host: String,
    /// `None`: the scheme's default port only.
    port: Option<u16>,
}

impl Provider {
    pub(super) fn new(config: ProviderConfig) -> Result<Self, PluginError> {
        let allowed = config
            .allowed_hosts
            .iter()
            .map(|entry| {
                parse_allowed(entry).ok_or_else(|| PluginError::BadAllowedHost {
                    provider: config.name.clone(),
                    entry: entry.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        check_limit(&config, "call_timeout_secs", config.call_timeout_secs, 3600)?;
        check_limit(&config, "memory_limit_mib", config.memory_limit_mib, 4096)?;
        Ok(Self {
            config,
            allowed,
            writes: Arc::default(),
            call_secrets: Vec::new(),
        })
    }

    /// The instance used while loading a plugin: no settings, no hosts.
    pub(super) fn loading() -> Self {
        let config = ProviderConfig {
            name: String::new(),
            plugin: String::new(),
            allowed_hosts: Vec::new(),
            settings: BTreeMap::new(),
            secret_settings: Vec::new(),
            call_timeout_secs: None,
            memory_limit_mib: None,
        };
        Self {
            config,
            allowed: Vec::new(),
            writes: Arc::default(),
            call_secrets: Vec::new(),
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether a request to `host` (IPv6 without brackets) on `port` is allowed; `default_port`
    /// is the URL scheme's.
    pub(super) fn allows(&self, host: &str, port: u16, default_port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.allowed
            .iter()
            .any(|entry| entry.host == host && entry.port.unwrap_or(default_port) == port)
    }

    /// This instance for one call that also carries `secret`, which is then redacted too.
    pub(super) fn with_call_secret(&self, secret: &str) -> Self {
        let mut call_secrets = self.call_secrets.clone();
        call_secrets.push(secret.to_owned());
        Self {
            config: self.config.clone(),
            allowed: self.allowed.clone(),
            writes: self.writes.clone(),
            call_secrets,
        }
    }

    /// `text` with every secret setting's value and every call secret (as is or
    /// percent-encoded) replaced by `[redacted]`.
    pub(super) fn redact(&self, text: &str) -> String {
        let settings = self.config.secret_settings.iter();
        let values = settings.filter_map(|key| self.config.settings.get(key));
        values
            .chain(&self.call_secrets)
            .fold(text.to_owned(), |text, secret| redact_secret(&text, secret))
    }
}

/// Refuses a limit outside `1..=max`, naming the provider and the key.
fn check_limit(
    config: &ProviderConfig,
    key: &'static str,
    value: Option<u64>,
    max: u64,
) -> Result<(), PluginError> {
    match value {
        Some(value) if !(1..=max).contains(&value) => Err(PluginError::BadLimit {
            provider: config.name.clone(),
            key,
            value,
            max,
        }),
        _ => Ok(()),
    }
}

/// Parses `host`, `host:port`, `[v6]` or `[v6]:port`; `None` when it is something else (a URL, a
/// path, a bad port).
/// Whether `entry` is an `allowed_hosts` entry the host understands.
pub(super) fn valid_allowed(entry: &str) -> bool {
    parse_allowed(entry).is_some()
}

fn parse_allowed(entry: &str) -> Option<AllowedHost> {
    let entry = entry.trim().to_ascii_lowercase();
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match entry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry.as_str(), None),
        }
    };

    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    if host.is_empty() || !host.chars().all(valid) {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse().ok().filter(|port| *port != 0)?),
        None => None,
    };
    Some(AllowedHost {
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(allowed: &[&str]) -> Provider {
        let mut config = Provider::loading().config;
        config.name = "test".into();
        config.allowed_hosts = allowed.iter().map(|entry| (*entry).to_owned()).collect();
        config
            .settings
            .insert("api_key".into(), "s3cret-key".into());
        config.secret_settings = default_secret_settings();
        Provider::new(config).unwrap()
    }

    #[test]
    fn a_call_secret_is_redacted_as_is_and_url_encoded_along_with_secret_settings() {
        let mut base = provider(&[]);
        base.config
            .settings
            .insert("api_key".into(), "s3tting".into());
        let call = base.with_call_secret("k+y/1");
        let text = "s3tting k+y/1 ?access_key=k%2By%2F1";
        assert_eq!(
            call.redact(text),
            "[redacted] [redacted] ?access_key=[redacted]"
        );
        assert_eq!(base.redact(text), "[redacted] k+y/1 ?access_key=k%2By%2F1");
    }

    #[test]
    fn host_with_port_allows_only_that_port() {
        let provider = provider(&["127.0.0.1:8081"]);
        assert!(provider.allows("127.0.0.1", 8081, 80));
        assert!(!provider.allows("127.0.0.1", 8082, 80));
        assert!(!provider.allows("127.0.0.2", 8081, 80));
    }

    #[test]
    fn host_without_port_allows_only_the_default_port() {
        let provider = provider(&["PDNS.example.test", "[::1]:8081"]);
        assert!(provider.allows("pdns.example.test", 443, 443));
        assert!(!provider.allows("pdns.example.test", 8081, 443));
        assert!(provider.allows("::1", 8081, 80));
    }

    #[test]
    fn urls_and_bad_ports_are_refused_as_allowed_hosts() {
        for entry in [
            "http://127.0.0.1:8081",
            "127.0.0.1:http",
            "host/path",
            "",
            "[::1",
        ] {
            let mut config = Provider::loading().config;
            config.allowed_hosts = vec![entry.into()];
            let error = Provider::new(config).unwrap_err();
            assert!(
                matches!(error, PluginError::BadAllowedHost { .. }),
                "{entry:?}: {error}"
            );
        }
    }

    #[test]
    fn secret_values_are_redacted_in_text_and_debug_output() {
        let provider = provider(&[]);
        let redacted = provider.redact("request with key s3cret-key failed");
        assert_eq!(redacted, "request with key [redacted] failed");
        assert!(!format!("{:?}", provider.config).contains("s3cret-key"));
    }

    #[test]
    fn limits_of_zero_or_past_the_maximum_are_refused_naming_the_key() {
        for (key, value) in [("call_timeout_secs", 0), ("memory_limit_mib", 4097)] {
            let config = serde_json::json!({ "name": "slow", "plugin": "p", key: value });
            let config: ProviderConfig = serde_json::from_value(config).unwrap();

            let error = Provider::new(config).unwrap_err().to_string();

            assert!(error.contains("slow") && error.contains(key), "{error}");
        }
    }

    #[test]
    fn provider_config_refuses_unknown_fields() {
        let error = serde_json::from_str::<ProviderConfig>(
            r#"{"name":"a","plugin":"powerdns","allowed_host":["x"]}"#,
        )
        .expect_err("allowed_host is a typo");
        assert!(error.to_string().contains("allowed_host"), "{error}");
    }
}
