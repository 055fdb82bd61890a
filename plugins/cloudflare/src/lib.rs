//! certkeeper DNS provider plugin for the Cloudflare API (v4), with an API token.
//!
//! Settings: `api_token` (a token with Zone:Read and DNS:Edit on the zones), and `api_base`
//! (default `https://api.cloudflare.com`). `allowed_hosts` must hold `api.cloudflare.com`.
//!
//! Cloudflare keeps one record per TXT value, so `present` creates a record holding its value
//! (unless one already does) and `cleanup` deletes the records whose content is exactly its value;
//! other values at the name are other records and stay.

use certkeeper_plugin_sdk::http::{Client, Response};
use certkeeper_plugin_sdk::{DnsProvider, ProviderError, config, dns, export_dns_provider, txt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

struct Cloudflare;

export_dns_provider!(Cloudflare);

impl DnsProvider for Cloudflare {
    const NAME: &'static str = "cloudflare";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn present(fqdn: &str, value: &str, ttl: u32) -> Result<(), ProviderError> {
        let api = Api::from_config()?;
        let zone = api.zone_for(fqdn)?;
        if api.records(&zone, fqdn)?.iter().any(|r| r.holds(value)) {
            return Ok(());
        }
        // Cloudflare takes 60..=86400 seconds (or 1 for "automatic").
        let record = json!({
            "type": "TXT", "name": dns::without_dot(fqdn), "content": value,
            "ttl": ttl.clamp(60, 86_400),
        });
        let path = format!("/client/v4/zones/{}/dns_records", zone.id);
        api.result::<Record>(api.client.post(&path, &record)?)
            .map(drop)
    }

    fn cleanup(fqdn: &str, value: &str) -> Result<(), ProviderError> {
        let api = Api::from_config()?;
        let zone = api.zone_for(fqdn)?;
        for record in api.records(&zone, fqdn)?.iter().filter(|r| r.holds(value)) {
            let path = format!("/client/v4/zones/{}/dns_records/{}", zone.id, record.id);
            let response = api.client.delete(&path)?;
            if response.status != 404 {
                api.result::<serde_json::Value>(response)?;
            }
        }
        Ok(())
    }

    fn find_zone(fqdn: &str) -> Result<String, ProviderError> {
        Ok(dns::fqdn(&Api::from_config()?.zone_for(fqdn)?.name))
    }

    fn test_connection() -> Result<(), ProviderError> {
        let api = Api::from_config()?;
        let response = api.client.get("/client/v4/user/tokens/verify")?;
        api.result::<serde_json::Value>(response).map(drop)
    }
}

struct Api {
    client: Client,
}

#[derive(Deserialize)]
struct Zone {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Record {
    id: String,
    content: String,
}

impl Record {
    fn holds(&self, value: &str) -> bool {
        txt::unquote(&self.content) == value
    }
}

/// Cloudflare's envelope: `success`, `errors` and the `result`.
#[derive(Deserialize)]
struct Envelope<T> {
    success: bool,
    #[serde(default)]
    errors: Vec<ApiError>,
    result: Option<T>,
}

#[derive(Deserialize)]
struct ApiError {
    code: u32,
    message: String,
}

impl Api {
    fn from_config() -> Result<Self, ProviderError> {
        let token = config::require("api_token")?;
        let base = config::get_or("api_base", "https://api.cloudflare.com");
        if !base.starts_with("https://") && !base.starts_with("http://") {
            return Err(ProviderError::bad_config(
                "setting `api_base` must be an http(s) URL",
            ));
        }
        let client = Client::new(&base).with_header("authorization", &format!("Bearer {token}"));
        Ok(Self { client })
    }

    /// The zone of the account named by the longest ancestor of `fqdn`.
    fn zone_for(&self, fqdn: &str) -> Result<Zone, ProviderError> {
        for candidate in dns::candidate_zones(fqdn) {
            let path = format!("/client/v4/zones?name={}", dns::without_dot(&candidate));
            let zones: Vec<Zone> = self.result(self.client.get(&path)?)?;
            if let Some(zone) = zones.into_iter().find(|z| dns::fqdn(&z.name) == candidate) {
                return Ok(zone);
            }
        }
        Err(ProviderError::zone_not_found(format!(
            "no zone of the account contains {fqdn}"
        )))
    }

    fn records(&self, zone: &Zone, fqdn: &str) -> Result<Vec<Record>, ProviderError> {
        let name = dns::without_dot(fqdn);
        let path = format!(
            "/client/v4/zones/{}/dns_records?type=TXT&name={name}",
            zone.id
        );
        self.result(self.client.get(&path)?)
    }

    /// The `result` of a successful answer; Cloudflare's error codes for a bad token (6003,
    /// 6111, 9109, 10000) are `auth-failed` whatever the status.
    fn result<T: DeserializeOwned>(&self, response: Response) -> Result<T, ProviderError> {
        let envelope = response.json::<Envelope<T>>();
        if let Ok(Envelope { errors, .. }) = &envelope {
            let auth = errors
                .iter()
                .find(|e| matches!(e.code, 6003 | 6111 | 9109 | 10000));
            if let Some(error) = auth {
                let message = format!("Cloudflare error {}: {}", error.code, error.message);
                return Err(ProviderError::auth_failed(message));
            }
        }
        response.error_for_status()?;
        match envelope? {
            Envelope {
                success: true,
                result: Some(result),
                ..
            } => Ok(result),
            Envelope { errors, .. } => {
                let errors: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{} {}", e.code, e.message))
                    .collect();
                let message = format!("Cloudflare refused the request: {}", errors.join("; "));
                Err(ProviderError::other(message))
            }
        }
    }
}
