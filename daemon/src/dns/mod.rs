//! DNS for DNS-01: the built-in authoritative server and the propagation checker.
//!
//! **Server.** Users delegate a zone such as `_acme-challenge.example.com.` to certkeeper with
//! an NS record; certkeeper then answers for it from the in-memory
//! [`Board`](crate::challenge::Board). Over TCP it is hickory-server's [`Server`] with our own
//! [`RequestHandler`]: hickory owns the listener, framing and timeouts. Over UDP, where the
//! load is, `udp.rs` runs its own loop that answers each batch of packets on the task that
//! received it (hickory-proto parses and encodes). `handler.rs` and `zone.rs` decide each
//! answer for both.
//! hickory's catalog and in-memory zone store were not used: their records are static, while
//! ours change with every order and must be read from the board at query time.
//!
//! What it answers (all with AA set, never RA, nothing ever forwarded):
//! - TXT at any name in a zone: every value the board holds there (wildcard and apex share one);
//! - SOA and NS at each apex; the SOA minimum and every TTL is the configured `ttl`;
//! - NODATA (SOA in authority) for a name that exists without that type, NXDOMAIN (SOA in
//!   authority) for a name that does not;
//! - ANY like TXT, a small subset as RFC 8482 §4.1 allows;
//! - REFUSED outside the zones, for classes other than IN, and for AXFR/IXFR; NOTIMP for
//!   opcodes other than QUERY; BADVERS for EDNS versions above 0.
//!
//! UDP answers honour the client's EDNS size up to 1232 bytes (512 without EDNS); one that does
//! not fit goes out with TC set and no records, and the client asks again over TCP.
//!
//! hickory logs one `info` line per TCP response under `hickory_server`; filter it with
//! `hickory_server=warn` if that is too much. Our own `debug` line per query, UDP and TCP, is
//! under `certkeeper::dns`.
//!
//! **Propagation.** [`PropagationChecker`] finds the zone's authoritative servers through the
//! configured resolvers and then asks those servers directly, uncached, until each serves the
//! value.
//!
//! [`Server`]: hickory_server::Server
//! [`RequestHandler`]: hickory_server::server::RequestHandler

mod config;
mod datagram;
mod discovery;
mod exchange;
mod handler;
mod propagation;
mod server;
mod udp;
mod zone;

pub use config::{DnsServerConfig, PropagationConfig};
pub use exchange::ExchangeError;
pub use propagation::{AuthoritativeServers, PropagationChecker, PropagationError, ServerAnswer};
pub use server::{DnsError, DnsServer, spawn};
