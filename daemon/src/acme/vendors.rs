//! CA vendor profiles: what certkeeper knows about each public ACME CA, so `[[ca]] vendor =
//! "letsencrypt"` can stand in for a directory URL.
//!
//! Profiles from loaded `ca-vendor` plugins (see [`super::vendor_registry`]) come first; this
//! table is the fallback, so nothing breaks when no plugin is loaded. Each directory URL names the vendor page it was checked against (December 2026). Buypass
//! lifetimes of 200 days are the CA/Browser Forum maximum since 2026-03-15. Buypass
//! stopped issuing through ACME on 2025-10-15; its profiles stay so that existing configs get a
//! clear refusal rather than a connection error.

use super::KeyType;
use super::engine::EngineError;

/// How a vendor's customers obtain External Account Binding credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EabSource {
    /// The CA does not use EAB.
    None,
    /// The vendor's API hands them out (ZeroSSL: for an email or an API access key); the
    /// `ca-vendor` plugin named here makes that call, when it is loaded.
    PluginApi(&'static str),
    /// From the vendor's portal or cloud console; the text says where.
    Portal(&'static str),
}

/// One CA vendor profile.
#[derive(Debug, Clone, Copy)]
pub struct VendorProfile {
    /// The `vendor` value in the config.
    pub id: &'static str,
    /// Name shown to people.
    pub display_name: &'static str,
    /// ACME directory URL; `None` for the custom profile, which takes `directory` from the config.
    pub directory: Option<&'static str>,
    /// Where the URL was checked.
    pub source: &'static str,
    /// A test environment whose certificates are not publicly trusted.
    pub staging: bool,
    /// Whether `newAccount` needs External Account Binding.
    pub eab_required: bool,
    /// How to obtain EAB credentials.
    pub eab_source: EabSource,
    /// Certificate key types the CA accepts.
    pub key_types: &'static [KeyType],
    /// Default certificate lifetime in days.
    pub default_lifetime_days: u32,
    /// The day the CA stopped its ACME service, if it did.
    pub retired_since: Option<&'static str>,
}

const RSA_AND_ECDSA: &[KeyType] = &KeyType::ALL;
const LE_DOCS: &str = "https://letsencrypt.org/docs/acme-protocol-updates/";
const BUYPASS_DOCS: &str = "https://www.buypass.com/products/tls-ssl-certificates/resources-tls-ssl-certificates/products/buypass-go-ssl-technical-information";
const SSLCOM_DOCS: &str =
    "https://www.ssl.com/guide/ssl-tls-certificate-issuance-and-revocation-with-acme/";
const GTS_DOCS: &str = "https://cloud.google.com/certificate-manager/docs/public-ca-tutorial";
const GTS_EAB: &str = "Google Cloud: gcloud publicca external-account-keys create (used once, lapses \
                       after 7 days unused)";

/// Every profile certkeeper knows.
pub const VENDORS: &[VendorProfile] = &[
    VendorProfile {
        id: "letsencrypt",
        display_name: "Let's Encrypt",
        directory: Some("https://acme-v02.api.letsencrypt.org/directory"),
        source: LE_DOCS,
        ..PUBLIC
    },
    VendorProfile {
        id: "letsencrypt-staging",
        display_name: "Let's Encrypt Staging",
        directory: Some("https://acme-staging-v02.api.letsencrypt.org/directory"),
        source: "https://letsencrypt.org/docs/staging-environment/",
        staging: true,
        ..PUBLIC
    },
    VendorProfile {
        id: "zerossl",
        display_name: "ZeroSSL",
        directory: Some("https://acme.zerossl.com/v2/DV90"),
        source: "https://zerossl.com/documentation/acme/",
        eab_required: true,
        eab_source: EabSource::PluginApi("vendor-zerossl"),
        ..PUBLIC
    },
    VendorProfile {
        id: "buypass",
        display_name: "Buypass Go SSL",
        directory: Some("https://api.buypass.com/acme/directory"),
        source: BUYPASS_DOCS,
        default_lifetime_days: 180,
        retired_since: Some("2025-10-15"),
        ..PUBLIC
    },
    VendorProfile {
        id: "buypass-staging",
        display_name: "Buypass Go SSL Staging",
        directory: Some("https://api.test4.buypass.no/acme/directory"),
        source: BUYPASS_DOCS,
        staging: true,
        default_lifetime_days: 180,
        retired_since: Some("2025-10-15"),
        ..PUBLIC
    },
    VendorProfile {
        id: "sslcom-rsa",
        display_name: "SSL.com (RSA)",
        directory: Some("https://acme.ssl.com/sslcom-dv-rsa"),
        source: SSLCOM_DOCS,
        eab_required: true,
        eab_source: EabSource::Portal("SSL.com account: Dashboard, api credentials"),
        default_lifetime_days: 200,
        ..PUBLIC
    },
    VendorProfile {
        id: "sslcom-ecc",
        display_name: "SSL.com (ECC)",
        directory: Some("https://acme.ssl.com/sslcom-dv-ecc"),
        source: SSLCOM_DOCS,
        eab_required: true,
        eab_source: EabSource::Portal("SSL.com account: Dashboard, api credentials"),
        default_lifetime_days: 200,
        ..PUBLIC
    },
    VendorProfile {
        id: "google",
        display_name: "Google Trust Services",
        directory: Some("https://dv.acme-v02.api.pki.goog/directory"),
        source: GTS_DOCS,
        eab_required: true,
        eab_source: EabSource::Portal(GTS_EAB),
        ..PUBLIC
    },
    VendorProfile {
        id: "google-staging",
        display_name: "Google Trust Services Staging",
        directory: Some("https://dv.acme-v02.test-api.pki.goog/directory"),
        source: GTS_DOCS,
        staging: true,
        eab_required: true,
        eab_source: EabSource::Portal(GTS_EAB),
        ..PUBLIC
    },
    VendorProfile {
        id: "digicert",
        display_name: "DigiCert CertCentral",
        directory: Some("https://acme.digicert.com/v2/acme/directory/"),
        source: "https://docs.digicert.com/en/certcentral/automate-certificate-lifecycle/set-up-managed-automation/set-up-acme-in-certcentral/create-and-manage-acme-credentials.html",
        eab_required: true,
        eab_source: EabSource::Portal("CertCentral: Automation, ACME Directory URLs (shown once)"),
        default_lifetime_days: 200,
        ..PUBLIC
    },
    VendorProfile {
        id: "custom",
        display_name: "Custom RFC 8555 directory",
        directory: None,
        source: "the config's `directory`",
        ..PUBLIC
    },
];

/// The defaults most public CAs share.
const PUBLIC: VendorProfile = VendorProfile {
    id: "",
    display_name: "",
    directory: None,
    source: "",
    staging: false,
    eab_required: false,
    eab_source: EabSource::None,
    key_types: RSA_AND_ECDSA,
    default_lifetime_days: 90,
    retired_since: None,
};

/// The profile with this id, from a loaded plugin else the table, or an error listing the known
/// ones.
pub fn vendor(id: &str) -> Result<&'static VendorProfile, String> {
    if let Some(profile) = super::vendor_registry::find(id) {
        return Ok(profile);
    }
    VENDORS
        .iter()
        .find(|v| v.id == id)
        .ok_or_else(|| format!("unknown CA vendor \"{id}\" (known: {})", known().join(", ")))
}

/// Every profile: the loaded plugins' first, then the built-in table's.
fn profiles() -> impl Iterator<Item = &'static VendorProfile> {
    super::vendor_registry::all().into_iter().chain(VENDORS)
}

/// The id of the profile whose directory is `directory`, if any (plugins first, then the table).
pub fn vendor_for_directory(directory: &str) -> Option<&'static str> {
    profiles()
        .find(|v| v.directory == Some(directory))
        .map(|v| v.id)
}

/// The ids of every known profile: the loaded plugins' and the built-in table's, sorted.
pub fn known() -> Vec<&'static str> {
    let mut ids: Vec<&str> = profiles().map(|v| v.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Refuse new accounts and orders at a directory whose vendor stopped its ACME service.
pub(crate) fn refuse_retired(ca: &str, directory: &str) -> Result<(), EngineError> {
    let retired = profiles().find(|v| v.directory == Some(directory) && v.retired_since.is_some());
    match retired {
        Some(v) => Err(EngineError::Invalid(format!(
            "CA {ca}: {} ended its ACME service on {}; it accepts no new accounts or orders. \
             Certificates already issued stay stored; move this CA to another vendor.",
            v.display_name,
            v.retired_since.unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vendors_directory_names_the_vendor_and_any_other_directory_none() {
        let le = "https://acme-v02.api.letsencrypt.org/directory";
        assert_eq!(vendor_for_directory(le), Some("letsencrypt"));
        let zerossl = "https://acme.zerossl.com/v2/DV90";
        assert_eq!(vendor_for_directory(zerossl), Some("zerossl"));
        assert_eq!(vendor_for_directory("https://127.0.0.1:14000/dir"), None);
    }

    #[test]
    fn vendor_ids_are_unique_and_every_entry_names_its_source() {
        for (i, v) in VENDORS.iter().enumerate() {
            assert!(
                VENDORS[i + 1..].iter().all(|w| w.id != v.id),
                "{} twice",
                v.id
            );
            assert!(
                !v.display_name.is_empty() && !v.source.is_empty(),
                "{}",
                v.id
            );
        }
    }

    #[test]
    fn every_fixed_directory_is_https_and_its_source_is_the_vendors_own_site() {
        let sites = [
            ("letsencrypt", "letsencrypt.org"),
            ("zerossl", "zerossl.com"),
            ("buypass", "buypass.com"),
            ("sslcom", "ssl.com"),
            ("google", "cloud.google.com"),
            ("digicert", "digicert.com"),
        ];
        for v in VENDORS.iter().filter(|v| v.directory.is_some()) {
            assert!(v.directory.unwrap().starts_with("https://"), "{}", v.id);
            let (_, site) = sites.iter().find(|(p, _)| v.id.starts_with(p)).unwrap();
            assert!(v.source.contains(site), "{}: {}", v.id, v.source);
        }
    }

    #[test]
    fn directory_urls_are_the_ones_the_vendors_publish() {
        let expect = [
            (
                "letsencrypt",
                "https://acme-v02.api.letsencrypt.org/directory",
            ),
            (
                "letsencrypt-staging",
                "https://acme-staging-v02.api.letsencrypt.org/directory",
            ),
            ("zerossl", "https://acme.zerossl.com/v2/DV90"),
            ("buypass", "https://api.buypass.com/acme/directory"),
            (
                "buypass-staging",
                "https://api.test4.buypass.no/acme/directory",
            ),
            ("sslcom-rsa", "https://acme.ssl.com/sslcom-dv-rsa"),
            ("sslcom-ecc", "https://acme.ssl.com/sslcom-dv-ecc"),
            ("google", "https://dv.acme-v02.api.pki.goog/directory"),
            (
                "google-staging",
                "https://dv.acme-v02.test-api.pki.goog/directory",
            ),
            ("digicert", "https://acme.digicert.com/v2/acme/directory/"),
        ];
        for (id, url) in expect {
            assert_eq!(vendor(id).unwrap().directory, Some(url), "{id}");
        }
        assert_eq!(vendor("custom").unwrap().directory, None);
    }

    #[test]
    fn eab_is_required_exactly_where_the_vendors_say() {
        let required: Vec<&str> = VENDORS
            .iter()
            .filter(|v| v.eab_required)
            .map(|v| v.id)
            .collect();
        let expect = [
            "zerossl",
            "sslcom-rsa",
            "sslcom-ecc",
            "google",
            "google-staging",
            "digicert",
        ];
        assert_eq!(required, expect);
        for v in VENDORS {
            assert_eq!(v.eab_required, v.eab_source != EabSource::None, "{}", v.id);
        }
        let zerossl = vendor("zerossl").unwrap().eab_source;
        assert_eq!(zerossl, EabSource::PluginApi("vendor-zerossl"));
    }

    #[test]
    fn staging_profiles_are_marked_and_only_they() {
        for v in VENDORS {
            assert_eq!(v.staging, v.id.ends_with("-staging"), "{}", v.id);
        }
    }

    #[test]
    fn every_public_ca_takes_rsa_and_ecdsa_but_none_takes_anything_else() {
        for v in VENDORS {
            assert_eq!(v.key_types, KeyType::ALL.as_slice(), "{}", v.id);
            assert!(v.default_lifetime_days >= 6 && v.default_lifetime_days <= 398);
        }
    }

    #[test]
    fn only_buypass_is_retired_and_a_new_account_there_is_refused_with_the_date() {
        let retired: Vec<&str> = VENDORS
            .iter()
            .filter(|v| v.retired_since.is_some())
            .map(|v| v.id)
            .collect();
        assert_eq!(retired, ["buypass", "buypass-staging"]);
        let err = refuse_retired("bp", "https://api.buypass.com/acme/directory")
            .unwrap_err()
            .to_string();
        assert!(err.contains("CA bp") && err.contains("2025-10-15"), "{err}");
        assert!(err.contains("no new accounts or orders"), "{err}");
        assert!(refuse_retired("le", "https://acme-v02.api.letsencrypt.org/directory").is_ok());
    }

    #[test]
    fn an_unknown_vendor_lists_the_known_ones() {
        let err = vendor("verisign").unwrap_err();
        assert!(
            err.contains("\"verisign\"") && err.contains("letsencrypt-staging"),
            "{err}"
        );
    }
}
