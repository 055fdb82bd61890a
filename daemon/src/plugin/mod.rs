//! Placeholder until the plugin branch lands: the agreed interface only.
#![allow(missing_docs, dead_code, unreachable_pub, clippy::unused_async)]
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    pub plugin: String,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("plugin: {0}")]
pub struct PluginError(String);

#[derive(Debug, thiserror::Error)]
#[error("plugin call: {0}")]
pub struct PluginCallError(String);

#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    pub name: String,
}

pub struct PluginHost;
impl PluginHost {
    pub fn load(_d: &Path, _p: Vec<ProviderConfig>) -> Result<Self, PluginError> {
        Ok(Self)
    }
    pub async fn present(
        &self,
        _p: &str,
        _f: &str,
        _v: &str,
        _t: u32,
    ) -> Result<(), PluginCallError> {
        Ok(())
    }
    pub async fn cleanup(&self, _p: &str, _f: &str, _v: &str) -> Result<(), PluginCallError> {
        Ok(())
    }
    pub fn plugins(&self) -> Vec<PluginInfo> {
        Vec::new()
    }
    pub fn has_provider(&self, _n: &str) -> bool {
        true
    }
}
