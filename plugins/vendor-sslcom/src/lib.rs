//! certkeeper CA vendor plugin for SSL.com: one ACME directory for RSA and one for ECC
//! certificates, both needing EAB credentials from the SSL.com account.

use certkeeper_plugin_sdk_vendor::{VendorProfile, public_profile};

struct SslCom;

/// Source: https://www.ssl.com/guide/ssl-tls-certificate-issuance-and-revocation-with-acme/
fn sslcom(name: &str, display_name: &str, directory_url: &str) -> VendorProfile {
    VendorProfile {
        eab_required: true,
        eab_source: Some("SSL.com account: Dashboard, api credentials".to_owned()),
        default_lifetime_days: 200,
        ..public_profile(name, display_name, directory_url)
    }
}

impl certkeeper_plugin_sdk_vendor::CaVendor for SslCom {
    const NAME: &'static str = "vendor-sslcom";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn profiles() -> Vec<VendorProfile> {
        vec![
            sslcom(
                "sslcom-rsa",
                "SSL.com (RSA)",
                "https://acme.ssl.com/sslcom-dv-rsa",
            ),
            sslcom(
                "sslcom-ecc",
                "SSL.com (ECC)",
                "https://acme.ssl.com/sslcom-dv-ecc",
            ),
        ]
    }
}

certkeeper_plugin_sdk_vendor::export_ca_vendor!(SslCom);
