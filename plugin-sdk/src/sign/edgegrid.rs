//! Akamai EdgeGrid (`EG1-HMAC-SHA256`), the request signature of Akamai's {OPEN} APIs.
//!
//! The client secret keys an HMAC over the timestamp; that key (base64) signs the tab-joined
//! method, scheme, host, path with query, the chosen headers, the SHA-256 of a POST body (cut to
//! `max_body` bytes) and the `Authorization` header up to its signature. A nonce makes each
//! request's header unique.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{Request, Sign, UrlParts, UtcTime, collapse_whitespace, hmac_sha256, sha256};

const ALGORITHM: &str = "EG1-HMAC-SHA256";

/// The body bytes Akamai's APIs hash by default (128 KiB).
pub const DEFAULT_MAX_BODY: usize = 131_072;

/// EdgeGrid credentials, as an API client's `.edgerc` section holds them.
#[derive(Clone)]
pub struct EdgeGrid {
    client_token: String,
    client_secret: String,
    access_token: String,
    max_body: usize,
    headers_to_sign: Vec<String>,
}

impl std::fmt::Debug for EdgeGrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // N.B. only the shape: tokens and the secret stay out of debug output.
        f.debug_struct("EdgeGrid")
            .field("max_body", &self.max_body)
            .field("headers_to_sign", &self.headers_to_sign)
            .finish_non_exhaustive()
    }
}

impl EdgeGrid {
    /// A signer for one API client, hashing up to [`DEFAULT_MAX_BODY`] bytes and signing no
    /// headers.
    pub fn new(client_token: &str, client_secret: &str, access_token: &str) -> Self {
        Self {
            client_token: client_token.to_owned(),
            client_secret: client_secret.to_owned(),
            access_token: access_token.to_owned(),
            max_body: DEFAULT_MAX_BODY,
            headers_to_sign: Vec::new(),
        }
    }

    /// Hashes at most `max_body` bytes of a POST body.
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// Signs these headers too, in this order, when the request has them.
    pub fn with_headers_to_sign(mut self, names: &[&str]) -> Self {
        self.headers_to_sign = names.iter().map(|name| (*name).to_owned()).collect();
        self
    }

    /// Adds the `authorization` header for `timestamp` (`YYYYMMDDTHH:MM:SS+0000`) and `nonce`.
    pub fn sign_at(&self, request: &mut Request, timestamp: &str, nonce: &str) {
        let authorization = self.authorization(request, timestamp, nonce);
        request
            .headers
            .push(("authorization".into(), authorization));
    }

    /// The `Authorization` header value for `request`.
    pub fn authorization(&self, request: &Request, timestamp: &str, nonce: &str) -> String {
        let unsigned = format!(
            "{ALGORITHM} client_token={};access_token={};timestamp={timestamp};nonce={nonce};",
            self.client_token, self.access_token
        );
        let key = BASE64.encode(hmac_sha256(
            self.client_secret.as_bytes(),
            timestamp.as_bytes(),
        ));
        let data = self.data_to_sign(request, &unsigned);
        let signature = BASE64.encode(hmac_sha256(key.as_bytes(), data.as_bytes()));
        format!("{unsigned}signature={signature}")
    }

    fn data_to_sign(&self, request: &Request, unsigned: &str) -> String {
        let url = UrlParts::of(&request.url);
        let host = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map_or(url.authority, |(_, value)| value.as_str());
        let relative = match url.query {
            "" => url.path.to_owned(),
            query => format!("{}?{query}", url.path),
        };
        [
            request.method.to_ascii_uppercase(),
            url.scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase(),
            relative,
            self.canonical_headers(request),
            self.content_hash(request),
            unsigned.to_owned(),
        ]
        .join("\t")
    }

    fn canonical_headers(&self, request: &Request) -> String {
        let lines: Vec<String> = self
            .headers_to_sign
            .iter()
            .filter_map(|wanted| {
                let (_, value) = request
                    .headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(wanted))?;
                Some(format!(
                    "{}:{}",
                    wanted.to_ascii_lowercase(),
                    collapse_whitespace(value)
                ))
            })
            .collect();
        lines.join("\t")
    }

    /// Base64 SHA-256 of a POST body's first `max_body` bytes; empty for other methods and for
    /// an empty body, as the published test data has it (its PUT case hashes nothing).
    fn content_hash(&self, request: &Request) -> String {
        if !request.method.eq_ignore_ascii_case("POST") || request.body.is_empty() {
            return String::new();
        }
        let end = request.body.len().min(self.max_body);
        BASE64.encode(sha256(&request.body[..end]))
    }
}

impl Sign for EdgeGrid {
    fn sign(&self, request: &mut Request) {
        self.sign_at(request, &UtcTime::now().edgegrid_timestamp(), &nonce());
    }
}

/// A fresh nonce in UUID form, from the randomly keyed hashers std seeds from the system's
/// random source (WASI's, in a plugin). It need only be unique, not secret.
pub fn nonce() -> String {
    let mut bits = [0u64; 2];
    for (word, salt) in bits.iter_mut().zip([0x5eed_u64, 0xcafe]) {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(salt);
        hasher.write_i64(UtcTime::now().unix_seconds);
        *word = hasher.finish();
    }
    let hex = format!("{:016x}{:016x}", bits[0], bits[1]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Credentials, time, nonce and expected headers from Akamai's EdgeGrid test data,
    // akamai/edgegrid/test/testdata.json in github.com/akamai/AkamaiOPEN-edgegrid-python (the
    // same file ships with the other EdgeGrid client libraries).
    const HOST: &str = "akaa-baseurl-xxxxxxxxxxx-xxxxxxxxxxxxx.luna.akamaiapis.net";
    const TIMESTAMP: &str = "20140321T19:34:21+0000";
    const NONCE: &str = "nonce-xx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    const PREFIX: &str = "EG1-HMAC-SHA256 client_token=akab-client-token-xxx-xxxxxxxxxxxxxxxx;\
        access_token=akab-access-token-xxx-xxxxxxxxxxxxxxxx;timestamp=20140321T19:34:21+0000;\
        nonce=nonce-xx-xxxx-xxxx-xxxx-xxxxxxxxxxxx;signature=";

    fn signer() -> EdgeGrid {
        EdgeGrid::new(
            "akab-client-token-xxx-xxxxxxxxxxxxxxxx",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=",
            "akab-access-token-xxx-xxxxxxxxxxxxxxxx",
        )
        .with_max_body(2048)
        .with_headers_to_sign(&["X-Test1", "X-Test2", "X-Test3"])
    }

    fn signature(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
        let mut all = vec![("Host".to_owned(), HOST.to_owned())];
        all.extend(
            headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let request = Request {
            method: method.into(),
            url: format!("https://{HOST}{path}"),
            headers: all,
            body: body.as_bytes().to_vec(),
        };
        let authorization = signer().authorization(&request, TIMESTAMP, NONCE);
        let signature = authorization
            .strip_prefix(PREFIX)
            .expect("the test data's prefix");
        signature.to_owned()
    }

    #[test]
    fn matches_the_simple_get_and_query_string_cases() {
        let simple = "tL+y4hxyHxgWVD30X3pWnGKHcPzmrIF+LThiAOhMxYU=";
        assert_eq!(signature("GET", "/", &[], ""), simple);
        let query = "hKDH1UlnQySSHjvIcZpDMbQHihTQ0XyVAKZaApabdeA=";
        assert_eq!(signature("GET", "/testapi/v1/t1?p1=1&p2=2", &[], ""), query);
    }

    #[test]
    fn matches_the_post_cases_hashing_at_most_max_body_bytes() {
        let inside = "hXm4iCxtpN22m4cbZb4lVLW5rhX8Ca82vCFqXzSTPe4=";
        let data = "datadatadatadatadatadatadatadata";
        assert_eq!(signature("POST", "/testapi/v1/t3", &[], data), inside);

        // "POST length equals max_body" and "POST too large" share one signature.
        let truncated = "6Q6PiTipLae6n4GsSIDTCJ54bEbHUBp+4MUXrbQCBoY=";
        let exact = "d".repeat(2048);
        assert_eq!(signature("POST", "/testapi/v1/t3", &[], &exact), truncated);
        assert_eq!(
            signature("POST", "/testapi/v1/t3", &[], &"d".repeat(4096)),
            truncated
        );

        let empty = "1gEDxeQGD5GovIkJJGcBaKnZ+VaPtrc4qBUHixjsPCQ=";
        assert_eq!(signature("POST", "/testapi/v1/t6", &[], ""), empty);
    }

    #[test]
    fn matches_the_put_case_which_hashes_no_body() {
        let put = "GNBWEYSEWOLtu+7dD52da2C39aX/Jchpon3K/AmBqBU=";
        let body = "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP";
        assert_eq!(signature("PUT", "/testapi/v1/t6", &[], body), put);
    }

    #[test]
    fn matches_the_header_signing_cases() {
        let simple = "8F9AybcRw+PLxnvT+H0JRkjROrrUgsxJTnRXMzqvcwY=";
        let one = [("X-Test1", "test-simple-header")];
        assert_eq!(signature("GET", "/testapi/v1/t4", &one, ""), simple);

        let spaces = "ucq2AbjCNtobHfCTuS38fdkl5UDdWHZhQX46fYR8CqI=";
        let spaced = [("X-Test1", "\"     test-header-with-spaces     \"")];
        assert_eq!(signature("GET", "/testapi/v1/t4", &spaced, ""), spaces);

        let ordered = "Wus73Nx8jOYM+kkBFF2q8D1EATRIMr0WLWwpLBgkBqY=";
        let three = [("X-Test2", "t2"), ("X-Test1", "t1"), ("X-Test3", "t3")];
        assert_eq!(signature("GET", "/testapi/v1/t4", &three, ""), ordered);

        let extra = "Knd/jc0A5Ghhizjayr0AUUvl2MZjBpS3FDSzvtq4Ixc=";
        let four = [
            three[0],
            three[1],
            three[2],
            ("X-Extra", "this won't be included"),
        ];
        assert_eq!(signature("GET", "/testapi/v1/t5", &four, ""), extra);
    }

    #[test]
    fn nonces_differ_and_look_like_uuids() {
        let (a, b) = (nonce(), nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }

    #[test]
    fn debug_output_leaves_the_credentials_out() {
        let shown = format!("{:?}", signer());
        assert!(
            !shown.contains("xxxxxxxxxxxxxxxxxxxx") && !shown.contains("akab-"),
            "{shown}"
        );
    }
}
