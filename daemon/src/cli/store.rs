//! `certkeeper store …`: commands on the store's files that run without a daemon.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use crate::store::seal::{KEY_LEN, StoreKey};

/// `certkeeper store …`
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Make a new store key file (32 random bytes, owner-only) for `store_key_file`; an
    /// existing file is never replaced.
    Keygen {
        /// Where to write the key, e.g. /etc/certkeeper/store.key.
        path: PathBuf,
    },
}

impl StoreCmd {
    /// Run the command locally; the key itself is never printed.
    pub fn run(&self, json: bool) -> anyhow::Result<()> {
        match self {
            Self::Keygen { path } => {
                StoreKey::generate(path)?;
                if json {
                    let answer = json!({ "path": path, "bytes": KEY_LEN, "mode": "600" });
                    println!("{}", serde_json::to_string_pretty(&answer)?);
                } else {
                    println!("wrote a {KEY_LEN}-byte store key to {}", path.display());
                }
                Ok(())
            }
        }
    }
}
