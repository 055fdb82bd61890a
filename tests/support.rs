//! What every end-to-end test shares: where the peers listen and where the binary is.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// The `certkeeper` binary cargo built for this test run.
pub fn certkeeper_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_certkeeper"))
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
