//! certkeeper DNS provider plugin for the PowerDNS Authoritative HTTP API.
//!
//! Settings: `server_url` (e.g. `http://127.0.0.1:8081`), `api_key`, and `server_id` (default
//! `localhost`). The instance's `allowed_hosts` must contain the host and port of `server_url`.
//!
//! PowerDNS writes whole record sets: a PATCH with `changetype: REPLACE` sets every value at a
//! name. So `present` reads the TXT set, adds its value and writes all of them back, and
//! `cleanup` writes back all but its value, deleting the set when none is left. Names in request
//! bodies carry the trailing dot and TXT content is quoted, as the API demands.

use certkeeper_plugin_sdk::http::{Client, Response};
use certkeeper_plugin_sdk::{
    DnsProvider, ProviderError, config, dns, export_dns_provider, log, txt,
};
use serde::Deserialize;
use serde_json::json;

struct PowerDns;

export_dns_provider!(PowerDns);

impl DnsProvider for PowerDns {
    const NAME: &'static str = "powerdns";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn present(fqdn: &str, value: &str, ttl: u32) -> Result<(), ProviderError> {
        let (api, fqdn) = (Api::from_config()?, dns::fqdn(fqdn));
        let zone = api.zone_for(&fqdn)?;

        let mut records = api.txt_records(&zone, &fqdn)?.records;
        if records
            .iter()
            .any(|record| txt::unquote(&record.content) == value)
        {
            log::debug(&format!("TXT value already present at {fqdn}"));
        } else {
            records.push(Record {
                content: txt::quote(value),
                disabled: false,
            });
        }
        api.replace(&zone, &fqdn, ttl, &records)
    }

    fn cleanup(fqdn: &str, value: &str) -> Result<(), ProviderError> {
        let (api, fqdn) = (Api::from_config()?, dns::fqdn(fqdn));
        let zone = api.zone_for(&fqdn)?;

        let RrSet { ttl, mut records } = api.txt_records(&zone, &fqdn)?;
        let before = records.len();
        records.retain(|record| txt::unquote(&record.content) != value);
        if records.len() == before {
            log::debug(&format!("TXT value already absent at {fqdn}"));
            return Ok(());
        }

        if records.is_empty() {
            let rrset = json!({ "name": fqdn, "type": "TXT", "changetype": "DELETE" });
            api.patch(&zone, rrset)
        } else {
            api.replace(&zone, &fqdn, ttl, &records)
        }
    }

    fn find_zone(fqdn: &str) -> Result<String, ProviderError> {
        Ok(Api::from_config()?.zone_for(&dns::fqdn(fqdn))?.name)
    }

    fn test_connection() -> Result<(), ProviderError> {
        let api = Api::from_config()?;
        let response = api.client.get(&api.server)?;
        if response.status == 404 {
            return Err(api.unknown_server());
        }
        response.error_for_status().map(drop)
    }
}

/// One PowerDNS server's API, as configured for this provider instance.
struct Api {
    client: Client,
    /// `/api/v1/servers/{server_id}`.
    server: String,
    server_id: String,
}

/// A zone as the zone list shows it; `id` is the name escaped for URLs.
#[derive(Deserialize)]
struct Zone {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct ZoneDetail {
    #[serde(default)]
    rrsets: Vec<ZoneRrSet>,
}

#[derive(Deserialize)]
struct ZoneRrSet {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    ttl: u32,
    records: Vec<Record>,
}

#[derive(Clone, Deserialize, serde::Serialize)]
struct Record {
    content: String,
    #[serde(default)]
    disabled: bool,
}

/// The TXT values at one name, with the set's TTL (60 s when there is no set yet).
struct RrSet {
    ttl: u32,
    records: Vec<Record>,
}

impl Api {
    fn from_config() -> Result<Self, ProviderError> {
        let server_url = config::require("server_url")?;
        if !server_url.starts_with("http://") && !server_url.starts_with("https://") {
            let message = "setting `server_url` must start with http:// or https://";
            return Err(ProviderError::bad_config(message));
        }
        let api_key = config::require("api_key")?;
        let server_id = config::get_or("server_id", "localhost");

        let client = Client::new(&server_url).with_header("x-api-key", &api_key);
        let server = format!("/api/v1/servers/{server_id}");
        Ok(Self {
            client,
            server,
            server_id,
        })
    }

    /// The longest zone of the server that contains `fqdn`.
    fn zone_for(&self, fqdn: &str) -> Result<Zone, ProviderError> {
        let response = self.client.get(&format!("{}/zones", self.server))?;
        if response.status == 404 {
            return Err(self.unknown_server());
        }
        let zones: Vec<Zone> = response.error_for_status()?.json()?;

        let name = dns::longest_zone(fqdn, zones.iter().map(|zone| zone.name.as_str()))
            .ok_or_else(|| ProviderError::zone_not_found(format!("no zone contains {fqdn}")))?
            .to_owned();
        Ok(zones
            .into_iter()
            .find(|zone| zone.name == name)
            .expect("name was taken from zones"))
    }

    fn txt_records(&self, zone: &Zone, fqdn: &str) -> Result<RrSet, ProviderError> {
        let response = self
            .client
            .get(&format!("{}/zones/{}", self.server, zone.id))?;
        let detail: ZoneDetail = zone_errors(response, &zone.name)?.json()?;

        let rrset = detail
            .rrsets
            .into_iter()
            .find(|rrset| rrset.kind == "TXT" && rrset.name.eq_ignore_ascii_case(fqdn));
        Ok(match rrset {
            Some(rrset) => RrSet {
                ttl: rrset.ttl,
                records: rrset.records,
            },
            None => RrSet {
                ttl: 60,
                records: Vec::new(),
            },
        })
    }

    fn replace(
        &self,
        zone: &Zone,
        fqdn: &str,
        ttl: u32,
        records: &[Record],
    ) -> Result<(), ProviderError> {
        let rrset = json!({
            "name": fqdn, "type": "TXT", "ttl": ttl, "changetype": "REPLACE", "records": records,
        });
        self.patch(zone, rrset)
    }

    fn patch(&self, zone: &Zone, rrset: serde_json::Value) -> Result<(), ProviderError> {
        let path = format!("{}/zones/{}", self.server, zone.id);
        let response = self.client.patch(&path, &json!({ "rrsets": [rrset] }))?;
        zone_errors(response, &zone.name).map(drop)
    }

    fn unknown_server(&self) -> ProviderError {
        ProviderError::bad_config(format!("setting `server_id`: no server {}", self.server_id))
    }
}

/// Maps the statuses PowerDNS uses for a missing zone or a name outside it, then the shared ones.
fn zone_errors(response: Response, zone: &str) -> Result<Response, ProviderError> {
    let message = || api_message(&response);
    match response.status {
        404 => Err(ProviderError::zone_not_found(format!(
            "zone {zone}: {}",
            message()
        ))),
        422 if message().contains("out of zone") || message().contains("Could not find") => Err(
            ProviderError::zone_not_found(format!("zone {zone}: {}", message())),
        ),
        422 => Err(ProviderError::other(format!(
            "PowerDNS refused the change: {}",
            message()
        ))),
        _ => response.error_for_status(),
    }
}

/// The `error` field PowerDNS puts in its error bodies, or the start of the body.
fn api_message(response: &Response) -> String {
    #[derive(Deserialize)]
    struct ApiError {
        error: String,
    }
    response
        .json::<ApiError>()
        .map(|body| body.error)
        .unwrap_or_else(|_| response.snippet())
}
