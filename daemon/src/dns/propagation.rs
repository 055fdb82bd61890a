//! Waiting until a DNS-01 TXT value is visible on every authoritative server of its zone.
//!
//! A CA validates through its own resolvers, which may ask any of the zone's servers. Asking
//! a recursive resolver instead would test one server, once, and cache the miss; so the
//! resolvers are used only to find the zone and its servers, and the servers themselves are
//! asked (RD=0) on every poll.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info};

use super::config::{PropagationConfig, system_resolvers};
use super::discovery::Discovery;
use super::exchange;
use crate::challenge::canonical_name;

/// Why a propagation check could not conclude.
#[derive(Debug, thiserror::Error)]
pub enum PropagationError {
    /// The resolver list could not be read from the system.
    #[error("cannot read resolvers from {path}: {reason}")]
    Resolvers {
        /// The file read.
        path: String,
        /// What went wrong, or that it lists none.
        reason: String,
    },
    /// The name to check is not a valid domain name.
    #[error("{name:?} is not a valid domain name: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// The parser's complaint.
        reason: String,
    },
    /// No resolver gave a usable answer.
    #[error("no resolver answered {name} {qtype}: {failures}")]
    Lookup {
        /// The name asked about.
        name: String,
        /// The record type asked for.
        qtype: RecordType,
        /// Each resolver's failure.
        failures: String,
    },
    /// The CNAME chain from the name is longer than certkeeper follows.
    #[error("CNAME chain from {name} is too long or loops")]
    CnameLoop {
        /// Where the chain starts.
        name: String,
    },
    /// Walking up from the name found no SOA.
    #[error("no zone (SOA) found above {name}")]
    ZoneNotFound {
        /// The name whose zone was sought.
        name: String,
    },
    /// The zone has no NS records.
    #[error("zone {zone} has no NS records")]
    NoNameservers {
        /// The zone apex.
        zone: String,
    },
    /// None of the zone's NS names resolved to an address.
    #[error("no address found for any nameserver of zone {zone} ({names})")]
    NoNameserverAddresses {
        /// The zone apex.
        zone: String,
        /// The NS names tried.
        names: String,
    },
    /// The value did not appear on every server before the timeout.
    #[error("TXT {value:?} at {name} not visible after {waited:?} on: {missing}")]
    NotVisible {
        /// The name as given to [`PropagationChecker::wait_until_visible`].
        name: String,
        /// The value expected.
        value: String,
        /// How long certkeeper polled.
        waited: Duration,
        /// Each server that did not answer the value, with its last error if any.
        missing: String,
    },
}

/// A zone and the servers that answer for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthoritativeServers {
    /// Where the TXT record lives: the name asked, or the end of its CNAME chain.
    pub name: String,
    /// The zone apex, lowercase with a trailing dot.
    pub zone: String,
    /// The zone's servers at `nameserver_port`, sorted, without duplicates.
    pub servers: Vec<SocketAddr>,
}

/// What one authoritative server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAnswer {
    /// The server asked.
    pub server: SocketAddr,
    /// Whether its answer held the value.
    pub seen: bool,
    /// Why its answer could not be used, when it could not.
    pub error: Option<String>,
}

/// Asks a zone's authoritative servers whether they serve a TXT value yet.
#[derive(Debug, Clone)]
pub struct PropagationChecker {
    config: PropagationConfig,
    resolvers: Vec<SocketAddr>,
}

impl PropagationChecker {
    /// A checker using `config`; reads /etc/resolv.conf when `config.resolvers` is empty.
    ///
    /// # Errors
    ///
    /// [`PropagationError::Resolvers`] when resolv.conf is unreadable or lists no nameserver.
    pub fn new(config: PropagationConfig) -> Result<Self, PropagationError> {
        let resolvers = if config.resolvers.is_empty() {
            system_resolvers()?
        } else {
            config.resolvers.clone()
        };
        Ok(Self { config, resolvers })
    }

    /// Find the zone holding `fqdn` (after any CNAME) and the addresses of its servers.
    ///
    /// # Errors
    ///
    /// When no resolver answers, the CNAME chain loops, no SOA is found, or the zone's NS
    /// names have no address; each error names the name or zone concerned.
    pub async fn authoritative_servers(
        &self,
        fqdn: &str,
    ) -> Result<AuthoritativeServers, PropagationError> {
        let discovery = Discovery {
            resolvers: &self.resolvers,
            timeout: self.query_timeout(),
        };
        let name = discovery.follow_cnames(&parse_fqdn(fqdn)?).await?;
        let zone = discovery.zone_apex(&name).await?;

        let servers = self.server_addresses(&discovery, &zone).await?;

        debug!(name = %name, zone = %zone, servers = ?servers, "dns-01 authoritative servers");
        Ok(AuthoritativeServers {
            name: canonical_name(&name.to_ascii()),
            zone: zone.to_ascii(),
            servers,
        })
    }

    /// Ask every authoritative server of `fqdn`'s zone, once, whether it serves TXT `value`.
    ///
    /// # Errors
    ///
    /// Only discovery errors, as [`Self::authoritative_servers`]; a server that fails to answer
    /// is reported in its [`ServerAnswer::error`].
    pub async fn check(
        &self,
        fqdn: &str,
        value: &str,
    ) -> Result<Vec<ServerAnswer>, PropagationError> {
        let servers = self.authoritative_servers(fqdn).await?;
        self.check_servers(&servers, value).await
    }

    /// Ask each of `servers` once, concurrently, whether it serves TXT `value`; answers come
    /// back in the order of `servers.servers`.
    ///
    /// # Errors
    ///
    /// [`PropagationError::InvalidName`] when `servers.name` is not a domain name.
    pub async fn check_servers(
        &self,
        servers: &AuthoritativeServers,
        value: &str,
    ) -> Result<Vec<ServerAnswer>, PropagationError> {
        let name = parse_fqdn(&servers.name)?;
        let mut asks = JoinSet::new();
        for (index, &server) in servers.servers.iter().enumerate() {
            let (name, value, timeout) = (name.clone(), value.to_owned(), self.query_timeout());
            asks.spawn(async move { (index, ask_server(server, &name, &value, timeout).await) });
        }

        let mut answers: Vec<ServerAnswer> = servers.servers.iter().map(|&s| lost(s)).collect();
        while let Some(joined) = asks.join_next().await {
            if let Ok((index, answer)) = joined {
                answers[index] = answer;
            }
        }
        Ok(answers)
    }

    /// Poll until every authoritative server serves TXT `value` at `fqdn`, or the timeout
    /// passes. Discovery failures are retried too: a zone may be in the middle of a change.
    ///
    /// # Errors
    ///
    /// [`PropagationError::NotVisible`] naming the name, the value and each server still
    /// without it; or the last discovery error when discovery was failing at the deadline.
    pub async fn wait_until_visible(
        &self,
        fqdn: &str,
        value: &str,
    ) -> Result<(), PropagationError> {
        let started = Instant::now();
        let deadline = started
            .checked_add(Duration::from_secs(self.config.timeout_secs))
            .unwrap_or(started + Duration::from_secs(7 * 86_400));
        loop {
            let missing = match self.poll_once(fqdn, value).await {
                Ok(None) => {
                    let elapsed = started.elapsed();
                    info!(
                        name = fqdn,
                        ?elapsed,
                        "dns-01 value visible on every server"
                    );
                    return Ok(());
                }
                Ok(Some(missing)) => Some(missing),
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(error) => {
                    debug!(%error, name = fqdn, "dns-01 propagation check will retry");
                    None
                }
            };
            let now = Instant::now();
            if now >= deadline {
                let (name, value, waited) = (fqdn.to_owned(), value.to_owned(), started.elapsed());
                let missing = missing.unwrap_or_else(|| "(discovery kept failing)".into());
                return Err(PropagationError::NotVisible {
                    name,
                    value,
                    waited,
                    missing,
                });
            }
            let pause = Duration::from_secs(self.config.interval_secs).min(deadline - now);
            tokio::time::sleep(pause).await;
        }
    }

    /// One round: `None` when every server sees the value, else who does not.
    async fn poll_once(&self, fqdn: &str, value: &str) -> Result<Option<String>, PropagationError> {
        let servers = self.authoritative_servers(fqdn).await?;
        let answers = self.check_servers(&servers, value).await?;
        let missing: Vec<String> = answers
            .iter()
            .filter(|answer| !answer.seen)
            .map(describe_miss)
            .collect();
        debug!(
            name = fqdn,
            missing = missing.len(),
            of = answers.len(),
            "dns-01 propagation poll"
        );
        Ok((!missing.is_empty()).then(|| missing.join(", ")))
    }

    /// The addresses of `zone`'s nameservers (glue, else looked up) at `nameserver_port`.
    async fn server_addresses(
        &self,
        discovery: &Discovery<'_>,
        zone: &Name,
    ) -> Result<Vec<SocketAddr>, PropagationError> {
        let nameservers = discovery.nameservers(zone).await?;
        let mut servers = Vec::new();
        for (host, glue) in &nameservers {
            let addresses = if glue.is_empty() {
                discovery.addresses(host).await
            } else {
                glue.clone()
            };
            let port = self.config.nameserver_port;
            servers.extend(addresses.into_iter().map(|ip| SocketAddr::new(ip, port)));
        }
        servers.sort();
        servers.dedup();
        if servers.is_empty() {
            let names: Vec<String> = nameservers
                .iter()
                .map(|(host, _)| host.to_string())
                .collect();
            let (zone, names) = (zone.to_string(), names.join(", "));
            return Err(PropagationError::NoNameserverAddresses { zone, names });
        }
        Ok(servers)
    }

    fn query_timeout(&self) -> Duration {
        Duration::from_millis(self.config.query_timeout_ms)
    }
}

/// Ask one authoritative server, RD=0, for TXT at `name`.
async fn ask_server(
    server: SocketAddr,
    name: &Name,
    value: &str,
    timeout: Duration,
) -> ServerAnswer {
    let answer = match exchange::ask(server, name, RecordType::TXT, false, timeout).await {
        Ok(answer) => answer,
        Err(error) => {
            return ServerAnswer {
                server,
                seen: false,
                error: Some(error.to_string()),
            };
        }
    };
    let rcode = answer.metadata.response_code;
    let error = if !matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
        Some(format!("answered {rcode}"))
    } else if !answer.metadata.authoritative {
        Some("answered without the AA flag: not authoritative for the zone".to_owned())
    } else {
        None
    };
    let seen = error.is_none() && holds_value(&answer.answers, name, value);
    ServerAnswer {
        server,
        seen,
        error,
    }
}

/// Whether `records` hold a TXT record at `name` whose character-strings join to `value`.
fn holds_value(records: &[hickory_proto::rr::Record], name: &Name, value: &str) -> bool {
    records
        .iter()
        .filter(|record| record.name == *name)
        .any(|record| match &record.data {
            RData::TXT(txt) => txt.txt_data.concat() == value.as_bytes(),
            _ => false,
        })
}

/// The answer recorded for a server whose check task never reported (it cannot panic, but a
/// missing report must never count as seen).
fn lost(server: SocketAddr) -> ServerAnswer {
    ServerAnswer {
        server,
        seen: false,
        error: Some("the check did not complete".to_owned()),
    }
}

fn describe_miss(answer: &ServerAnswer) -> String {
    match &answer.error {
        Some(error) => format!("{} ({error})", answer.server),
        None => answer.server.to_string(),
    }
}

fn parse_fqdn(fqdn: &str) -> Result<Name, PropagationError> {
    Name::from_ascii(canonical_name(fqdn)).map_err(|error| PropagationError::InvalidName {
        name: fqdn.to_owned(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::challenge::Board;
    use crate::dns::{DnsServerConfig, PropagationConfig, spawn};

    #[test]
    fn matches_a_value_split_over_several_strings_only_at_the_name() {
        use hickory_proto::rr::Record;
        use hickory_proto::rr::rdata::TXT;
        let name = Name::from_ascii("a.test.").unwrap();
        let txt = RData::TXT(TXT::new(vec!["ab".into(), "cd".into()]));
        let records = vec![Record::from_rdata(name.clone(), 60, txt)];
        assert!(holds_value(&records, &name, "abcd"));
        assert!(!holds_value(&records, &name, "ab"));
        assert!(!holds_value(
            &records,
            &Name::from_ascii("b.test.").unwrap(),
            "abcd"
        ));
    }

    #[tokio::test]
    async fn sees_a_value_once_the_authoritative_server_serves_it() {
        let config = DnsServerConfig {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            zones: vec!["_acme-challenge.p.test.".into()],
            nameserver: "ns.p.test.".into(),
            ..DnsServerConfig::default()
        };
        let board = Arc::new(Board::new());
        let server = spawn(&config, board.clone()).await.unwrap();
        let checker = PropagationChecker::new(PropagationConfig {
            resolvers: server.local_addrs().to_vec(),
            ..PropagationConfig::default()
        })
        .unwrap();
        let servers = AuthoritativeServers {
            name: "_acme-challenge.p.test.".into(),
            zone: "_acme-challenge.p.test.".into(),
            servers: server.local_addrs().to_vec(),
        };

        let before = checker.check_servers(&servers, "token").await.unwrap();
        assert_eq!((before[0].seen, &before[0].error), (false, &None));
        board.add_txt("_acme-challenge.p.test", "token");
        let after = checker.check_servers(&servers, "token").await.unwrap();
        assert!(after[0].seen, "{after:?}");
        server.shutdown().await;
    }
}
