//! plugin (under construction)
