//! DNS name handling at the provider's edge.
//!
//! Inside certkeeper a name is lowercase with a trailing dot. Provider APIs differ (some want the
//! dot, some refuse it); convert with these helpers where the API is called.

/// Returns `name` lowercase with exactly one trailing dot.
pub fn fqdn(name: &str) -> String {
    let mut name = name.trim_end_matches('.').to_ascii_lowercase();
    name.push('.');
    name
}

/// Returns `name` lowercase without the trailing dot, for APIs that refuse it.
pub fn without_dot(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `zone` is `name` itself or one of its ancestors, compared label by label.
pub fn zone_contains(zone: &str, name: &str) -> bool {
    let (zone, name) = (fqdn(zone), fqdn(name));
    if zone == "." || zone == name {
        return true;
    }
    name.strip_suffix(zone.as_str())
        .is_some_and(|prefix| prefix.ends_with('.'))
}

/// Returns the longest of `zones` that contains `name`, as given, or `None`.
pub fn longest_zone<'a>(name: &str, zones: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    zones
        .into_iter()
        .filter(|zone| zone_contains(zone, name))
        .max_by_key(|zone| zone.trim_end_matches('.').len())
}

/// `name` and each of its ancestors but the root, longest first, each with a trailing dot: the
/// candidates to ask an API that looks zones up by exact name.
pub fn candidate_zones(name: &str) -> Vec<String> {
    let name = fqdn(name);
    let mut candidates = Vec::new();
    let mut rest = name.as_str();
    while !rest.is_empty() && rest != "." {
        candidates.push(rest.to_owned());
        rest = rest.split_once('.').map_or("", |(_, parent)| parent);
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_lowercases_and_adds_one_trailing_dot() {
        assert_eq!(fqdn("WWW.Example.Test"), "www.example.test.");
        assert_eq!(fqdn("www.example.test.."), "www.example.test.");
    }

    #[test]
    fn zone_contains_only_on_label_boundaries() {
        assert!(zone_contains(
            "example.test.",
            "_acme-challenge.example.test."
        ));
        assert!(zone_contains("example.test", "EXAMPLE.test."));
        assert!(!zone_contains("ample.test.", "example.test."));
        assert!(!zone_contains("www.example.test.", "example.test."));
    }

    #[test]
    fn longest_zone_prefers_the_most_specific_zone() {
        let zones = ["test.", "example.test.", "sub.example.test.", "other.test."];
        let found = longest_zone("_acme-challenge.a.sub.example.test.", zones);
        assert_eq!(found, Some("sub.example.test."));
        assert_eq!(longest_zone("example.org.", ["example.test."]), None);
    }

    #[test]
    fn candidate_zones_go_from_the_name_up_to_the_top_level() {
        let names = candidate_zones("_acme-challenge.Example.Test");
        assert_eq!(
            names,
            ["_acme-challenge.example.test.", "example.test.", "test."]
        );
        assert!(candidate_zones(".").is_empty());
    }
}
