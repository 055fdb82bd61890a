//! certkeeper DNS provider plugin for Amazon Route53, signed with AWS Signature Version 4.
//!
//! Settings: `access_key_id`, `secret_access_key`, optional `session_token`; `endpoint` (default
//! `https://route53.amazonaws.com`), `region` (default `us-east-1`, where Route53 signs), and
//! `poll_interval_ms` (default 2000). `allowed_hosts` must hold `route53.amazonaws.com`.
//!
//! Route53 replaces whole record sets, so `present` UPSERTs the set's values plus its own, and
//! `cleanup` UPSERTs the others or, when none is left, DELETEs exactly the set it read (Route53
//! refuses a DELETE that does not match). Each change is followed by GetChange until INSYNC.

mod xml;

use std::time::Duration;

use certkeeper_plugin_sdk::http::{Client, Method, Response};
use certkeeper_plugin_sdk::sign::SigV4;
use certkeeper_plugin_sdk::{DnsProvider, ProviderError, config, dns, export_dns_provider, txt};

const API: &str = "/2013-04-01";
/// GetChange polls before giving up; with the default interval, 20 s of the call's 30.
const MAX_POLLS: u32 = 10;

struct Route53;

export_dns_provider!(Route53);

impl DnsProvider for Route53 {
    const NAME: &'static str = "route53";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn present(fqdn: &str, value: &str, ttl: u32) -> Result<(), ProviderError> {
        let (api, fqdn) = (Api::from_config()?, dns::fqdn(fqdn));
        let zone = api.zone_id(&fqdn)?;
        let (ttl, mut values) = api.txt_set(&zone, &fqdn)?.unwrap_or((ttl, Vec::new()));
        if values.iter().any(|v| v == value) {
            return Ok(());
        }
        values.push(value.to_owned());
        api.change(&zone, "UPSERT", &fqdn, ttl, &values)
    }

    fn cleanup(fqdn: &str, value: &str) -> Result<(), ProviderError> {
        let (api, fqdn) = (Api::from_config()?, dns::fqdn(fqdn));
        let zone = api.zone_id(&fqdn)?;
        let Some((ttl, values)) = api.txt_set(&zone, &fqdn)? else {
            return Ok(());
        };
        let others: Vec<String> = values.iter().filter(|v| *v != value).cloned().collect();
        match (others.len() == values.len(), others.is_empty()) {
            (true, _) => Ok(()),
            (false, true) => api.change(&zone, "DELETE", &fqdn, ttl, &values),
            (false, false) => api.change(&zone, "UPSERT", &fqdn, ttl, &others),
        }
    }

    fn find_zone(fqdn: &str) -> Result<String, ProviderError> {
        let api = Api::from_config()?;
        let (_, name) = api.zone(&dns::fqdn(fqdn))?;
        Ok(name)
    }

    fn test_connection() -> Result<(), ProviderError> {
        let api = Api::from_config()?;
        checked(api.client.get(&format!("{API}/hostedzonecount"))?).map(drop)
    }
}

struct Api {
    client: Client,
    poll_interval: Duration,
}

impl Api {
    fn from_config() -> Result<Self, ProviderError> {
        let region = config::get_or("region", "us-east-1");
        let mut signer = SigV4::new(
            &config::require("access_key_id")?,
            &config::require("secret_access_key")?,
            &region,
            "route53",
        );
        if let Some(token) = config::get("session_token").filter(|t| !t.is_empty()) {
            signer = signer.with_session_token(&token);
        }
        let endpoint = config::get_or("endpoint", "https://route53.amazonaws.com");
        let poll_ms = config::get_or("poll_interval_ms", "2000")
            .parse()
            .map_err(|_| {
                ProviderError::bad_config("setting `poll_interval_ms` must be a number")
            })?;
        let client = Client::new(&endpoint).with_signer(signer);
        Ok(Self {
            client,
            poll_interval: Duration::from_millis(poll_ms),
        })
    }

    fn zone_id(&self, fqdn: &str) -> Result<String, ProviderError> {
        Ok(self.zone(fqdn)?.0)
    }

    /// The id and name of the public hosted zone named by the longest ancestor of `fqdn`.
    fn zone(&self, fqdn: &str) -> Result<(String, String), ProviderError> {
        for candidate in dns::candidate_zones(fqdn) {
            let path = format!("{API}/hostedzonesbyname?dnsname={candidate}&maxitems=1");
            let body = checked(self.client.get(&path)?)?;
            let Some(zone) = xml::all(&body, "HostedZone").first().map(|z| z.to_string()) else {
                continue;
            };
            let private = xml::first(&zone, "PrivateZone").is_some_and(|p| p == "true");
            if !private && xml::first(&zone, "Name").is_some_and(|n| dns::fqdn(&n) == candidate) {
                let id = xml::first(&zone, "Id").unwrap_or_default();
                return Ok((id.trim_start_matches("/hostedzone/").to_owned(), candidate));
            }
        }
        Err(ProviderError::zone_not_found(format!(
            "no public hosted zone contains {fqdn}"
        )))
    }

    /// The TTL and values of the TXT set at `fqdn`, if there is one. The listing starts at
    /// `fqdn` and may show the next set in the zone when there is none at `fqdn` itself.
    fn txt_set(&self, zone: &str, fqdn: &str) -> Result<Option<(u32, Vec<String>)>, ProviderError> {
        let path = format!("{API}/hostedzone/{zone}/rrset?name={fqdn}&type=TXT&maxitems=1");
        let body = checked(self.client.get(&path)?)?;
        let Some(set) = xml::all(&body, "ResourceRecordSet")
            .first()
            .map(|s| s.to_string())
        else {
            return Ok(None);
        };
        let name = xml::first(&set, "Name").unwrap_or_default();
        if xml::first(&set, "Type").as_deref() != Some("TXT") || dns::fqdn(&name) != fqdn {
            return Ok(None);
        }
        let ttl = xml::first(&set, "TTL").and_then(|t| t.parse().ok());
        let values = xml::all(&set, "Value");
        let values = values
            .iter()
            .map(|v| txt::unquote(&xml::unescape(v)))
            .collect();
        Ok(Some((ttl.unwrap_or(300), values)))
    }

    /// Sends one change and waits until Route53 reports it INSYNC.
    fn change(
        &self,
        zone: &str,
        action: &str,
        fqdn: &str,
        ttl: u32,
        values: &[String],
    ) -> Result<(), ProviderError> {
        let body = xml::change_batch(action, fqdn, ttl, values);
        let path = format!("{API}/hostedzone/{zone}/rrset/");
        let response =
            self.client
                .send_body(Method::Post, &path, Some("text/xml"), body.into_bytes())?;
        let mut answer = checked(response)?;
        for _ in 0..MAX_POLLS {
            let id = xml::first(&answer, "Id").unwrap_or_default();
            if xml::first(&answer, "Status").as_deref() == Some("INSYNC") {
                return Ok(());
            }
            std::thread::sleep(self.poll_interval);
            answer = checked(self.client.get(&format!(
                "{API}/change/{}",
                id.trim_start_matches("/change/")
            ))?)?;
        }
        Err(ProviderError::other(format!(
            "the change to {fqdn} was not INSYNC in time"
        )))
    }
}

/// The body of a 2xx answer; Route53's error codes mapped to the contract's cases.
fn checked(response: Response) -> Result<String, ProviderError> {
    let body = response.text();
    if response.is_success() {
        return Ok(body);
    }
    let code = xml::first(&body, "Code").unwrap_or_default();
    let message = format!(
        "Route53 {code}: {}",
        xml::first(&body, "Message").unwrap_or_default()
    );
    match code.as_str() {
        "NoSuchHostedZone" => Err(ProviderError::zone_not_found(message)),
        "Throttling" | "PriorRequestNotComplete" => Err(ProviderError::RateLimited(None)),
        "SignatureDoesNotMatch"
        | "InvalidClientTokenId"
        | "AccessDenied"
        | "IncompleteSignature" => Err(ProviderError::auth_failed(message)),
        // 401, 403 and 429 without a known code keep their shared meaning.
        _ => response
            .error_for_status()
            .and(Err(ProviderError::other(message))),
    }
}
