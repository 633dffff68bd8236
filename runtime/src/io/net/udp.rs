//! `UdpSocket`: datagrams.
//!
//! Go: `net.UDPConn` (`net.ListenUDP`, `ReadFrom`, `WriteTo`, `DialUDP`).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::Location;

use super::{each_addr, resolve};
use crate::io::registration::IoSource;
use crate::io::scheduled_io::Direction;

/// A UDP socket. Sends and receives park the goroutine until the socket is
/// ready.
///
/// ```
/// # futures::executor::block_on(async {
/// use goro_runtime::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
/// a.send_to(b"ping", b.local_addr()?).await?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct UdpSocket {
    io: IoSource<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr` (Go's `net.ListenUDP`); the first address
    /// that binds wins. Port 0 picks a free port.
    ///
    /// See the [type-level example](UdpSocket).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let addrs = resolve(addr)?;
        each_addr(addrs, |a| async move {
            let std = std::net::UdpSocket::bind(a)?;
            UdpSocket::from_std(std)
        })
        .await
    }

    /// Wraps a bound std socket (switched to non-blocking mode).
    ///
    /// ```
    /// let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let s = goro_runtime::net::UdpSocket::from_std(s).unwrap();
    /// # drop(s);
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: IoSource::new(mio::net::UdpSocket::from_std(socket))?,
        })
    }

    /// Sends `buf` to `target`; returns the bytes sent.
    ///
    /// See the [type-level example](UdpSocket).
    #[track_caller]
    pub fn send_to<'a>(
        &'a self,
        buf: &'a [u8],
        target: impl ToSocketAddrs,
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        let at = Location::caller();
        let target = resolve(target).map(|a| a[0]);
        async move {
            let target = target?;
            poll_fn(|cx| {
                self.io
                    .poll_io(cx, Direction::Write, at, |s| s.send_to(buf, target))
            })
            .await
        }
    }

    /// Receives one datagram into `buf`; returns its length and sender.
    /// A datagram longer than `buf` is truncated.
    ///
    /// See the [type-level example](UdpSocket).
    #[track_caller]
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a {
        let at = Location::caller();
        poll_fn(move |cx| {
            self.io
                .poll_io(cx, Direction::Read, at, |s| s.recv_from(buf))
        })
    }

    /// Sets the default peer (Go's `DialUDP`): `send` goes there and `recv`
    /// only accepts datagrams from it.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use goro_runtime::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// b.connect(a.local_addr()?).await?;
    /// a.send(b"x").await?;
    /// let mut buf = [0; 4];
    /// assert_eq!(b.recv(&mut buf).await?, 1);
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addrs = resolve(addr)?;
        each_addr(addrs, |a| async move { self.io.get_ref().connect(a) }).await
    }

    /// Sends `buf` to the connected peer.
    ///
    /// See [`connect`](Self::connect).
    #[track_caller]
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        let at = Location::caller();
        poll_fn(move |cx| self.io.poll_io(cx, Direction::Write, at, |s| s.send(buf)))
    }

    /// Receives one datagram from the connected peer.
    ///
    /// See [`connect`](Self::connect).
    #[track_caller]
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        let at = Location::caller();
        poll_fn(move |cx| self.io.poll_io(cx, Direction::Read, at, |s| s.recv(buf)))
    }

    /// The local address.
    ///
    /// See the [type-level example](UdpSocket).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// See [`connect`](Self::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UdpSocket").field(&self.io).finish()
    }
}
