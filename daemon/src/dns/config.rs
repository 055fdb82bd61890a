//! The `[dns_server]` and `[propagation]` settings, with their defaults.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::Path;

use serde::Deserialize;

use super::propagation::PropagationError;

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Settings of the built-in authoritative DNS server (`[dns_server]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsServerConfig {
    /// Addresses to serve on, UDP and TCP each. The default `[::]:53` is one dual-stack socket
    /// on Linux (IPv4 arrives v4-mapped); on a host without IPv6 use `0.0.0.0:53`.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// The zones delegated to certkeeper by NS records, e.g. `_acme-challenge.example.com.`.
    pub zones: Vec<String>,
    /// The NS target name the zones are delegated to, served in NS and as the SOA MNAME.
    pub nameserver: String,
    /// The SOA RNAME (mailbox as a name). Empty means `hostmaster.<zone>` for each zone.
    #[serde(default)]
    pub hostmaster: String,
    /// TTL of every record served, and the SOA minimum (the negative-caching TTL). Keep it
    /// small: a CA's resolver must not remember a missing value for long.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

impl Default for DnsServerConfig {
    /// Dual-stack port 53, TTL 60, no zones and no nameserver: both must be set before
    /// [`spawn`](super::spawn) accepts the config.
    fn default() -> Self {
        Self {
            listen: default_listen(),
            zones: Vec::new(),
            nameserver: String::new(),
            hostmaster: String::new(),
            ttl: default_ttl(),
        }
    }
}

fn default_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from((Ipv6Addr::UNSPECIFIED, 53))]
}

fn default_ttl() -> u32 {
    60
}

/// Settings of the propagation check (`[propagation]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropagationConfig {
    /// Resolvers asked for the zone cut, NS names and their addresses. Empty means the
    /// `nameserver` lines of /etc/resolv.conf.
    #[serde(default)]
    pub resolvers: Vec<SocketAddr>,
    /// Port at which the discovered authoritative servers are asked.
    #[serde(default = "default_nameserver_port")]
    pub nameserver_port: u16,
    /// How long [`PropagationChecker::wait_until_visible`] keeps polling.
    ///
    /// [`PropagationChecker::wait_until_visible`]: super::PropagationChecker::wait_until_visible
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Pause between two polls.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// Time allowed for one question to one server.
    #[serde(default = "default_query_timeout_ms")]
    pub query_timeout_ms: u64,
}

impl Default for PropagationConfig {
    /// Resolvers from /etc/resolv.conf, port 53, 10 minutes, every 2 s, 2 s per question.
    fn default() -> Self {
        Self {
            resolvers: Vec::new(),
            nameserver_port: default_nameserver_port(),
            timeout_secs: default_timeout_secs(),
            interval_secs: default_interval_secs(),
            query_timeout_ms: default_query_timeout_ms(),
        }
    }
}

fn default_nameserver_port() -> u16 {
    53
}
fn default_timeout_secs() -> u64 {
    600
}
fn default_interval_secs() -> u64 {
    2
}
fn default_query_timeout_ms() -> u64 {
    2000
}

/// The resolvers of /etc/resolv.conf, for a [`PropagationConfig`] that names none.
pub(crate) fn system_resolvers() -> Result<Vec<SocketAddr>, PropagationError> {
    resolvers_from(Path::new(RESOLV_CONF))
}

/// The `nameserver` lines of a resolv.conf, at port 53.
fn resolvers_from(path: &Path) -> Result<Vec<SocketAddr>, PropagationError> {
    let error = |reason: String| PropagationError::Resolvers {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let resolvers = parse_resolv_conf(&text);
    if resolvers.is_empty() {
        return Err(error(
            "no usable nameserver line; set propagation.resolvers".into(),
        ));
    }
    Ok(resolvers)
}

fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            line.split_whitespace()
                .collect::<Vec<_>>()
                .get(..2)
                .map(<[_]>::to_vec)
        })
        .filter(|words| words[0] == "nameserver")
        .filter_map(|words| words[1].parse().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_to_dual_stack_port_53_and_ttl_60() {
        let parsed: DnsServerConfig =
            toml::from_str("zones = [\"z.test\"]\nnameserver = \"ns.test.\"").unwrap();
        assert_eq!(
            parsed.listen,
            vec!["[::]:53".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(parsed.ttl, 60);
        assert!(
            toml::from_str::<DnsServerConfig>("zones = []\nnameserver = \"a.\"\nx = 1").is_err()
        );
    }

    #[test]
    fn reads_nameserver_lines_and_skips_the_rest() {
        let text = "# comment\nsearch x.test\nnameserver 127.0.0.53\nnameserver ::1\n\
                    nameserver fe80::1%eth0\n";
        let found = parse_resolv_conf(text);
        let expected: Vec<SocketAddr> = vec![
            "127.0.0.53:53".parse().unwrap(),
            "[::1]:53".parse().unwrap(),
        ];
        assert_eq!(found, expected);
    }
}
