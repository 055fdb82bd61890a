//! Request signers for provider APIs that authenticate each request with an HMAC over it.
//!
//! A signer looks at a finished request (method, URL, headers, body) and adds the headers that
//! authenticate it. [`http::Client::with_signer`] runs one on every request it sends. Both signers
//! take the time (and the EdgeGrid nonce) as arguments in their `*_at` functions, so the published
//! test vectors can be checked natively with `cargo test -p certkeeper-plugin-sdk`.
//!
//! Signing needs the current UTC time: inside the sandbox it comes from WASI's wall clock.
//!
//! [`http::Client::with_signer`]: crate::http::Client::with_signer

mod edgegrid;
mod sigv4;
mod time;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub use edgegrid::{DEFAULT_MAX_BODY, EdgeGrid, nonce};
pub use sigv4::SigV4;
pub use time::UtcTime;

/// A request about to be sent, as a signer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method in capitals, e.g. `GET`.
    pub method: String,
    /// The absolute URL, e.g. `https://route53.amazonaws.com/2013-04-01/hostedzone?x=1`.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Vec<u8>,
}

/// Adds authentication headers to a request.
pub trait Sign {
    /// Adds the headers that authenticate `request`, at the current time.
    fn sign(&self, request: &mut Request);
}

/// The parts of an absolute URL a signature covers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    pub(crate) scheme: &'a str,
    /// `host` or `host:port`, as written in the URL.
    pub(crate) authority: &'a str,
    /// Starts with `/`; `/` when the URL has no path.
    pub(crate) path: &'a str,
    /// Without the `?`; empty when there is none.
    pub(crate) query: &'a str,
}

impl<'a> UrlParts<'a> {
    /// Splits `url`; a URL without `scheme://` is taken as all authority and path.
    pub(crate) fn of(url: &'a str) -> Self {
        let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path_query) = match rest.find(['/', '?']) {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let path = if path.is_empty() { "/" } else { path };
        Self {
            scheme,
            authority,
            path,
            query,
        }
    }
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `value` with leading and trailing whitespace removed and inner runs of whitespace made one
/// space, as both signers canonicalise header values.
pub(crate) fn collapse_whitespace(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts_split_scheme_authority_path_and_query() {
        let parts = UrlParts::of("https://h.example:8443/a/b?x=1&y=2#frag");
        let expected = UrlParts {
            scheme: "https",
            authority: "h.example:8443",
            path: "/a/b",
            query: "x=1&y=2",
        };
        assert_eq!(parts, expected);
        assert_eq!(UrlParts::of("http://h.example").path, "/");
        assert_eq!(UrlParts::of("http://h.example?q").query, "q");
    }

    #[test]
    fn collapse_whitespace_trims_and_squeezes() {
        assert_eq!(collapse_whitespace("  a   b \t c  "), "a b c");
    }
}
