//! certkeeper CA vendor plugin for Buypass Go SSL. Buypass stopped issuing through ACME on
//! 2025-10-15; the profiles stay so that existing configs get a clear refusal rather than a
//! connection error.

use certkeeper_plugin_sdk_vendor::{VendorProfile, public_profile};

struct Buypass;

/// Source: https://www.buypass.com/products/tls-ssl-certificates/resources-tls-ssl-certificates/products/buypass-go-ssl-technical-information
const RETIRED: &str = "2025-10-15";

fn buypass(name: &str, display_name: &str, directory_url: &str, staging: bool) -> VendorProfile {
    VendorProfile {
        staging,
        default_lifetime_days: 180,
        retired: Some(RETIRED.to_owned()),
        ..public_profile(name, display_name, directory_url)
    }
}

impl certkeeper_plugin_sdk_vendor::CaVendor for Buypass {
    const NAME: &'static str = "vendor-buypass";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn profiles() -> Vec<VendorProfile> {
        // Both URLs: Buypass Go SSL technical information (see RETIRED).
        vec![
            buypass(
                "buypass",
                "Buypass Go SSL",
                "https://api.buypass.com/acme/directory",
                false,
            ),
            buypass(
                "buypass-staging",
                "Buypass Go SSL Staging",
                "https://api.test4.buypass.no/acme/directory",
                true,
            ),
        ]
    }
}

certkeeper_plugin_sdk_vendor::export_ca_vendor!(Buypass);
