//! Challenge records: what certkeeper posts so a CA can validate an identifier.

pub mod board;

pub use board::{Board, canonical_name};
