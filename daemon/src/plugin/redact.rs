//! Taking secrets out of text that came from a plugin: its errors, traps and log lines.
//!
//! A plugin cannot be trusted to redact, and an API it calls may echo the request back (ZeroSSL's
//! answers can quote the URL, which carries the access key), so the host replaces a secret in
//! every form it is likely to travel in: as is, and percent-encoded (upper- or lowercase hex, and
//! with `+` for a space as in `application/x-www-form-urlencoded`).

/// What a secret is replaced with.
pub(super) const REDACTED: &str = "[redacted]";

/// `text` with every occurrence of `secret` (as is or percent-encoded) replaced by
/// [`REDACTED`]. An empty secret changes nothing.
pub fn redact_secret(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    let mut text = text.replace(secret, REDACTED);
    for form in encoded_forms(secret) {
        if form != secret {
            text = text.replace(&form, REDACTED);
        }
    }
    text
}

/// The percent-encoded spellings of `value`: uppercase hex, lowercase hex, and the form
/// encoding that writes a space as `+`.
fn encoded_forms(value: &str) -> [String; 3] {
    let upper = percent_encode(value, false);
    let lower = percent_encode(value, true);
    let plus = upper.replace("%20", "+");
    [upper, lower, plus]
}

/// `value` with every byte but the unreserved ones (RFC 3986 section 2.3) as `%XX`.
fn percent_encode(value: &str, lowercase: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char);
            }
            _ if lowercase => out.push_str(&format!("%{byte:02x}")),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_in_a_url_query_is_replaced() {
        let text = "bad key /acme/eab-credentials?access_key=SECRETACCESSKEY123";
        let clean = redact_secret(text, "SECRETACCESSKEY123");
        assert_eq!(clean, "bad key /acme/eab-credentials?access_key=[redacted]");
    }

    #[test]
    fn a_percent_encoded_secret_is_replaced_in_either_hex_case() {
        let secret = "k/y+z w";
        let text = "a k%2Fy%2Bz%20w b k%2fy%2bz%20w c k%2Fy%2Bz+w";
        let clean = redact_secret(text, secret);
        assert_eq!(clean, "a [redacted] b [redacted] c [redacted]");
    }

    #[test]
    fn an_empty_secret_leaves_the_text_alone() {
        assert_eq!(redact_secret("nothing secret", ""), "nothing secret");
    }
}
