//! certkeeper CA vendor plugin for Let's Encrypt: production and staging directories, no EAB.

use certkeeper_plugin_sdk_vendor::{VendorProfile, public_profile};

struct LetsEncrypt;

impl certkeeper_plugin_sdk_vendor::CaVendor for LetsEncrypt {
    const NAME: &'static str = "vendor-letsencrypt";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn profiles() -> Vec<VendorProfile> {
        // Source: https://letsencrypt.org/docs/acme-protocol-updates/
        let production = public_profile(
            "letsencrypt",
            "Let's Encrypt",
            "https://acme-v02.api.letsencrypt.org/directory",
        );
        // Source: https://letsencrypt.org/docs/staging-environment/
        let staging = VendorProfile {
            staging: true,
            ..public_profile(
                "letsencrypt-staging",
                "Let's Encrypt Staging",
                "https://acme-staging-v02.api.letsencrypt.org/directory",
            )
        };
        vec![production, staging]
    }
}

certkeeper_plugin_sdk_vendor::export_ca_vendor!(LetsEncrypt);
