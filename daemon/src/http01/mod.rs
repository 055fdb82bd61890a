//! http01 (under construction)
