//! acme (under construction)
