//! certkeeper CA vendor plugin for DigiCert CertCentral's ACME directory, which needs EAB
//! credentials created in CertCentral.

use certkeeper_plugin_sdk_vendor::{VendorProfile, public_profile};

struct DigiCert;

impl certkeeper_plugin_sdk_vendor::CaVendor for DigiCert {
    const NAME: &'static str = "vendor-digicert";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn profiles() -> Vec<VendorProfile> {
        // Source: https://docs.digicert.com/en/certcentral/automate-certificate-lifecycle/set-up-managed-automation/set-up-acme-in-certcentral/create-and-manage-acme-credentials.html
        let eab_source = "CertCentral: Automation, ACME Directory URLs (shown once)";
        vec![VendorProfile {
            eab_required: true,
            eab_source: Some(eab_source.to_owned()),
            default_lifetime_days: 200,
            ..public_profile(
                "digicert",
                "DigiCert CertCentral",
                "https://acme.digicert.com/v2/acme/directory/",
            )
        }]
    }
}

certkeeper_plugin_sdk_vendor::export_ca_vendor!(DigiCert);
