//! One DNS question to one server, with no cache anywhere.
//!
//! A caching resolver library would remember "no such TXT" from the first poll for the
//! negative TTL, the classic way a DNS-01 propagation check never sees the value appear. Every
//! call here goes to the wire: UDP first, TCP when the answer comes back truncated.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::handler::MAX_UDP_PAYLOAD;

/// Why a question got no usable answer from a server.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// No answer within the query timeout.
    #[error("{server} did not answer {name} {qtype} within {timeout:?}")]
    Timeout {
        /// The server asked.
        server: SocketAddr,
        /// The name asked about.
        name: String,
        /// The record type asked for.
        qtype: RecordType,
        /// The time allowed.
        timeout: Duration,
    },
    /// A socket error, e.g. connection refused when nothing listens there.
    #[error("asking {server} for {name} {qtype}: {source}")]
    Io {
        /// The server asked.
        server: SocketAddr,
        /// The name asked about.
        name: String,
        /// The record type asked for.
        qtype: RecordType,
        /// The operating system's error.
        source: io::Error,
    },
    /// The question could not be encoded (e.g. a name too long).
    #[error("cannot encode a question for {name} {qtype}: {reason}")]
    Encode {
        /// The name asked about.
        name: String,
        /// The record type asked for.
        qtype: RecordType,
        /// The encoder's complaint.
        reason: String,
    },
    /// The server's TCP answer could not be parsed or did not match the question.
    #[error("{server} sent an unusable answer for {name} {qtype}: {reason}")]
    BadAnswer {
        /// The server asked.
        server: SocketAddr,
        /// The name asked about.
        name: String,
        /// The record type asked for.
        qtype: RecordType,
        /// What was wrong with it.
        reason: String,
    },
}

/// A question ready to send: the encoded query and what a matching answer must echo.
struct Question<'a> {
    server: SocketAddr,
    name: &'a Name,
    qtype: RecordType,
    message: Message,
    bytes: Vec<u8>,
}

/// Ask `server` for `qtype` at `name`, with RD set only when `recursion` is true.
pub(crate) async fn ask(
    server: SocketAddr,
    name: &Name,
    qtype: RecordType,
    recursion: bool,
    timeout: Duration,
) -> Result<Message, ExchangeError> {
    let question = Question::new(server, name, qtype, recursion)?;
    let exchange = async {
        let answer = question.over_udp().await?;
        if answer.metadata.truncation {
            question.over_tcp().await
        } else {
            Ok(answer)
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(ExchangeError::Timeout {
                server,
                name: name.to_string(),
                qtype,
                timeout,
            })
        })
}

impl<'a> Question<'a> {
    fn new(
        server: SocketAddr,
        name: &'a Name,
        qtype: RecordType,
        recursion: bool,
    ) -> Result<Self, ExchangeError> {
        let mut message = Message::query();
        message.metadata.recursion_desired = recursion;
        message.add_query(Query::query(name.clone(), qtype));
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_PAYLOAD);
        message.set_edns(edns);
        let bytes = message.to_vec().map_err(|error| ExchangeError::Encode {
            name: name.to_string(),
            qtype,
            reason: error.to_string(),
        })?;
        Ok(Self {
            server,
            name,
            qtype,
            message,
            bytes,
        })
    }

    async fn over_udp(&self) -> Result<Message, ExchangeError> {
        let local: SocketAddr = match self.server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await.map_err(|e| self.io(e))?;
        // A connected socket only delivers datagrams from the server's address.
        socket.connect(self.server).await.map_err(|e| self.io(e))?;
        socket.send(&self.bytes).await.map_err(|e| self.io(e))?;

        let mut buffer = vec![0; usize::from(u16::MAX)];
        loop {
            let len = socket.recv(&mut buffer).await.map_err(|e| self.io(e))?;
            // Stray or forged datagrams are skipped; the timeout bounds the wait.
            if let Ok(answer) = self.check(&buffer[..len]) {
                return Ok(answer);
            }
        }
    }

    async fn over_tcp(&self) -> Result<Message, ExchangeError> {
        let mut stream = TcpStream::connect(self.server)
            .await
            .map_err(|e| self.io(e))?;
        let len = u16::try_from(self.bytes.len()).map_err(|_| self.bad("query too long"))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(&self.bytes);
        stream.write_all(&framed).await.map_err(|e| self.io(e))?;

        let len = stream.read_u16().await.map_err(|e| self.io(e))?;
        let mut buffer = vec![0; usize::from(len)];
        stream
            .read_exact(&mut buffer)
            .await
            .map_err(|e| self.io(e))?;
        self.check(&buffer)
    }

    /// Parse `bytes` and make sure they answer this question.
    fn check(&self, bytes: &[u8]) -> Result<Message, ExchangeError> {
        let answer = Message::from_vec(bytes).map_err(|e| self.bad(&e.to_string()))?;
        if answer.metadata.message_type != MessageType::Response
            || answer.metadata.id != self.message.metadata.id
        {
            return Err(self.bad("not a response to this query"));
        }
        let echoed = answer.queries.first();
        let matches = echoed.is_some_and(|q| q.name() == self.name && q.query_type() == self.qtype);
        if answer.queries.len() != 1 || !matches {
            return Err(self.bad("the question section does not match"));
        }
        Ok(answer)
    }

    fn io(&self, source: io::Error) -> ExchangeError {
        let (server, name, qtype) = (self.server, self.name.to_string(), self.qtype);
        ExchangeError::Io {
            server,
            name,
            qtype,
            source,
        }
    }

    fn bad(&self, reason: &str) -> ExchangeError {
        let (server, name, qtype) = (self.server, self.name.to_string(), self.qtype);
        ExchangeError::BadAnswer {
            server,
            name,
            qtype,
            reason: reason.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::{RData, Record};
    use tokio::net::TcpListener;

    use super::*;

    fn answer_to(query: &[u8], truncated: bool) -> Vec<u8> {
        let query = Message::from_vec(query).unwrap();
        let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
        answer.metadata.truncation = truncated;
        answer.add_queries(query.queries.clone());
        if !truncated {
            let name = query.queries[0].name().clone();
            let txt = RData::TXT(TXT::new(vec!["over tcp".into()]));
            answer.add_answer(Record::from_rdata(name, 60, txt));
        }
        answer.to_vec().unwrap()
    }

    /// A server that answers every UDP query with TC set, and properly over TCP.
    async fn truncating_server() -> SocketAddr {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = TcpListener::bind(addr).await.unwrap();
        tokio::spawn(async move {
            let mut buffer = [0; 512];
            let (len, peer) = udp.recv_from(&mut buffer).await.unwrap();
            udp.send_to(&answer_to(&buffer[..len], true), peer)
                .await
                .unwrap();
        });
        tokio::spawn(async move {
            let (mut stream, _) = tcp.accept().await.unwrap();
            let len = stream.read_u16().await.unwrap();
            let mut query = vec![0; usize::from(len)];
            stream.read_exact(&mut query).await.unwrap();
            let answer = answer_to(&query, false);
            stream
                .write_u16(u16::try_from(answer.len()).unwrap())
                .await
                .unwrap();
            stream.write_all(&answer).await.unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn retries_over_tcp_when_the_udp_answer_is_truncated() {
        let server = truncating_server().await;
        let name = Name::from_ascii("x.test.").unwrap();
        let answer = ask(
            server,
            &name,
            RecordType::TXT,
            false,
            Duration::from_secs(2),
        )
        .await
        .unwrap();
        assert!(!answer.metadata.truncation);
        assert_eq!(answer.answers.len(), 1);
    }

    #[tokio::test]
    async fn times_out_naming_the_silent_server() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = silent.local_addr().unwrap();
        let name = Name::from_ascii("x.test.").unwrap();
        let error = ask(
            server,
            &name,
            RecordType::TXT,
            false,
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        assert!(matches!(error, ExchangeError::Timeout { .. }), "{error}");
        assert!(error.to_string().contains(&server.to_string()));
    }
}
