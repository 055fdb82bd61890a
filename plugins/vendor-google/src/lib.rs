//! certkeeper CA vendor plugin for Google Trust Services: production and staging, both needing
//! EAB credentials from Google Cloud.

use certkeeper_plugin_sdk_vendor::{VendorProfile, public_profile};

struct Google;

const EAB_SOURCE: &str = "Google Cloud: gcloud publicca external-account-keys create (used once, \
                          lapses after 7 days unused)";

/// Source: https://cloud.google.com/certificate-manager/docs/public-ca-tutorial
fn google(name: &str, display_name: &str, directory_url: &str, staging: bool) -> VendorProfile {
    VendorProfile {
        staging,
        eab_required: true,
        eab_source: Some(EAB_SOURCE.to_owned()),
        ..public_profile(name, display_name, directory_url)
    }
}

impl certkeeper_plugin_sdk_vendor::CaVendor for Google {
    const NAME: &'static str = "vendor-google";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn profiles() -> Vec<VendorProfile> {
        vec![
            google(
                "google",
                "Google Trust Services",
                "https://dv.acme-v02.api.pki.goog/directory",
                false,
            ),
            google(
                "google-staging",
                "Google Trust Services Staging",
                "https://dv.acme-v02.test-api.pki.goog/directory",
                true,
            ),
        ]
    }
}

certkeeper_plugin_sdk_vendor::export_ca_vendor!(Google);
