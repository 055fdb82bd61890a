//! Turning one parsed request into one response: opcode, EDNS and flags around a zone lookup.
//!
//! The transport has already dropped packets without a readable header and answered FORMERR to
//! those it could not parse; everything reaching [`ChallengeHandler`] is a well-formed message.
//! Over TCP hickory-server calls it as a [`RequestHandler`]; over UDP `udp.rs` calls
//! [`ChallengeHandler::answer_udp`] on the receiving task and sends the bytes itself.

use std::sync::Arc;

use async_trait::async_trait;
use hickory_proto::op::{
    Edns, Header, HeaderCounts, LowerQuery, Message, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_proto::rr::{DNSClass, Record, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tracing::{debug, warn};

use super::zone::{Outcome, Zones};
use crate::challenge::Board;

/// The largest UDP answer sent, whatever the client offers: the DNS flag day 2020 value, which
/// avoids IP fragmentation on common paths.
pub(crate) const MAX_UDP_PAYLOAD: u16 = 1232;
/// The smallest payload every DNS client accepts (RFC 1035 §4.2.1).
const MIN_UDP_PAYLOAD: u16 = 512;

/// Answers queries for the delegated zones from the challenge board; cheap to clone.
#[derive(Clone)]
pub(crate) struct ChallengeHandler {
    zones: Arc<Zones>,
    board: Arc<Board>,
}

/// A response before encoding.
#[derive(Debug)]
struct Reply {
    metadata: Metadata,
    answers: Vec<Record>,
    authority: Vec<Record>,
}

impl ChallengeHandler {
    pub(crate) fn new(zones: Zones, board: Arc<Board>) -> Self {
        Self {
            zones: Arc::new(zones),
            board,
        }
    }

    /// Encode the answer to a UDP `request` into `out` and return its response code, or
    /// `None` when no answer could be encoded.
    ///
    /// The reply is encoded once; when it is longer than the client's EDNS size (512 without
    /// EDNS, at most [`MAX_UDP_PAYLOAD`]) it is encoded again with TC set and no records.
    pub(crate) fn answer_udp(&self, request: &Request, out: &mut Vec<u8>) -> Option<ResponseCode> {
        let edns = response_edns(request.edns.as_ref());
        let limit = usize::from(edns.as_ref().map_or(MIN_UDP_PAYLOAD, Edns::max_payload));
        let mut reply = self.reply(request);
        if reply.emit(request, edns.as_ref(), out).is_err() || out.len() > limit {
            reply.truncate();
            reply.emit(request, edns.as_ref(), out).ok()?;
        }
        trace_query(request, &reply);
        Some(reply.metadata.response_code)
    }

    fn reply(&self, request: &Request) -> Reply {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = false;
        let mut reply = Reply {
            metadata,
            answers: Vec::new(),
            authority: Vec::new(),
        };

        let query = match question(request) {
            Ok(query) => query,
            Err(rcode) => {
                reply.metadata.response_code = rcode;
                return reply;
            }
        };
        match self
            .zones
            .answer(&self.board, query.original().name(), query.query_type())
        {
            Outcome::Refused => reply.metadata.response_code = ResponseCode::Refused,
            Outcome::Authoritative {
                rcode,
                answers,
                authority,
            } => {
                reply.metadata.authoritative = true;
                reply.metadata.response_code = rcode;
                reply.answers = answers;
                reply.authority = authority;
            }
        }
        reply
    }
}

/// The one question a request may ask of the zones, or the rcode refusing it.
fn question(request: &Request) -> Result<&LowerQuery, ResponseCode> {
    if request.metadata.op_code != OpCode::Query {
        return Err(ResponseCode::NotImp);
    }
    if request.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
        return Err(ResponseCode::BADVERS);
    }
    let [query] = request.queries.queries() else {
        return Err(ResponseCode::FormErr);
    };
    if query.query_class() != DNSClass::IN || is_transfer(query.query_type()) {
        return Err(ResponseCode::Refused);
    }
    Ok(query)
}

#[async_trait]
impl RequestHandler for ChallengeHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let edns = response_edns(request.edns.as_ref());
        let mut reply = self.reply(request);
        reply.fit(request, edns.as_ref());
        trace_query(request, &reply);
        crate::metrics::dns_query_answered(&reply.metadata.response_code.to_string());

        let response = MessageResponseBuilder::new(&request.queries, edns.as_ref()).build(
            reply.metadata,
            &reply.answers,
            &reply.authority,
            std::iter::empty(),
            std::iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, src = %request.src(), "dns response not sent");
                failed(&request.metadata)
            }
        }
    }
}

impl Reply {
    /// Empty the reply and set TC when it does not fit the transport's size limit.
    ///
    /// N.B. hickory's encoder can truncate by itself, but its rollback leaves the bytes of the
    /// record that did not fit after the end of the message; a TC answer without records avoids
    /// that path, and a client retries over TCP anyway (RFC 2181 §9).
    fn fit(&mut self, request: &Request, edns: Option<&Edns>) {
        let limit = match request.protocol() {
            Protocol::Udp => edns.map_or(MIN_UDP_PAYLOAD, Edns::max_payload),
            _ => u16::MAX,
        };
        if self
            .encoded_len(request, edns)
            .is_none_or(|len| len > usize::from(limit))
        {
            self.truncate();
        }
    }

    /// Set TC and drop every record (see [`Reply::fit`] for why none are kept).
    fn truncate(&mut self) {
        self.metadata.truncation = true;
        self.answers.clear();
        self.authority.clear();
    }

    /// Encode this reply to `request` into `out`, replacing its contents, without a size limit.
    fn emit(
        &self,
        request: &Request,
        edns: Option<&Edns>,
        out: &mut Vec<u8>,
    ) -> Result<(), hickory_proto::ProtoError> {
        out.clear();
        let response = MessageResponseBuilder::new(&request.queries, edns).build(
            self.metadata,
            &self.answers,
            &self.authority,
            std::iter::empty(),
            std::iter::empty(),
        );
        response
            .destructive_emit(&mut BinEncoder::new(out))
            .map(drop)
    }

    /// The size of this reply on the wire, or `None` when it cannot be encoded at all.
    fn encoded_len(&self, request: &Request, edns: Option<&Edns>) -> Option<usize> {
        let mut message = Message::new(self.metadata.id, MessageType::Response, OpCode::Query);
        message.metadata = self.metadata;
        message.add_queries(
            request
                .queries
                .queries()
                .iter()
                .map(|q| q.original().clone()),
        );
        message.add_answers(self.answers.iter().cloned());
        message.add_authorities(self.authority.iter().cloned());
        if let Some(edns) = edns {
            message.set_edns(edns.clone());
        }
        message.to_vec().ok().map(|bytes| bytes.len())
    }
}

/// The OPT record of the response: present when the client sent one, offering the client's
/// size capped at [`MAX_UDP_PAYLOAD`]. hickory limits a UDP response to this size.
fn response_edns(asked: Option<&Edns>) -> Option<Edns> {
    let size = asked?.max_payload().clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD);
    let mut edns = Edns::new();
    edns.set_max_payload(size);
    Some(edns)
}

/// AXFR and IXFR: certkeeper has no secondaries and hands its zones to nobody.
fn is_transfer(qtype: RecordType) -> bool {
    matches!(qtype, RecordType::AXFR | RecordType::IXFR)
}

fn trace_query(request: &Request, reply: &Reply) {
    let query = request.queries.queries().first();
    debug!(
        src = %request.src(),
        protocol = %request.protocol(),
        name = query.map(|q| q.name().to_string()).unwrap_or_default(),
        qtype = query.map(|q| q.query_type().to_string()).unwrap_or_default(),
        opcode = %request.metadata.op_code,
        rcode = %reply.metadata.response_code,
        answers = reply.answers.len(),
        "dns query"
    );
}

/// The info hickory reports when a response could not be sent.
fn failed(request: &Metadata) -> ResponseInfo {
    let mut metadata = Metadata::new(request.id, MessageType::Response, request.op_code);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_the_clients_udp_size_within_512_and_1232() {
        let mut asked = Edns::new();
        asked.set_max_payload(4096);
        assert_eq!(response_edns(Some(&asked)).unwrap().max_payload(), 1232);
        asked.set_max_payload(800);
        assert_eq!(response_edns(Some(&asked)).unwrap().max_payload(), 800);
        asked.set_max_payload(100);
        assert_eq!(response_edns(Some(&asked)).unwrap().max_payload(), 512);
        assert!(response_edns(None).is_none());
    }

    #[test]
    fn refuses_zone_transfers() {
        assert!(is_transfer(RecordType::AXFR));
        assert!(!is_transfer(RecordType::TXT));
    }
}
