//! TXT content in zone-file form, as PowerDNS, Route53 and Akamai keep it: one or more quoted
//! character strings.

/// Quotes `value` as one TXT character string, escaping `"` and `\`.
pub fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// Returns the value of TXT `content`: its character strings joined, escapes undone. Content that
/// is not quoted comes back as it is.
pub fn unquote(content: &str) -> String {
    let content = content.trim();
    if !content.starts_with('"') {
        return content.to_owned();
    }

    let (mut value, mut quoted) = (String::new(), false);
    let mut chars = content.chars();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', _) => quoted = !quoted,
            ('\\', true) => value.push(unescape(&mut chars)),
            (c, true) => value.push(c),
            (_, false) => {} // whitespace between character strings
        }
    }
    value
}

/// Undoes one escape after a backslash: `\DDD` is a decimal byte, anything else stands for itself.
fn unescape(chars: &mut std::str::Chars<'_>) -> char {
    let rest = chars.as_str();
    let digits: String = rest.chars().take(3).collect();
    if digits.len() == 3
        && digits.chars().all(|c| c.is_ascii_digit())
        && let Ok(byte) = digits.parse::<u8>()
    {
        chars.nth(2);
        return char::from(byte);
    }
    chars.next().unwrap_or('\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_wraps_and_escapes() {
        assert_eq!(quote("abc"), r#""abc""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn unquote_undoes_quote() {
        for value in ["abc", r#"a"b\c"#, "", "xY-_09"] {
            assert_eq!(unquote(&quote(value)), value);
        }
    }

    #[test]
    fn unquote_joins_character_strings_and_decimal_escapes() {
        assert_eq!(unquote(r#""abc" "def""#), "abcdef");
        assert_eq!(unquote(r#""a\065b""#), "aAb");
        assert_eq!(unquote("bare"), "bare");
    }
}
