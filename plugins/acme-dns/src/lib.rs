//! certkeeper DNS provider plugin for an acme-dns compatible server (joohoi/acme-dns's HTTP API).
//!
//! Settings: `server_url` (e.g. `https://auth.example.org`), and the answer of one registration
//! (`POST {server_url}/register`): `username`, `password` and `subdomain`. The operator points
//! `_acme-challenge.<domain>` at that registration's `fulldomain` with a CNAME, once.
//!
//! acme-dns keeps the two newest TXT values of a registration and drops older ones on each
//! update; it has no delete. So `present` is one `POST /update`, `cleanup` changes nothing (the
//! value ages out), and one registration serves at most two values at once: a wildcard and its
//! apex, not more. Use one provider instance (one registration) per challenge name.

use certkeeper_plugin_sdk::http::{Client, Response};
use certkeeper_plugin_sdk::{DnsProvider, ProviderError, config, dns, export_dns_provider, log};
use serde::Deserialize;
use serde_json::json;

struct AcmeDns;

export_dns_provider!(AcmeDns);

impl DnsProvider for AcmeDns {
    const NAME: &'static str = "acme-dns";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn present(fqdn: &str, value: &str, _ttl: u32) -> Result<(), ProviderError> {
        let (client, subdomain) = client()?;
        let update = json!({ "subdomain": subdomain, "txt": value });
        let response = client.post("/update", &update)?;
        checked(response)?;
        log::debug(&format!("acme-dns updated for {fqdn}"));
        Ok(())
    }

    fn cleanup(fqdn: &str, _value: &str) -> Result<(), ProviderError> {
        // N.B. acme-dns cannot delete: the value is dropped by the second update after it.
        client()?;
        log::debug(&format!(
            "acme-dns has no delete; the value at {fqdn} ages out"
        ));
        Ok(())
    }

    /// acme-dns serves the CNAME target, not the operator's zone: the parent of the challenge
    /// name stands for it.
    fn find_zone(fqdn: &str) -> Result<String, ProviderError> {
        let name = dns::fqdn(fqdn);
        let parent = name.split_once('.').map_or(".", |(_, parent)| parent);
        Ok(dns::fqdn(parent))
    }

    /// `GET /health`: checks the server is reachable; only an update checks the credentials.
    fn test_connection() -> Result<(), ProviderError> {
        let (client, _) = client()?;
        checked(client.get("/health")?).map(drop)
    }
}

/// A client sending the registration's credentials, and its subdomain.
fn client() -> Result<(Client, String), ProviderError> {
    let server_url = config::require("server_url")?;
    if !server_url.starts_with("https://") && !server_url.starts_with("http://") {
        return Err(ProviderError::bad_config(
            "setting `server_url` must be an http(s) URL",
        ));
    }
    let client = Client::new(&server_url)
        .with_header("x-api-user", &config::require("username")?)
        .with_header("x-api-key", &config::require("password")?);
    Ok((client, config::require("subdomain")?))
}

/// Passes 2xx through; acme-dns's `{"error": "…"}` (e.g. `bad_txt`, `bad_subdomain`) otherwise.
fn checked(response: Response) -> Result<Response, ProviderError> {
    #[derive(Deserialize)]
    struct Problem {
        error: String,
    }
    if response.is_success() || matches!(response.status, 401 | 403 | 429) {
        return response.error_for_status();
    }
    let why = response
        .json::<Problem>()
        .map_or_else(|_| response.snippet(), |p| p.error);
    let message = format!("acme-dns answered HTTP {}: {why}", response.status);
    match why.as_str() {
        "bad_subdomain" => Err(ProviderError::bad_config(format!(
            "setting `subdomain`: {message}"
        ))),
        _ => Err(ProviderError::other(message)),
    }
}
