//! `TcpStream`: a TCP connection.
//!
//! Go: `net.TCPConn` (`net.Dial("tcp", addr)`, `Read`, `Write`, `CloseWrite`,
//! `SetNoDelay`).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{each_addr, resolve};
use crate::io::registration::IoSource;
use crate::io::scheduled_io::Direction;

/// A TCP connection. Reads and writes park the goroutine until the socket
/// is ready.
///
/// It implements `futures_io::AsyncRead` and `AsyncWrite` (tokio's with the
/// `tokio-io` feature, hyper's `rt::Read` and `rt::Write` with the `hyper`
/// feature), for `TcpStream` and for `&TcpStream`, so one goroutine may read
/// while another writes through a shared reference. The tokio and hyper
/// reads go straight into the caller's uninitialised buffer (no zeroing).
///
/// ```
/// # futures::executor::block_on(async {
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// use goro_runtime::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// server.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct TcpStream {
    io: IoSource<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr` (Go's `net.Dial("tcp", addr)`), trying each
    /// resolved address in turn. A refused connection fails with
    /// `ErrorKind::ConnectionRefused`.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// // Nothing listens on this (just closed) port.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    /// let err = goro_runtime::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn connect(addr: impl ToSocketAddrs) -> impl Future<Output = io::Result<TcpStream>> {
        let at = Location::caller();
        let addrs = resolve(addr);
        async move {
            each_addr(addrs?, |a| async move {
                let stream = TcpStream::from_mio(mio::net::TcpStream::connect(a)?)?;
                poll_fn(|cx| stream.poll_connected(cx, at)).await?;
                Ok(stream)
            })
            .await
        }
    }

    /// Registers an accepted or connecting mio stream.
    pub(crate) fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: IoSource::new(stream)?,
        })
    }

    /// Wraps a connected std stream (switched to non-blocking mode).
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let s = goro_runtime::net::TcpStream::from_std(s).unwrap();
    /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    /// Waits until a non-blocking connect has finished.
    fn poll_connected(
        &self,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<io::Result<()>> {
        loop {
            let ev = match self.io.poll_ready(cx, Direction::Write, at) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let s = self.io.get_ref();
            if let Some(e) = s.take_error()? {
                return Poll::Ready(Err(e));
            }
            match s.peer_addr() {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => self.io.clear_readiness(ev),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Reads into `buf`; `Ok(0)` means the peer closed its write half (EOF).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use goro_runtime::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").await?;
    /// let c = TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// c.write(b"hi").await?;
    /// c.shutdown(std::net::Shutdown::Write)?;
    /// let mut buf = [0; 8];
    /// let mut got = Vec::new();
    /// loop {
    ///     let n = s.read(&mut buf).await?;
    ///     if n == 0 { break }
    ///     got.extend_from_slice(&buf[..n]);
    /// }
    /// assert_eq!(got, b"hi");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn read<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        let at = Location::caller();
        poll_fn(move |cx| self.poll_read_at(cx, buf, at))
    }

    /// Writes some of `buf`; returns how many bytes were written.
    ///
    /// See [`read`](Self::read) for an example.
    #[track_caller]
    pub fn write<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        let at = Location::caller();
        poll_fn(move |cx| self.poll_write_at(cx, buf, at))
    }

    /// Writes all of `buf` (Go's `Write`, which writes everything or fails).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use goro_runtime::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").await?;
    /// let c = TcpStream::connect(l.local_addr()?).await?;
    /// c.write_all(b"hello").await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn write_all<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a {
        let at = Location::caller();
        let mut done = 0;
        poll_fn(move |cx| {
            while done < buf.len() {
                match self.poll_write_at(cx, &buf[done..], at) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => done += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            Poll::Ready(Ok(()))
        })
    }

    fn poll_read_at(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        at: &'static Location<'static>,
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.io.poll_read_stream(cx, len, at, |mut s| s.read(buf))
    }

    /// Reads into possibly uninitialised memory (hyper's and tokio's read
    /// buffers), so that no read has to zero its buffer first.
    #[cfg(any(feature = "tokio-io", feature = "hyper"))]
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
        at: &'static Location<'static>,
    ) -> Poll<io::Result<usize>> {
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and the only
        // thing done with the slice is `read(2)` on the socket (mio's `Read`
        // for `&TcpStream` is the syscall on the fd): the kernel writes at
        // most `len` bytes into it and never reads it, so no uninitialised
        // byte is read. The returned count says how many bytes are now
        // initialised; callers mark exactly that many. (tokio's own
        // `TcpStream` reads into its `ReadBuf` the same way.)
        let buf = unsafe { &mut *(buf as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
        self.poll_read_at(cx, buf, at)
    }

    fn poll_write_at(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        at: &'static Location<'static>,
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(cx, Direction::Write, at, |mut s| s.write(buf))
    }

    /// Shuts down the read, write or both halves (Go's `CloseRead`/`CloseWrite`).
    ///
    /// See [`read`](Self::read) for an example.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Sets `TCP_NODELAY` (Go's `SetNoDelay`; Go's default is `true`).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = goro_runtime::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = goro_runtime::net::TcpStream::connect(l.local_addr()?).await?;
    /// c.set_nodelay(true)?;
    /// assert!(c.nodelay()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// See [`set_nodelay`](Self::set_nodelay).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// The remote address.
    ///
    /// See [`from_std`](Self::from_std).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// See [`TcpListener`](super::TcpListener).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpStream").field(&self.io).finish()
    }
}

/// The write half of each async IO trait: a write goes to the socket
/// (`poll_write_at`), flushing has nothing to do (no user-space buffer),
/// closing shuts the write half down (Go's `CloseWrite`).
macro_rules! write_methods {
    ($close:ident) => {
        #[track_caller]
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_at(cx, buf, Location::caller())
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn $close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(self.shutdown(Shutdown::Write))
        }
    };
}

macro_rules! futures_io_impls {
    ($ty:ty) => {
        impl futures_io::AsyncRead for $ty {
            #[track_caller]
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_at(cx, buf, Location::caller())
            }
        }

        impl futures_io::AsyncWrite for $ty {
            write_methods!(poll_close);
        }

        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncRead for $ty {
            #[track_caller]
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let at = Location::caller();
                // SAFETY: `poll_read_uninit` only writes into the slice (it
                // never de-initialises bytes `buf` knows are initialised).
                let unfilled = unsafe { buf.unfilled_mut() };
                let n = std::task::ready!(self.poll_read_uninit(cx, unfilled, at))?;
                // SAFETY: the read initialised the first `n` bytes of the
                // unfilled part.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }

        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncWrite for $ty {
            write_methods!(poll_shutdown);
        }

        #[cfg(feature = "hyper")]
        impl hyper::rt::Read for $ty {
            #[track_caller]
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: hyper::rt::ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                let at = Location::caller();
                // SAFETY: `poll_read_uninit` only writes into the slice.
                let unfilled = unsafe { buf.as_mut() };
                let n = std::task::ready!(self.poll_read_uninit(cx, unfilled, at))?;
                // SAFETY: the read initialised the first `n` bytes.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
        }

        #[cfg(feature = "hyper")]
        impl hyper::rt::Write for $ty {
            write_methods!(poll_shutdown);
        }
    };
}

futures_io_impls!(TcpStream);
futures_io_impls!(&TcpStream);
