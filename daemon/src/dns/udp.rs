//! The UDP listener: tasks that each receive a batch of queries, answer each on the spot and
//! send the batch of replies; one per runtime worker shares each socket.
//!
//! hickory-server's own UDP loop hands every packet to a new task, so nearly each query woke a
//! second worker thread, and it spends one system call per packet each way. Answering on the
//! receiving task with batched system calls ([`datagram`](super::datagram)) costs about half the
//! CPU per query; `docs/BENCHMARKS.md` has the numbers. TCP stays with hickory-server.
//!
//! What gets no answer at all: datagrams over [`MAX_QUERY`](super::datagram::MAX_QUERY) bytes,
//! packets shorter than a DNS header, responses (QR set: answering them could bounce between
//! two servers), and packets from addresses a reply cannot go to (port 0, unspecified,
//! broadcast or multicast). A packet with a header but an unreadable body gets FORMERR, header
//! only. Every reply is built in a buffer bounded by the client's EDNS size, so no query is
//! answered with more than 1232 bytes.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tracing::{debug, error};

use super::datagram::{Inbox, Outbox};
use super::handler::ChallengeHandler;

/// Tasks reading one socket at most; more would only wake each other for the same packets.
const MAX_TASKS_PER_SOCKET: usize = 4;

/// Answer queries arriving on `socket` with `handler` until the tasks are aborted or the socket
/// fails for good: one task for each of the runtime's worker threads (at most
/// [`MAX_TASKS_PER_SOCKET`]), each with its own buffers, so every core can answer.
pub(crate) fn serve(socket: UdpSocket, handler: &ChallengeHandler) -> Vec<JoinHandle<()>> {
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let socket = Arc::new(socket);
    (0..workers.clamp(1, MAX_TASKS_PER_SOCKET))
        .map(|_| tokio::spawn(run(socket.clone(), handler.clone())))
        .collect()
}

async fn run(socket: Arc<UdpSocket>, handler: ChallengeHandler) {
    let mut inbox = Inbox::new();
    let mut outbox = Outbox::new();
    let mut scratch = Vec::with_capacity(usize::from(super::handler::MAX_UDP_PAYLOAD));
    let mut tally = Tally::default();
    loop {
        if let Err(error) = receive(&socket, &mut inbox).await {
            if is_transient(&error) {
                debug!(%error, "dns udp receive failed");
                continue;
            }
            error!(%error, addr = ?socket.local_addr().ok(), "dns udp socket failed; not answering on it");
            return;
        }

        outbox.clear();
        for (src, packet) in inbox.packets() {
            if let Some(rcode) = answer(&handler, src, packet, &mut scratch) {
                outbox.push(src, &scratch);
                tally.count(rcode);
            }
        }
        tally.flush();
        send(&socket, &mut outbox).await;
    }
}

/// Wait for the next batch of packets.
async fn receive(socket: &UdpSocket, inbox: &mut Inbox) -> io::Result<usize> {
    loop {
        socket.readable().await?;
        match socket.try_io(Interest::READABLE, || inbox.receive(socket)) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            result => return result,
        }
    }
}

/// Send every reply in `outbox`, waiting while the socket's buffer is full. A reply the kernel
/// refuses is dropped, as a lost datagram would be.
async fn send(socket: &UdpSocket, outbox: &mut Outbox) {
    while !outbox.is_done() {
        match socket.try_io(Interest::WRITABLE, || outbox.send(socket)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                if socket.writable().await.is_err() {
                    return;
                }
            }
            Err(error) => debug!(%error, "dns reply not sent"),
        }
    }
}

/// Errors after which the socket still works: a signal, or an ICMP error for an earlier reply.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}

/// Write the reply to `packet` from `src` into `out` and return its response code, or `None`
/// when the packet gets no answer (see the module docs).
fn answer(
    handler: &ChallengeHandler,
    src: SocketAddr,
    packet: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Option<ResponseCode> {
    let packet = packet?;
    if !can_reply_to(src) {
        return None;
    }
    match Request::from_bytes(packet.to_vec(), src, Protocol::Udp) {
        Ok(request) if request.metadata.message_type == MessageType::Query => {
            handler.answer_udp(&request, out)
        }
        Ok(_) => None,
        Err(error) => {
            debug!(%error, %src, "dns query unreadable");
            formerr(packet, out)
        }
    }
}

/// FORMERR with no sections for a query whose header reads but whose body does not.
fn formerr(packet: &[u8], out: &mut Vec<u8>) -> Option<ResponseCode> {
    let header = Header::read(&mut BinDecoder::new(packet)).ok()?;
    if header.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut metadata = Metadata::response_from_request(&header.metadata);
    metadata.response_code = ResponseCode::FormErr;
    metadata.recursion_available = false;
    let reply = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    out.clear();
    reply.emit(&mut BinEncoder::new(out)).ok()?;
    Some(ResponseCode::FormErr)
}

/// Whether a reply to `src` can reach a single host.
fn can_reply_to(src: SocketAddr) -> bool {
    let ip = src.ip();
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    src.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && !broadcast
}

/// Answered queries by response code, added to the metrics once per batch instead of once per
/// query (each addition takes the metrics lock).
#[derive(Default)]
struct Tally {
    counts: Vec<(ResponseCode, u64)>,
}

impl Tally {
    fn count(&mut self, rcode: ResponseCode) {
        match self.counts.iter_mut().find(|(code, _)| *code == rcode) {
            Some((_, count)) => *count += 1,
            None => self.counts.push((rcode, 1)),
        }
    }

    fn flush(&mut self) {
        for (rcode, count) in self.counts.drain(..) {
            crate::metrics::dns_queries_answered(&rcode.to_string(), count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_replies_to_unreachable_sources() {
        for src in [
            "0.0.0.0:53",
            "127.0.0.1:0",
            "255.255.255.255:53",
            "224.0.0.1:53",
            "[::]:53",
        ] {
            assert!(!can_reply_to(src.parse().unwrap()), "{src}");
        }
        assert!(can_reply_to("127.0.0.1:40000".parse().unwrap()));
    }

    #[test]
    fn answers_formerr_to_a_readable_header_and_nothing_to_less() {
        let mut out = Vec::new();
        let query = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 63, b'x'];
        assert_eq!(formerr(&query, &mut out), Some(ResponseCode::FormErr));
        assert_eq!(&out[..2], &[0x12, 0x34]);
        assert_eq!(out[2] & 0x80, 0x80, "QR set");
        assert_eq!(out[3] & 0x0f, 1, "FORMERR");
        assert_eq!(out.len(), 12);

        assert_eq!(formerr(&query[..11], &mut out), None);
        let mut response = query;
        response[2] |= 0x80;
        assert_eq!(
            formerr(&response, &mut out),
            None,
            "responses are never answered"
        );
    }
}
