//! `TcpListener`: accepts TCP connections.
//!
//! Go: `net.TCPListener` (`net.Listen("tcp", addr)`, `Accept`).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::Location;
use std::task::{Context, Poll};

use super::{each_addr, resolve, TcpStream};
use crate::io::registration::IoSource;
use crate::io::scheduled_io::Direction;

/// A TCP socket listening for connections.
///
/// ```
/// # futures::executor::block_on(async {
/// use goro_runtime::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let client = TcpStream::connect(addr).await?;
/// let (server, peer) = listener.accept().await?;
/// assert_eq!(peer, client.local_addr()?);
/// assert_eq!(server.local_addr()?, addr);
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` and listens (Go's `net.Listen("tcp", addr)`); the
    /// first address that binds wins. Port 0 picks a free port.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = goro_runtime::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert_ne!(l.local_addr()?.port(), 0);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let addrs = resolve(addr)?;
        each_addr(addrs, |a| async move {
            // std sets SO_REUSEADDR on Unix listeners, like Go.
            let std = std::net::TcpListener::bind(a)?;
            raise_backlog(&std)?;
            TcpListener::from_std(std)
        })
        .await
    }

    /// Wraps a bound std listener (switched to non-blocking mode).
    ///
    /// ```
    /// let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l = goro_runtime::net::TcpListener::from_std(std).unwrap();
    /// # drop(l);
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: IoSource::new(mio::net::TcpListener::from_std(listener))?,
        })
    }

    /// Waits for a connection (Go's `Accept`); returns it and the peer's address.
    ///
    /// See the [type-level example](TcpListener).
    #[track_caller]
    pub fn accept(&self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + '_ {
        let at = Location::caller();
        poll_fn(move |cx| self.poll_accept_at(cx, at))
    }

    /// Polls for a connection.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = goro_runtime::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let _c = goro_runtime::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (_s, _peer) = std::future::poll_fn(|cx| l.poll_accept(cx)).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.poll_accept_at(cx, Location::caller())
    }

    fn poll_accept_at(
        &self,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self.io.poll_io(cx, Direction::Read, at, |l| l.accept()) {
            Poll::Ready(Ok((stream, addr))) => {
                Poll::Ready(TcpStream::from_mio(stream).map(|s| (s, addr)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The address this listener is bound to.
    ///
    /// See the [type-level example](TcpListener).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

/// Re-listens with the system's maximum backlog, as Go does (`listen(fd,
/// somaxconn)`), instead of std's 128: bursts of connects (a thousand
/// clients at once) are queued rather than dropped and retried a second later.
#[cfg(target_os = "linux")]
fn raise_backlog(l: &std::net::TcpListener) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let max = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(4096);
    // SAFETY: `l` owns a valid, bound, listening socket descriptor for the
    // duration of the call; listen(2) on a listening socket only updates
    // its backlog.
    if unsafe { libc::listen(l.as_raw_fd(), max) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn raise_backlog(_: &std::net::TcpListener) -> io::Result<()> {
    Ok(())
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpListener").field(&self.io).finish()
    }
}
