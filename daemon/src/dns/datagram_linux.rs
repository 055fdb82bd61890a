//! `recvmmsg(2)` and `sendmmsg(2)`: many datagrams per system call.
//!
//! N.B. every pointer handed to the kernel points into a local array or a caller's buffer that
//! outlives the call, and each length given is that array's or buffer's own.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::ptr;

use tokio::net::UdpSocket;

use super::{BATCH, MAX_QUERY};

/// Receive up to `buffers.len()` datagrams without blocking; each goes into its own buffer.
pub(super) fn receive(
    socket: &UdpSocket,
    buffers: &mut [[u8; MAX_QUERY + 1]],
    received: &mut Vec<(usize, SocketAddr)>,
) -> io::Result<()> {
    let count = buffers.len().min(BATCH);
    // SAFETY: all-zero bytes are a valid value of these plain C structs (null pointers, 0s).
    let mut names: [libc::sockaddr_storage; BATCH] = unsafe { mem::zeroed() };
    let mut iovecs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
    for (i, buffer) in buffers.iter_mut().take(count).enumerate() {
        iovecs[i] = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        let header = &mut headers[i].msg_hdr;
        header.msg_name = ptr::from_mut(&mut names[i]).cast();
        header.msg_namelen = socklen_of::<libc::sockaddr_storage>();
        header.msg_iov = &raw mut iovecs[i];
        header.msg_iovlen = 1;
    }

    // SAFETY: `headers[..count]` point at `names`, `iovecs` and `buffers`, all alive and
    // exclusively borrowed for the call; the lengths are theirs.
    let got = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            u32::try_from(count).expect("BATCH fits in u32"),
            libc::MSG_DONTWAIT,
            ptr::null_mut(),
        )
    };
    let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;

    for (header, name) in headers.iter().zip(&names).take(got) {
        // A datagram longer than its buffer arrives cut to the buffer's length, one byte past
        // MAX_QUERY, which marks it oversize.
        let len = header.msg_len as usize;
        // A sender without an IP address cannot be answered; its packet is skipped.
        if let Some(src) = socket_addr(name) {
            received.push((len, src));
        }
    }
    Ok(())
}

/// Send `replies` without blocking; returns how many the kernel took (at least one).
pub(super) fn send(socket: &UdpSocket, replies: &[(SocketAddr, Vec<u8>)]) -> io::Result<usize> {
    let count = replies.len().min(BATCH);
    // SAFETY: as in `receive`.
    let mut names: [libc::sockaddr_storage; BATCH] = unsafe { mem::zeroed() };
    let mut iovecs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
    for (i, (dst, reply)) in replies.iter().take(count).enumerate() {
        iovecs[i] = libc::iovec {
            iov_base: reply.as_ptr().cast_mut().cast(),
            iov_len: reply.len(),
        };
        let header = &mut headers[i].msg_hdr;
        header.msg_namelen = write_sockaddr(*dst, &mut names[i]);
        header.msg_name = ptr::from_mut(&mut names[i]).cast();
        header.msg_iov = &raw mut iovecs[i];
        header.msg_iovlen = 1;
    }

    // SAFETY: as in `receive`; the kernel only reads the reply bytes.
    let sent = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            u32::try_from(count).expect("BATCH fits in u32"),
            libc::MSG_DONTWAIT,
        )
    };
    match usize::try_from(sent) {
        Ok(0) => Err(io::ErrorKind::WouldBlock.into()),
        Ok(sent) => Ok(sent),
        Err(_) => Err(io::Error::last_os_error()),
    }
}

fn socklen_of<T>() -> libc::socklen_t {
    libc::socklen_t::try_from(mem::size_of::<T>()).expect("a socket address size fits")
}

/// The address the kernel wrote into `name`, if it is IPv4 or IPv6.
fn socket_addr(name: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is sized and
            // aligned for.
            let v4 = unsafe { &*ptr::from_ref(name).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(v4.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 = unsafe { &*ptr::from_ref(name).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            let port = u16::from_be(v6.sin6_port);
            Some(SocketAddrV6::new(ip, port, v6.sin6_flowinfo, v6.sin6_scope_id).into())
        }
        _ => None,
    }
}

/// Write `addr` into `name` as the kernel expects it; returns its length.
fn write_sockaddr(addr: SocketAddr, name: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(v4) => {
            let value = libc::sockaddr_in {
                sin_family: libc::sa_family_t::try_from(libc::AF_INET).expect("AF_INET fits"),
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is sized and aligned for any socket address.
            unsafe { ptr::from_mut(name).cast::<libc::sockaddr_in>().write(value) };
            socklen_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let value = libc::sockaddr_in6 {
                sin6_family: libc::sa_family_t::try_from(libc::AF_INET6).expect("AF_INET6 fits"),
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: as above.
            unsafe {
                ptr::from_mut(name)
                    .cast::<libc::sockaddr_in6>()
                    .write(value)
            };
            socklen_of::<libc::sockaddr_in6>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_survive_the_round_trip_through_sockaddr() {
        for addr in ["127.0.0.1:53", "[::1]:5353", "[fe80::1%2]:40000"] {
            let addr: SocketAddr = addr.parse().unwrap();
            // SAFETY: all-zero is a valid sockaddr_storage.
            let mut name: libc::sockaddr_storage = unsafe { mem::zeroed() };
            write_sockaddr(addr, &mut name);
            assert_eq!(socket_addr(&name), Some(addr));
        }
    }
}
