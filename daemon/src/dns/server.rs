//! Configuration, sockets and lifetime of the authoritative server.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::config::DnsServerConfig;
use super::handler::ChallengeHandler;
use super::udp;
use super::zone::{SoaTemplate, Zones, parse_name};
use crate::challenge::Board;

/// How long an idle TCP client may hold a connection.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;
/// Attempts to find a port free for both UDP and TCP when asked for port 0.
const PORT_ZERO_ATTEMPTS: usize = 8;
/// How long [`DnsServer::shutdown`] waits for the listeners to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the DNS server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A zone in `zones` is not a usable domain name.
    #[error("dns zone {zone:?} is invalid: {reason}")]
    InvalidZone {
        /// The zone as configured.
        zone: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configured name (`zones`, `nameserver`, `hostmaster`) is not a usable domain name.
    #[error("dns {what} {name:?} is invalid: {reason}")]
    InvalidName {
        /// Which setting holds the name.
        what: &'static str,
        /// The name as configured.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `zones` is empty: the server would refuse every question.
    #[error("dns zones is empty: list the zones delegated to certkeeper")]
    NoZones,
    /// `listen` is empty.
    #[error("dns listen is empty: give at least one address such as \"[::]:53\"")]
    NoListenAddress,
    /// A socket could not be bound.
    #[error("cannot bind dns {protocol} socket on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// `udp` or `tcp`.
        protocol: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
}

/// A running authoritative server; dropping it stops the listeners.
pub struct DnsServer {
    /// hickory-server, serving TCP.
    server: Server<ChallengeHandler>,
    /// The tasks answering on the UDP sockets (`udp.rs`).
    udp: Vec<JoinHandle<()>>,
    local_addrs: Vec<SocketAddr>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("local_addrs", &self.local_addrs)
            .finish()
    }
}

/// Validate `config`, bind UDP and TCP on every listen address and answer from `board`.
///
/// Each listen address gets one UDP socket and one TCP listener on the same port, also when
/// the configured port is 0.
///
/// # Errors
///
/// [`DnsError`] naming the bad zone or name, an empty `zones` or `listen`, or the address that
/// could not be bound.
pub async fn spawn(config: &DnsServerConfig, board: Arc<Board>) -> Result<DnsServer, DnsError> {
    let zones = zones_from(config)?;
    if config.listen.is_empty() {
        return Err(DnsError::NoListenAddress);
    }

    let handler = ChallengeHandler::new(zones, board);
    let mut server = Server::new(handler.clone());
    let mut sockets = Vec::with_capacity(config.listen.len());
    let mut local_addrs = Vec::with_capacity(config.listen.len());
    for &addr in &config.listen {
        let (socket, tcp) = bind_pair(addr).await?;
        local_addrs.push(
            socket
                .local_addr()
                .map_err(|source| bind_error(addr, "udp", source))?,
        );
        sockets.push(socket);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
    }
    // Only once every address is bound, so a failed bind leaves no task behind.
    let udp = sockets
        .into_iter()
        .flat_map(|socket| udp::serve(socket, &handler))
        .collect();

    info!(addrs = ?local_addrs, zones = ?config.zones, "dns server listening");
    Ok(DnsServer {
        server,
        udp,
        local_addrs,
    })
}

impl DnsServer {
    /// The addresses actually bound, in `listen` order (port 0 resolved).
    #[must_use]
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Stop accepting queries and wait briefly for the listeners to finish.
    pub async fn shutdown(mut self) {
        self.stop_udp();
        match tokio::time::timeout(SHUTDOWN_GRACE, self.server.shutdown_gracefully()).await {
            Ok(Ok(())) => info!(addrs = ?self.local_addrs, "dns server stopped"),
            Ok(Err(error)) => warn!(%error, "dns server stopped with an error"),
            Err(_) => warn!("dns server did not stop in time; its tasks are aborted"),
        }
    }
}

impl DnsServer {
    /// Abort the UDP tasks: they hold no state a query needs finished.
    fn stop_udp(&mut self) {
        for task in self.udp.drain(..) {
            task.abort();
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop_udp();
    }
}

impl DnsServerConfig {
    /// Check the zone, nameserver and hostmaster names without binding anything, so
    /// `check-config` refuses what `run` would.
    pub fn validate(&self) -> Result<(), DnsError> {
        zones_from(self).map(drop)
    }
}

/// Check every name in `config` and build the zone set.
fn zones_from(config: &DnsServerConfig) -> Result<Zones, DnsError> {
    if config.zones.is_empty() {
        return Err(DnsError::NoZones);
    }
    let apexes = config
        .zones
        .iter()
        .map(|zone| {
            parse_name(zone, "zone").map_err(|error| match error {
                DnsError::InvalidName { name, reason, .. } => {
                    DnsError::InvalidZone { zone: name, reason }
                }
                other => other,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let hostmaster = match config.hostmaster.as_str() {
        "" => None,
        name => Some(parse_name(name, "hostmaster")?),
    };
    let template = SoaTemplate {
        nameserver: parse_name(&config.nameserver, "nameserver")?,
        hostmaster,
        serial: serial_now(),
        ttl: config.ttl,
    };
    Zones::new(apexes, &template)
}

/// A serial from the clock, so a restarted server never goes backwards.
fn serial_now() -> u32 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    u32::try_from(seconds % u64::from(u32::MAX)).unwrap_or(1)
}

/// Bind UDP on `addr`, then TCP on the port UDP got.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|source| bind_error(addr, "udp", source))?;
        let bound = udp
            .local_addr()
            .map_err(|source| bind_error(addr, "udp", source))?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            // Port 0 gave a UDP port whose TCP twin is taken: try another.
            Err(error)
                if addr.port() == 0
                    && error.kind() == io::ErrorKind::AddrInUse
                    && attempt < PORT_ZERO_ATTEMPTS => {}
            Err(source) => return Err(bind_error(bound, "tcp", source)),
        }
    }
}

fn bind_error(addr: SocketAddr, protocol: &'static str, source: io::Error) -> DnsError {
    DnsError::Bind {
        addr,
        protocol,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(zones: &[&str]) -> DnsServerConfig {
        DnsServerConfig {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            zones: zones.iter().map(|z| z.to_string()).collect(),
            nameserver: "ns.certkeeper.test.".into(),
            ..DnsServerConfig::default()
        }
    }

    #[tokio::test]
    async fn refuses_to_start_with_a_bad_zone_and_names_it() {
        let error = spawn(
            &config(&["ok.test", "bad zone.test"]),
            Arc::new(Board::new()),
        )
        .await
        .unwrap_err();
        assert!(matches!(&error, DnsError::InvalidZone { zone, .. } if zone == "bad zone.test"));
        assert!(error.to_string().contains("bad zone.test"));
    }

    #[tokio::test]
    async fn refuses_to_start_without_a_nameserver() {
        let mut config = config(&["ok.test"]);
        config.nameserver.clear();
        let error = spawn(&config, Arc::new(Board::new())).await.unwrap_err();
        assert!(matches!(
            error,
            DnsError::InvalidName {
                what: "nameserver",
                ..
            }
        ));
    }

    #[tokio::test]
    async fn names_the_address_when_bind_fails() {
        let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let mut config = config(&["ok.test"]);
        config.listen = vec![addr];
        let error = spawn(&config, Arc::new(Board::new())).await.unwrap_err();
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    }

    #[tokio::test]
    async fn binds_udp_and_tcp_on_the_same_port_when_asked_for_port_zero() {
        let server = spawn(&config(&["ok.test"]), Arc::new(Board::new()))
            .await
            .unwrap();
        let addr = server.local_addrs()[0];
        assert_ne!(addr.port(), 0);
        assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
        server.shutdown().await;
    }
}
