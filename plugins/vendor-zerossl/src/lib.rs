//! certkeeper CA vendor plugin for ZeroSSL: its ACME directory, which needs External Account
//! Binding, and the REST API that hands out EAB credentials for an email address
//! (`POST /acme/eab-credentials-email`, form field `email`) or for an API access key
//! (`POST /acme/eab-credentials?access_key=...`).
//! Source: <https://zerossl.com/documentation/acme/generate-eab-credentials>.
//!
//! N.B. the API can answer HTTP 200 with `"success": false` and an error object, so the body's
//! `success` field decides, not the status line.
//!
//! Settings: `api_url` (default `https://api.zerossl.com`). The instance's `allowed_hosts` must
//! hold the API's host.

use certkeeper_plugin_sdk::http::{Client, Method};
use certkeeper_plugin_sdk::{ProviderError, config};
use certkeeper_plugin_sdk_vendor::{EabCredentials, VendorProfile, public_profile};
use serde::Deserialize;

struct ZeroSsl;

/// ZeroSSL's API, unless the `api_url` setting says otherwise.
const DEFAULT_API: &str = "https://api.zerossl.com";
/// The host of [`DEFAULT_API`], which the daemon allows `fetch_eab` to reach.
const API_HOST: &str = "api.zerossl.com";
const PROFILE: &str = "zerossl";

impl certkeeper_plugin_sdk_vendor::CaVendor for ZeroSsl {
    const NAME: &'static str = "vendor-zerossl";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn profiles() -> Vec<VendorProfile> {
        // Source: https://zerossl.com/documentation/acme/
        vec![VendorProfile {
            eab_required: true,
            eab_source: Some("ZeroSSL API: EAB credentials for an email or API key".to_owned()),
            eab_api_hosts: vec![API_HOST.to_owned()],
            ..public_profile(PROFILE, "ZeroSSL", "https://acme.zerossl.com/v2/DV90")
        }]
    }

    fn fetch_eab(
        profile: &str,
        email: &str,
        api_key: Option<&str>,
    ) -> Result<EabCredentials, ProviderError> {
        if profile != PROFILE {
            return Err(ProviderError::bad_config(format!(
                "unknown profile {profile} (this plugin has: {PROFILE})"
            )));
        }
        let client = Client::new(&config::get_or("api_url", DEFAULT_API));
        let form = "application/x-www-form-urlencoded";
        let response = match api_key {
            Some(key) => {
                let path = format!("/acme/eab-credentials?access_key={}", form_encode(key));
                client.send_body(Method::Post, &path, Some(form), Vec::new())
            }
            None => {
                let body = format!("email={}", form_encode(email)).into_bytes();
                client.send_body(
                    Method::Post,
                    "/acme/eab-credentials-email",
                    Some(form),
                    body,
                )
            }
        }
        .map_err(|error| without(error, api_key))?;
        read_answer_without(&response.body, api_key)
    }
}

/// As [`read_answer`], with the access key cut out of the error: the API's error message may
/// quote the request URL, which carries the key.
fn read_answer_without(
    body: &[u8],
    api_key: Option<&str>,
) -> Result<EabCredentials, ProviderError> {
    read_answer(body).map_err(|error| without(error, api_key))
}

/// ZeroSSL's answer: credentials when `success` is true (or 1), else an error object.
fn read_answer(body: &[u8]) -> Result<EabCredentials, ProviderError> {
    #[derive(Deserialize)]
    struct Answer {
        success: serde_json::Value,
        eab_kid: Option<String>,
        eab_hmac_key: Option<String>,
        error: Option<ApiError>,
    }
    #[derive(Deserialize)]
    struct ApiError {
        code: i64,
        #[serde(rename = "type")]
        kind: String,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|error| {
        ProviderError::other(format!(
            "ZeroSSL API: the answer is not the expected JSON: {error}"
        ))
    })?;
    let succeeded = answer.success == serde_json::Value::Bool(true) || answer.success == 1;
    match (succeeded, answer.eab_kid, answer.eab_hmac_key, answer.error) {
        (true, Some(kid), Some(hmac_key), _) => Ok(EabCredentials { kid, hmac_key }),
        // 101 is `invalid_access_key` (ZeroSSL API docs, "Error Codes": https://zerossl.com/documentation/api/).
        (_, _, _, Some(error)) if error.code == 101 => Err(ProviderError::auth_failed(format!(
            "ZeroSSL API refused: error {} ({})",
            error.code, error.kind
        ))),
        (_, _, _, Some(error)) => Err(ProviderError::other(format!(
            "ZeroSSL API refused: error {} ({})",
            error.code, error.kind
        ))),
        _ => Err(ProviderError::other(
            "ZeroSSL API: no credentials and no error in the answer",
        )),
    }
}

/// `error` with the access key, which travels in the URL, cut out of its message.
fn without(error: ProviderError, api_key: Option<&str>) -> ProviderError {
    let Some(key) = api_key else { return error };
    let clean = |text: String| text.replace(&form_encode(key), "***").replace(key, "***");
    match error {
        ProviderError::AuthFailed(m) => ProviderError::AuthFailed(clean(m)),
        ProviderError::ZoneNotFound(m) => ProviderError::ZoneNotFound(clean(m)),
        ProviderError::BadConfig(m) => ProviderError::BadConfig(clean(m)),
        ProviderError::Other(m) => ProviderError::Other(clean(m)),
        other => other,
    }
}

/// `application/x-www-form-urlencoded` for one value: unreserved bytes stay, the rest is `%XX`.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

certkeeper_plugin_sdk_vendor::export_ca_vendor!(ZeroSsl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_as_the_number_1_counts_as_true() {
        let eab = read_answer(br#"{"success":1,"eab_kid":"k","eab_hmac_key":"YWJjZA"}"#).unwrap();
        assert_eq!((eab.kid.as_str(), eab.hmac_key.as_str()), ("k", "YWJjZA"));
    }

    #[test]
    fn an_answer_without_credentials_or_error_is_an_error_saying_so() {
        let err = read_answer(br#"{"success":true}"#).unwrap_err();
        assert!(matches!(err, ProviderError::Other(ref m) if m.contains("no credentials")));
    }

    #[test]
    fn error_101_is_a_refused_key() {
        let err =
            read_answer(br#"{"success":false,"error":{"code":101,"type":"invalid_access_key"}}"#)
                .unwrap_err();
        assert!(
            matches!(err, ProviderError::AuthFailed(ref m) if m.contains("invalid_access_key"))
        );
    }

    #[test]
    fn the_access_key_is_cut_out_of_an_http_error() {
        let err =
            ProviderError::other("POST http://h/acme/eab-credentials?access_key=a%2Bb failed");
        let ProviderError::Other(message) = without(err, Some("a+b")) else {
            panic!("kind changed")
        };
        assert!(
            !message.contains("a%2Bb") && message.contains("***"),
            "{message}"
        );
    }

    #[test]
    fn an_api_error_quoting_the_request_url_does_not_carry_the_access_key() {
        let body = br#"{"success":false,"error":{"code":999,"type":"bad key /acme/eab-credentials?access_key=a%2Bb"}}"#;
        let err = read_answer_without(body, Some("a+b")).unwrap_err();
        let ProviderError::Other(message) = err else {
            panic!("not Other: {err:?}")
        };
        assert!(!message.contains("a%2Bb"), "{message}");
        assert!(message.contains("error 999"), "{message}");
    }
}
