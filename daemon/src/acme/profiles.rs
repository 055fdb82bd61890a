//! ACME profiles: a CA that lists `meta.profiles` in its directory lets an order name one
//! (e.g. Let's Encrypt's `classic`, `tlsserver`, `shortlived`). A profile the CA does not list is
//! refused here, before the order is placed, with the list the CA does offer.

use instant_acme::ProfileMeta;

use super::engine::EngineError;

/// Check `wanted` is among the profiles CA `ca` lists.
pub(super) fn check_profile<'a>(
    ca: &str,
    offered: impl Iterator<Item = ProfileMeta<'a>>,
    wanted: &str,
) -> Result<(), EngineError> {
    let mut names: Vec<&str> = offered.map(|p| p.name).collect();
    if names.contains(&wanted) {
        return Ok(());
    }
    names.sort_unstable();
    let offer = if names.is_empty() {
        "its directory lists no profiles, so orders there cannot name one".to_owned()
    } else {
        format!("it offers {}", names.join(", "))
    };
    Err(EngineError::Invalid(format!(
        "CA {ca} has no ACME profile \"{wanted}\": {offer}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered() -> Vec<ProfileMeta<'static>> {
        ["shortlived", "classic", "tlsserver"]
            .into_iter()
            .map(|name| ProfileMeta {
                name,
                description: "",
            })
            .collect()
    }

    #[test]
    fn a_listed_profile_is_accepted() {
        assert!(check_profile("le", offered().into_iter(), "tlsserver").is_ok());
    }

    #[test]
    fn an_unknown_profile_is_refused_with_the_offered_ones() {
        let err = check_profile("le", offered().into_iter(), "longlived")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"longlived\""), "{err}");
        assert!(err.contains("classic, shortlived, tlsserver"), "{err}");
    }

    #[test]
    fn a_ca_without_profiles_refuses_every_profile() {
        let err = check_profile("pebble", std::iter::empty(), "classic")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lists no profiles"), "{err}");
    }
}
