//! certkeeper DNS provider plugin for Akamai Edge DNS (`/config-dns/v2`), signed with EdgeGrid.
//!
//! Settings, as in an `.edgerc` section: `host` (e.g. `akab-….luna.akamaiapis.net`; a full
//! `http(s)://` URL is taken as it is), `client_token`, `client_secret`, `access_token`, and
//! optionally `max_body` (default 131072). `allowed_hosts` must hold that host.
//!
//! Edge DNS keeps a name's TXT values as one record set (`rdata`), so `present` adds its value
//! and writes the set back (POST when there was none, PUT otherwise), and `cleanup` writes back
//! the others, or DELETEs the set when none is left.

use certkeeper_plugin_sdk::http::{Client, Response};
use certkeeper_plugin_sdk::sign::EdgeGrid;
use certkeeper_plugin_sdk::{DnsProvider, ProviderError, config, dns, export_dns_provider, txt};
use serde::{Deserialize, Serialize};

struct Akamai;

export_dns_provider!(Akamai);

impl DnsProvider for Akamai {
    const NAME: &'static str = "akamai";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn present(fqdn: &str, value: &str, ttl: u32) -> Result<(), ProviderError> {
        let api = Api::from_config()?;
        let path = api.record_path(fqdn)?;
        let Some(mut set) = api.txt_set(&path)? else {
            let set = RecordSet::new(fqdn, ttl, vec![txt::quote(value)]);
            return checked(api.client.post(&path, &set)?).map(drop);
        };
        if set.values().any(|v| v == value) {
            return Ok(());
        }
        set.rdata.push(txt::quote(value));
        checked(api.client.put(&path, &set)?).map(drop)
    }

    fn cleanup(fqdn: &str, value: &str) -> Result<(), ProviderError> {
        let api = Api::from_config()?;
        let path = api.record_path(fqdn)?;
        let Some(mut set) = api.txt_set(&path)? else {
            return Ok(());
        };
        let before = set.rdata.len();
        set.rdata.retain(|content| txt::unquote(content) != value);
        match (set.rdata.len() == before, set.rdata.is_empty()) {
            (true, _) => Ok(()),
            (false, true) => checked(api.client.delete(&path)?).map(drop),
            (false, false) => checked(api.client.put(&path, &set)?).map(drop),
        }
    }

    fn find_zone(fqdn: &str) -> Result<String, ProviderError> {
        Api::from_config()?.zone_for(fqdn)
    }

    fn test_connection() -> Result<(), ProviderError> {
        let api = Api::from_config()?;
        checked(api.client.get("/config-dns/v2/zones?page=1&pageSize=1")?).map(drop)
    }
}

/// One name's TXT set as Edge DNS shows and takes it; `rdata` holds quoted strings.
#[derive(Deserialize, Serialize)]
struct RecordSet {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    ttl: u32,
    rdata: Vec<String>,
}

impl RecordSet {
    fn new(fqdn: &str, ttl: u32, rdata: Vec<String>) -> Self {
        let (name, kind) = (dns::without_dot(fqdn), "TXT".to_owned());
        Self {
            name,
            kind,
            ttl,
            rdata,
        }
    }

    fn values(&self) -> impl Iterator<Item = String> + '_ {
        self.rdata.iter().map(|content| txt::unquote(content))
    }
}

struct Api {
    client: Client,
}

impl Api {
    fn from_config() -> Result<Self, ProviderError> {
        let host = config::require("host")?;
        let base = match host.starts_with("http://") || host.starts_with("https://") {
            true => host,
            false => format!("https://{host}"),
        };
        let max_body = config::get_or("max_body", "131072").parse().map_err(|_| {
            ProviderError::bad_config("setting `max_body` must be a number of bytes")
        })?;
        let signer = EdgeGrid::new(
            &config::require("client_token")?,
            &config::require("client_secret")?,
            &config::require("access_token")?,
        )
        .with_max_body(max_body);
        let client = Client::new(&base).with_signer(signer);
        Ok(Self { client })
    }

    /// The longest ancestor of `fqdn` that is a zone of the account, with a trailing dot.
    fn zone_for(&self, fqdn: &str) -> Result<String, ProviderError> {
        for candidate in dns::candidate_zones(fqdn) {
            let path = format!("/config-dns/v2/zones/{}", dns::without_dot(&candidate));
            let response = self.client.get(&path)?;
            if response.status != 404 {
                checked(response)?;
                return Ok(candidate);
            }
        }
        let message = format!("no Edge DNS zone of the account contains {fqdn}");
        Err(ProviderError::zone_not_found(message))
    }

    fn record_path(&self, fqdn: &str) -> Result<String, ProviderError> {
        let zone = dns::without_dot(&self.zone_for(fqdn)?);
        let name = dns::without_dot(fqdn);
        Ok(format!(
            "/config-dns/v2/zones/{zone}/names/{name}/types/TXT"
        ))
    }

    fn txt_set(&self, path: &str) -> Result<Option<RecordSet>, ProviderError> {
        let response = self.client.get(path)?;
        match response.status {
            404 => Ok(None),
            _ => checked(response)?.json().map(Some),
        }
    }
}

/// Passes 2xx through; Edge DNS's problem documents (`title`, `detail`) name what went wrong.
fn checked(response: Response) -> Result<Response, ProviderError> {
    #[derive(Deserialize)]
    struct Problem {
        title: Option<String>,
        detail: Option<String>,
    }
    if response.is_success() || matches!(response.status, 401 | 403 | 429) {
        return response.error_for_status();
    }
    let problem = response.json::<Problem>().ok();
    let why = problem.map(|p| {
        format!(
            "{} {}",
            p.title.unwrap_or_default(),
            p.detail.unwrap_or_default()
        )
    });
    let why = why.unwrap_or_else(|| response.snippet());
    Err(ProviderError::other(format!(
        "Edge DNS answered HTTP {}: {}",
        response.status,
        why.trim()
    )))
}
