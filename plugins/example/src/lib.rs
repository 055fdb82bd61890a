//! A complete DNS provider for a small JSON API that keeps each name's TXT values as one list:
//! `GET /v1/zones` lists zone names; `GET`, `PUT` and `DELETE /v1/zones/{zone}/txt/{name}` read,
//! replace and remove a name's values. Settings: `api_url` and `api_key` (sent as `X-Api-Key`).

use certkeeper_plugin_sdk::http::{Client, Response};
use certkeeper_plugin_sdk::{DnsProvider, ProviderError, config, dns, export_dns_provider};
use serde::{Deserialize, Serialize};

struct Example;

export_dns_provider!(Example);

/// A name's TXT values, as the API takes and returns them.
#[derive(Default, Deserialize, Serialize)]
struct TxtSet {
    ttl: u32,
    values: Vec<String>,
}

impl DnsProvider for Example {
    const NAME: &'static str = "example";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn present(fqdn: &str, value: &str, ttl: u32) -> Result<(), ProviderError> {
        let (client, path) = record_path(fqdn)?;
        let mut set = read(&client, &path)?;
        if !set.values.iter().any(|v| v == value) {
            set.values.push(value.to_owned());
        }
        set.ttl = ttl;
        client.put(&path, &set)?.error_for_status().map(drop)
    }

    fn cleanup(fqdn: &str, value: &str) -> Result<(), ProviderError> {
        let (client, path) = record_path(fqdn)?;
        let mut set = read(&client, &path)?;
        let before = set.values.len();
        set.values.retain(|v| v != value);
        match (set.values.len() == before, set.values.is_empty()) {
            (true, _) => Ok(()),
            (false, true) => client.delete(&path)?.error_for_status().map(drop),
            (false, false) => client.put(&path, &set)?.error_for_status().map(drop),
        }
    }

    fn find_zone(fqdn: &str) -> Result<String, ProviderError> {
        let zones: Vec<String> = client()?.get("/v1/zones")?.error_for_status()?.json()?;
        let zone = dns::longest_zone(fqdn, zones.iter().map(String::as_str));
        let zone =
            zone.ok_or_else(|| ProviderError::zone_not_found(format!("no zone holds {fqdn}")));
        Ok(dns::fqdn(zone?))
    }

    fn test_connection() -> Result<(), ProviderError> {
        client()?.get("/v1/zones")?.error_for_status().map(drop)
    }
}

/// A client for the configured API; a missing setting is a `bad-config` error naming it.
fn client() -> Result<Client, ProviderError> {
    let client = Client::new(&config::require("api_url")?);
    Ok(client.with_header("x-api-key", &config::require("api_key")?))
}

/// The client and the path of the TXT values at `fqdn`, in the zone that holds it.
fn record_path(fqdn: &str) -> Result<(Client, String), ProviderError> {
    let zone = Example::find_zone(fqdn)?;
    Ok((
        client()?,
        format!("/v1/zones/{zone}/txt/{}", dns::fqdn(fqdn)),
    ))
}

/// The values at `path`; none when the API answers 404.
fn read(client: &Client, path: &str) -> Result<TxtSet, ProviderError> {
    let response: Response = client.get(path)?;
    match response.status {
        404 => Ok(TxtSet::default()),
        _ => response.error_for_status()?.json(),
    }
}
