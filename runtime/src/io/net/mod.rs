//! TCP and UDP sockets whose blocking operations park the goroutine, not the
//! thread.
//!
//! Go: package `net` (`TCPListener`, `TCPConn`, `UDPConn`) over
//! `internal/poll.FD` and the runtime netpoller.
//!
//! # Design
//!
//! Each socket is a non-blocking mio socket registered with the current
//! runtime's driver (see `crate::io::registration`). An operation is tried
//! directly; on `WouldBlock` the goroutine parks (`IO wait` in the dump)
//! until the reactor reports readiness. Errors are the OS's
//! (`std::io::Error` with its `ErrorKind`), e.g. `ConnectionRefused`.
//!
//! Addresses are resolved with std's resolver (`ToSocketAddrs`), which may
//! block the worker for a DNS lookup; IP literals never block.
//!
//! Each direction of a socket has one waiter slot: one goroutine may wait to
//! read while another waits to write, but two goroutines reading the same
//! socket at once may lose a wake-up (as with Go's `pollDesc`, which panics
//! on it).

mod tcp_listener;
mod tcp_stream;
mod udp;

pub use tcp_listener::TcpListener;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;

pub use std::net::{Shutdown, SocketAddr, ToSocketAddrs};

use std::io;

/// Resolves `addr`, failing like std when it yields no address.
pub(crate) fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        ));
    }
    Ok(addrs)
}

/// Tries `f` on each address, returning the first success or the last error.
pub(crate) async fn each_addr<T, F, Fut>(addrs: Vec<SocketAddr>, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addrs {
        match f(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses")))
}
