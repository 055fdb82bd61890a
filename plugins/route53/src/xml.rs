//! Just enough XML for Route53's answers: the text of plain elements, and escaping.
//!
//! Route53's responses are flat, attribute-free elements under one namespaced root, so finding
//! `<Tag>…</Tag>` pairs is enough; nothing here handles nesting of a tag inside itself.

use certkeeper_plugin_sdk::txt;

const NAMESPACE: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

/// A `ChangeResourceRecordSetsRequest` body with one change: `action` (`UPSERT`, `DELETE`) of the
/// TXT set at `fqdn` holding `values`.
pub(crate) fn change_batch(action: &str, fqdn: &str, ttl: u32, values: &[String]) -> String {
    let records: String = values
        .iter()
        .map(|value| {
            let value = escape(&txt::quote(value));
            format!("<ResourceRecord><Value>{value}</Value></ResourceRecord>")
        })
        .collect();
    let set = format!(
        "<ResourceRecordSet><Name>{}</Name><Type>TXT</Type><TTL>{ttl}</TTL>\
         <ResourceRecords>{records}</ResourceRecords></ResourceRecordSet>",
        escape(fqdn)
    );
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <ChangeResourceRecordSetsRequest xmlns=\"{NAMESPACE}\"><ChangeBatch><Changes>\
         <Change><Action>{action}</Action>{set}</Change>\
         </Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
    )
}

/// The inner text of every `<tag>…</tag>` in `xml`, in order.
pub(crate) fn all<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// The inner text of the first `<tag>…</tag>`, unescaped.
pub(crate) fn first(xml: &str, tag: &str) -> Option<String> {
    all(xml, tag).first().map(|text| unescape(text))
}

/// Escapes text for an element's content.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Undoes the five predefined entities.
pub(crate) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_element_and_unescapes_the_first() {
        let xml = "<R xmlns=\"x\"><V>&quot;a&quot;</V><V>b&amp;c</V></R>";
        assert_eq!(all(xml, "V"), ["&quot;a&quot;", "b&amp;c"]);
        assert_eq!(first(xml, "V").as_deref(), Some("\"a\""));
        assert_eq!(first(xml, "Missing"), None);
        assert_eq!(unescape(&escape("<a&b>")), "<a&b>");
    }
}
