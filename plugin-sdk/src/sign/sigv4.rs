//! AWS Signature Version 4, in the `Authorization` header, for JSON and XML APIs such as Route53.
//!
//! The signature is an HMAC chain keyed by the secret: date, region, service and `aws4_request`
//! derive the key, which signs a string naming the time, the scope and the SHA-256 of the
//! canonical request (method, path, sorted query, sorted lowercase headers, body hash). Every
//! header of the request is signed, with `host` and `x-amz-date` added.

use super::{Request, Sign, UrlParts, UtcTime, collapse_whitespace, hmac_sha256, sha256};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// AWS credentials and the scope (region and service) they sign for.
#[derive(Clone)]
pub struct SigV4 {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    region: String,
    service: String,
}

impl std::fmt::Debug for SigV4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // N.B. the secret and the session token stay out of debug output.
        f.debug_struct("SigV4")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl SigV4 {
    /// A signer for `service` in `region` (Route53: `route53` in `us-east-1`).
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str, service: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
            region: region.to_owned(),
            service: service.to_owned(),
        }
    }

    /// Adds a temporary credential's session token, sent and signed as `x-amz-security-token`.
    pub fn with_session_token(mut self, token: &str) -> Self {
        self.session_token = Some(token.to_owned());
        self
    }

    /// Adds `x-amz-date` (unless the request has one), the session token if any, and the
    /// `authorization` header for `time`.
    pub fn sign_at(&self, request: &mut Request, time: UtcTime) {
        if header(request, "x-amz-date").is_none() {
            request.headers.push(("x-amz-date".into(), time.amz_date()));
        }
        if let Some(token) = &self.session_token {
            request
                .headers
                .push(("x-amz-security-token".into(), token.clone()));
        }
        let authorization = self.authorization(request, time);
        request
            .headers
            .push(("authorization".into(), authorization));
    }

    /// The `Authorization` header value for `request` as it stands at `time`.
    pub fn authorization(&self, request: &Request, time: UtcTime) -> String {
        let amz_date = header(request, "x-amz-date").map_or_else(|| time.amz_date(), str::to_owned);
        let date = &amz_date[..amz_date.len().min(8)];
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);

        let (canonical, signed_headers) = canonical_request(request);
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            hex::encode(sha256(canonical.as_bytes()))
        );
        let signature = hex::encode(hmac_sha256(
            &self.signing_key(date),
            string_to_sign.as_bytes(),
        ));
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key_id
        )
    }

    fn signing_key(&self, date: &str) -> [u8; 32] {
        let secret = format!("AWS4{}", self.secret_access_key);
        let key = hmac_sha256(secret.as_bytes(), date.as_bytes());
        let key = hmac_sha256(&key, self.region.as_bytes());
        let key = hmac_sha256(&key, self.service.as_bytes());
        hmac_sha256(&key, b"aws4_request")
    }
}

impl Sign for SigV4 {
    fn sign(&self, request: &mut Request) {
        self.sign_at(request, UtcTime::now());
    }
}

/// The canonical request and the `;`-joined names of the headers it signs.
fn canonical_request(request: &Request) -> (String, String) {
    let url = UrlParts::of(&request.url);
    let headers = canonical_headers(request, &url);
    let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    let signed_headers = names.join(";");
    let header_lines: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();

    let canonical = format!(
        "{}\n{}\n{}\n{header_lines}\n{signed_headers}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_path(url.path),
        canonical_query(url.query),
        hex::encode(sha256(&request.body)),
    );
    (canonical, signed_headers)
}

/// Lowercase names, sorted, values trimmed and squeezed, repeated names joined with `,`; `host`
/// from the URL when the request does not carry one.
fn canonical_headers(request: &Request, url: &UrlParts<'_>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    if header(request, "host").is_none() {
        headers.push(("host".into(), wire_host(url)));
    }
    for (name, value) in &request.headers {
        let (name, value) = (name.to_ascii_lowercase(), collapse_whitespace(value));
        if name == "authorization" {
            continue;
        }
        match headers.iter_mut().find(|(seen, _)| *seen == name) {
            Some((_, joined)) => *joined = format!("{joined},{value}"),
            None => headers.push((name, value)),
        }
    }
    headers.sort();
    headers
}

/// The `Host` header an HTTP client sends for this URL: the port only when it is not the
/// scheme's default.
fn wire_host(url: &UrlParts<'_>) -> String {
    let default = if url.scheme == "http" { ":80" } else { ":443" };
    url.authority
        .strip_suffix(default)
        .unwrap_or(url.authority)
        .to_ascii_lowercase()
}

fn canonical_path(path: &str) -> String {
    let segments: Vec<String> = path.split('/').map(|s| encode(&decode(s))).collect();
    segments.join("/")
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (encode(&decode(key)), encode(&decode(value)))
        })
        .collect();
    pairs.sort();
    let pairs: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

/// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - _ . ~`), in capitals.
fn encode(text: &[u8]) -> String {
    let mut encoded = String::with_capacity(text.len());
    for &byte in text {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Undoes percent-encoding; a `%` not followed by two hex digits stays as it is.
fn decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                at += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    decoded
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    let mut found = request.headers.iter();
    found
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example credentials, time, region and service of AWS's Signature Version 4 test suite
    // (https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html,
    // aws-sig-v4-test-suite/*/*.req and *.authz).
    const ACCESS_KEY: &str = "AKIDEXAMPLE";
    const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const TIME: UtcTime = UtcTime {
        unix_seconds: 1_440_938_160, // 20150830T123600Z
    };

    fn suite_request(method: &str, url: &str, extra: &[(&str, &str)], body: &str) -> Request {
        let mut headers = vec![
            ("Host".to_owned(), "example.amazonaws.com".to_owned()),
            ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        headers.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Request {
            method: method.into(),
            url: url.into(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn signer() -> SigV4 {
        SigV4::new(ACCESS_KEY, SECRET_KEY, "us-east-1", "service")
    }

    #[test]
    fn matches_the_get_vanilla_vector() {
        // aws-sig-v4-test-suite/get-vanilla/get-vanilla.authz
        let request = suite_request("GET", "https://example.amazonaws.com/", &[], "");
        assert_eq!(
            signer().authorization(&request, TIME),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn matches_the_query_order_vector_by_sorting_the_query() {
        // aws-sig-v4-test-suite/get-vanilla-query-order-key-case/*.authz
        let url = "https://example.amazonaws.com/?Param2=value2&Param1=value1";
        let request = suite_request("GET", url, &[], "");
        let authorization = signer().authorization(&request, TIME);
        let expected = "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500";
        assert!(authorization.ends_with(expected), "{authorization}");
    }

    #[test]
    fn matches_the_post_x_www_form_urlencoded_vector() {
        // aws-sig-v4-test-suite/post-x-www-form-urlencoded/post-x-www-form-urlencoded.authz
        let content_type = [("Content-Type", "application/x-www-form-urlencoded")];
        let url = "https://example.amazonaws.com/";
        let request = suite_request("POST", url, &content_type, "Param1=value1");
        assert_eq!(
            signer().authorization(&request, TIME),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
    }

    #[test]
    fn sign_at_adds_the_date_and_takes_the_host_from_the_url() {
        let mut request = Request {
            method: "GET".into(),
            url: "https://example.amazonaws.com:443/".into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        signer().sign_at(&mut request, TIME);
        // Same request as get-vanilla once the date and host are filled in.
        let authorization = header(&request, "authorization").unwrap();
        assert!(
            authorization
                .ends_with("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        );
        assert_eq!(header(&request, "x-amz-date"), Some("20150830T123600Z"));
    }

    #[test]
    fn a_different_secret_gives_a_different_signature() {
        let request = suite_request("GET", "https://example.amazonaws.com/", &[], "");
        let other = SigV4::new(ACCESS_KEY, "another-secret", "us-east-1", "service");
        assert_ne!(
            other.authorization(&request, TIME),
            signer().authorization(&request, TIME)
        );
    }

    #[test]
    fn debug_output_leaves_the_secret_out() {
        let shown = format!("{:?}", signer().with_session_token("tok-secret"));
        assert!(
            !shown.contains(SECRET_KEY) && !shown.contains("tok-secret"),
            "{shown}"
        );
    }
}
