//! Identifier checks done before anything is sent to a CA.

use crate::challenge::canonical_name;

/// A name that cannot be put in an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Not a DNS name a public CA could issue for.
    #[error("\"{name}\" is not a domain name: {reason}")]
    Domain {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not an email address.
    #[error("\"{email}\" is not an email address: {reason}")]
    Email {
        /// The address as given.
        email: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a usable name for an account, certificate or CA.
    #[error(
        "{kind} name \"{shown}\" is refused: {reason}; a name is 1-{MAX_OBJECT_NAME} characters \
         of A-Z, a-z, 0-9, '.', '_' and '-'"
    )]
    Object {
        /// What is being named: `account`, `certificate`, `ca`.
        kind: &'static str,
        /// The name, escaped and shortened for display.
        shown: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The longest account, certificate or CA name.
pub const MAX_OBJECT_NAME: usize = 64;

/// Check `name` can name a `kind` (account, certificate, CA): 1-64 characters of
/// `[A-Za-z0-9._-]`, so it fits a URL path segment, a log line and a table column unescaped.
pub fn validate_object_name(kind: &'static str, name: &str) -> Result<(), NameError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.chars().count() > MAX_OBJECT_NAME {
        "it is too long"
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        "it holds a character outside the allowed set"
    } else {
        return Ok(());
    };
    Err(NameError::Object {
        kind,
        shown: shown(name),
        reason,
    })
}

/// The certificate name of an order placed without one (from the CLI): its first DNS name as
/// the engine stores it, made a valid object name. A wildcard's `*` becomes `_wildcard` (no host
/// name holds `_`, so it cannot meet a real one), and a name over 64 characters keeps its first
/// 55 and ends with `-` and 8 hex digits of its SHA-256, so two long names stay apart.
pub fn default_certificate_name(first_dns_name: &str) -> String {
    let name = match first_dns_name.strip_prefix("*.") {
        Some(rest) => format!("_wildcard.{rest}"),
        None => first_dns_name.to_owned(),
    };
    if name.chars().count() <= MAX_OBJECT_NAME {
        return name;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let head: String = name.chars().take(MAX_OBJECT_NAME - 9).collect();
    format!("{head}-{}", hex::encode(&digest[..4]))
}

/// `name` with control characters escaped, cut after 64 characters with its length noted.
fn shown(name: &str) -> String {
    let count = name.chars().count();
    let head: String = name.chars().take(MAX_OBJECT_NAME).collect();
    let head = head.escape_debug().to_string();
    if count > MAX_OBJECT_NAME {
        format!("{head}... ({count} characters)")
    } else {
        head
    }
}

/// Check `name` is a DNS name (LDH labels, at least two, optional leading `*.`).
pub fn validate_domain(name: &str) -> Result<(), NameError> {
    let bad = |reason| {
        Err(NameError::Domain {
            name: name.to_owned(),
            reason,
        })
    };
    let bare = name.strip_prefix("*.").unwrap_or(name);
    let bare = bare.strip_suffix('.').unwrap_or(bare);
    if bare.is_empty() {
        return bad("it is empty");
    }
    if bare.len() > 253 {
        return bad("it is longer than 253 characters");
    }
    if bare.contains('*') {
        return bad("a wildcard may only be the whole leftmost label");
    }
    let labels: Vec<&str> = bare.split('.').collect();
    if labels.len() < 2 {
        return bad("it needs at least two labels");
    }
    if labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return bad("it looks like an IP address");
    }
    for label in labels {
        check_label(label).or_else(bad)?;
    }
    Ok(())
}

fn check_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("it has an empty label");
    }
    if label.len() > 63 {
        return Err("a label is longer than 63 characters");
    }
    if !label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("labels may hold only letters, digits, '-' and '_' (use punycode)");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("a label starts or ends with '-'");
    }
    Ok(())
}

/// Check `email` looks like `local@domain.tld`.
pub fn validate_email(email: &str) -> Result<(), NameError> {
    let bad = |reason| {
        Err(NameError::Email {
            email: email.to_owned(),
            reason,
        })
    };
    let Some((local, domain)) = email.split_once('@') else {
        return bad("it has no '@'");
    };
    if local.is_empty() {
        return bad("nothing before the '@'");
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '<')
    {
        return bad("it contains spaces or separators");
    }
    if validate_domain(domain).is_err() || domain.starts_with("*.") {
        return bad("the part after '@' is not a domain name");
    }
    Ok(())
}

/// The TXT owner for a DNS-01 challenge on `identifier` (RFC 8555 §8.4): `_acme-challenge.`
/// in front of the name, with a wildcard's `*.` removed.
pub fn challenge_record_name(identifier: &str) -> String {
    let bare = identifier.strip_prefix("*.").unwrap_or(identifier);
    canonical_name(&format!("_acme-challenge.{bare}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_wildcard_names() {
        assert!(validate_domain("a.example.test").is_ok());
        assert!(validate_domain("*.b.example.test").is_ok());
    }

    #[test]
    fn rejects_names_that_are_not_domains() {
        for bad in [
            "",
            "localhost",
            "a..b",
            "-a.test",
            "a*.test",
            "a.*.test",
            "1.2.3.4",
            "a b.test",
        ] {
            assert!(validate_domain(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn rejects_malformed_emails() {
        assert!(validate_email("ops@example.test").is_ok());
        for bad in [
            "ops",
            "@example.test",
            "ops@",
            "ops@localhost",
            "o ps@example.test",
        ] {
            assert!(validate_email(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn object_names_of_the_allowed_set_are_accepted() {
        for good in ["main", "a.example.test", "le_prod-2", &"x".repeat(64)] {
            assert!(validate_object_name("account", good).is_ok(), "{good}");
        }
    }

    #[test]
    fn blank_long_and_odd_object_names_are_refused_naming_them() {
        let err = validate_object_name("account", "").unwrap_err().to_string();
        assert!(
            err.starts_with("account name \"\" is refused: it is empty"),
            "{err}"
        );
        let err = validate_object_name("account", "a\nb")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"a\\nb\"") && !err.contains('\n'), "{err}");
        let long = "y".repeat(5000);
        let err = validate_object_name("certificate", &long)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("(5000 characters)") && err.len() < 300,
            "{err}"
        );
        for bad in ["a b", "a/b", "é", "*.example.test", &"x".repeat(65)] {
            assert!(
                validate_object_name("ca", bad).is_err(),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn wildcard_and_apex_share_one_record_name() {
        assert_eq!(
            challenge_record_name("*.B.example.test"),
            "_acme-challenge.b.example.test."
        );
        assert_eq!(
            challenge_record_name("b.example.test"),
            "_acme-challenge.b.example.test."
        );
    }

    #[test]
    fn an_order_without_a_name_gets_a_valid_certificate_name_from_its_first_dns_name() {
        assert_eq!(
            default_certificate_name("www.example.com"),
            "www.example.com"
        );
        assert_eq!(
            default_certificate_name("*.b.example.com"),
            "_wildcard.b.example.com"
        );
        let long = format!("{}.example.com", "a".repeat(60));
        let other = format!("{}.example.org", "a".repeat(60));
        let (one, two) = (
            default_certificate_name(&long),
            default_certificate_name(&other),
        );
        assert_eq!(one.chars().count(), MAX_OBJECT_NAME);
        assert_ne!(one, two, "two long names must not meet");
        for name in [one, two, default_certificate_name("*.b.example.com")] {
            validate_object_name("certificate", &name).expect("valid");
        }
    }
}
