//! dns (under construction)
