//! Placeholder until the DNS branch lands: the agreed interface only.
#![allow(missing_docs, dead_code, unreachable_pub, clippy::unused_async)]
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;

use crate::challenge::Board;

#[derive(Debug, Clone, Deserialize, Default)]
pub struct DnsServerConfig {
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    #[serde(default)]
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct PropagationConfig {
    #[serde(default)]
    pub resolvers: Vec<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
#[error("dns: {0}")]
pub struct DnsError(String);

pub struct DnsServer;
impl DnsServer {
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        Vec::new()
    }
    pub async fn shutdown(self) {}
}

pub async fn spawn(_c: &DnsServerConfig, _b: Arc<Board>) -> Result<DnsServer, DnsError> {
    Ok(DnsServer)
}

#[derive(Debug, thiserror::Error)]
#[error("propagation: {0}")]
pub struct PropagationError(String);

pub struct PropagationChecker;
impl PropagationChecker {
    pub fn new(_c: PropagationConfig) -> Self {
        Self
    }
    pub async fn wait_until_visible(&self, _f: &str, _v: &str) -> Result<(), PropagationError> {
        Ok(())
    }
}
