//! Batched datagram I/O for the UDP listener: on Linux one `recvmmsg` or `sendmmsg` system call
//! moves up to [`BATCH`] packets; elsewhere a loop of non-blocking `recv_from`/`send_to` does.
//!
//! Both [`Inbox`] and [`Outbox`] own fixed, preallocated buffers, so a flood costs no memory
//! beyond them. Their methods never block: call them inside [`UdpSocket::try_io`], which turns
//! `WouldBlock` into waiting for readiness.
//!
//! [`UdpSocket::try_io`]: tokio::net::UdpSocket::try_io

use std::io;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

/// Packets moved per system call.
pub(crate) const BATCH: usize = 32;
/// The largest query accepted; a longer datagram is dropped unread, as no DNS query needs it.
pub(crate) const MAX_QUERY: usize = 4096;

/// Received packets: up to [`BATCH`] at a time.
pub(crate) struct Inbox {
    /// One buffer per packet, a byte longer than [`MAX_QUERY`] so an oversize datagram shows.
    buffers: Vec<[u8; MAX_QUERY + 1]>,
    /// Length and sender of each packet received by the last [`Inbox::receive`].
    received: Vec<(usize, SocketAddr)>,
}

/// Replies waiting to be sent: up to [`BATCH`] at a time.
pub(crate) struct Outbox {
    /// Reused reply buffers; the first `queued` are live.
    replies: Vec<(SocketAddr, Vec<u8>)>,
    queued: usize,
    /// How many of the queued replies went out already.
    sent: usize,
}

impl Inbox {
    /// Empty buffers for one batch (about 128 KiB).
    pub(crate) fn new() -> Self {
        Self {
            buffers: vec![[0; MAX_QUERY + 1]; BATCH],
            received: Vec::with_capacity(BATCH),
        }
    }

    /// Read what the socket holds, up to [`BATCH`] packets, replacing the previous batch.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing is waiting, or the socket's error.
    pub(crate) fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.received.clear();
        sys::receive(socket, &mut self.buffers, &mut self.received)?;
        Ok(self.received.len())
    }

    /// The packets of the last batch with their senders; `None` for one over [`MAX_QUERY`].
    pub(crate) fn packets(&self) -> impl Iterator<Item = (SocketAddr, Option<&[u8]>)> {
        self.received
            .iter()
            .zip(&self.buffers)
            .map(|(&(len, src), buffer)| (src, (len <= MAX_QUERY).then(|| &buffer[..len])))
    }
}

impl Outbox {
    /// An outbox with no replies queued.
    pub(crate) fn new() -> Self {
        Self {
            replies: Vec::with_capacity(BATCH),
            queued: 0,
            sent: 0,
        }
    }

    /// Queue `reply` for `dst`. At most [`BATCH`] fit between two [`Outbox::clear`]s.
    pub(crate) fn push(&mut self, dst: SocketAddr, reply: &[u8]) {
        debug_assert!(self.queued < BATCH, "one reply per received packet");
        if self.queued == self.replies.len() {
            self.replies.push((dst, Vec::with_capacity(512)));
        }
        let slot = &mut self.replies[self.queued];
        slot.0 = dst;
        slot.1.clear();
        slot.1.extend_from_slice(reply);
        self.queued += 1;
    }

    /// Whether every queued reply went out.
    pub(crate) fn is_done(&self) -> bool {
        self.sent == self.queued
    }

    /// Send the replies not sent yet, as many as the socket takes.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the socket's buffer is full, or the error of the first reply that
    /// failed, which is then skipped.
    pub(crate) fn send(&mut self, socket: &UdpSocket) -> io::Result<()> {
        while !self.is_done() {
            let pending = &self.replies[self.sent..self.queued];
            match sys::send(socket, pending) {
                Ok(count) => self.sent += count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Err(error),
                Err(error) => {
                    self.sent += 1;
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Forget every reply, sent or not.
    pub(crate) fn clear(&mut self) {
        self.queued = 0;
        self.sent = 0;
    }
}

#[cfg(target_os = "linux")]
#[path = "datagram_linux.rs"]
mod sys;

/// The portable path: one system call per packet.
#[cfg(not(target_os = "linux"))]
mod sys {
    use super::*;

    pub(super) fn receive(
        socket: &UdpSocket,
        buffers: &mut [[u8; MAX_QUERY + 1]],
        received: &mut Vec<(usize, SocketAddr)>,
    ) -> io::Result<()> {
        for buffer in buffers {
            match socket.try_recv_from(buffer) {
                Ok(packet) => received.push(packet),
                Err(error) if received.is_empty() => return Err(error),
                Err(_) => break,
            }
        }
        Ok(())
    }

    pub(super) fn send(socket: &UdpSocket, replies: &[(SocketAddr, Vec<u8>)]) -> io::Result<usize> {
        let (dst, reply) = &replies[0];
        socket.try_send_to(reply, *dst).map(|_| 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (a, b)
    }

    async fn receive_all(
        socket: &UdpSocket,
        inbox: &mut Inbox,
        want: usize,
    ) -> Vec<Option<Vec<u8>>> {
        let mut got = Vec::new();
        while got.len() < want {
            socket.readable().await.unwrap();
            if socket
                .try_io(tokio::io::Interest::READABLE, || inbox.receive(socket))
                .is_ok()
            {
                got.extend(inbox.packets().map(|(_, p)| p.map(<[u8]>::to_vec)));
            }
        }
        got
    }

    #[tokio::test]
    async fn receives_a_batch_and_marks_the_oversize_packet() {
        let (server, client) = pair().await;
        let to = server.local_addr().unwrap();
        client.send_to(b"one", to).await.unwrap();
        client.send_to(&[7; MAX_QUERY + 100], to).await.unwrap();
        client.send_to(&[9; MAX_QUERY], to).await.unwrap();

        let got = receive_all(&server, &mut Inbox::new(), 3).await;
        assert_eq!(got[0].as_deref(), Some(&b"one"[..]));
        assert_eq!(got[1], None);
        assert_eq!(got[2].as_ref().map(Vec::len), Some(MAX_QUERY));
    }

    #[tokio::test]
    async fn sends_every_queued_reply_to_its_own_destination() {
        let (server, client) = pair().await;
        let (_, other) = pair().await;
        let mut outbox = Outbox::new();
        outbox.push(client.local_addr().unwrap(), b"to client");
        outbox.push(other.local_addr().unwrap(), b"to other");
        outbox.send(&server).unwrap();
        assert!(outbox.is_done());

        let mut buffer = [0; 64];
        let (len, from) = client.recv_from(&mut buffer).await.unwrap();
        assert_eq!(
            (&buffer[..len], from),
            (&b"to client"[..], server.local_addr().unwrap())
        );
        let len = other.recv(&mut buffer).await.unwrap();
        assert_eq!(&buffer[..len], b"to other");
    }
}
