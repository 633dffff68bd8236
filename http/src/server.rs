//! [`Server`] and [`serve`]: Go's `http.Server` and `http.Serve`.
//!
//! # Design
//!
//! The accept loop runs in the caller's goroutine; each accepted connection
//! gets a goroutine of its own (Go: `go c.serve(ctx)`), which drives
//! hyper-util's auto connection (HTTP/1.1, or HTTP/2 when the client opens
//! with the HTTP/2 preface) and the connection's timeout clock (see `conn`).
//!
//! Shutdown (Go: `Server.Shutdown`): the accept loop stops and the listener
//! is closed; every connection is told to finish (hyper's graceful shutdown:
//! an idle HTTP/1 connection closes now, a busy one after its response; an
//! HTTP/2 connection sends GOAWAY and finishes its open streams); the serve
//! call returns when every connection goroutine has ended.
//!
//! A panicking handler is caught by the request wrapper (`service`); a
//! panic inside hyper itself is caught around the connection, logged, and
//! ends that connection only.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use goro_chan::Chan;
use goro_runtime::net::{TcpListener, TcpStream};
use hyper_util::server::conn::auto;

use goro_sync::context::{self, Context};

use crate::conn::{ConnIo, ConnState, Timeouts};
use crate::context::ServerScope;
use crate::service::{ConnService, ErrorLog, HttpService};
use crate::{Executor, Timer};

/// An HTTP server: Go's `http.Server`, with its timeouts on by default.
///
/// Knobs (Go's names): [`read_header_timeout`](Self::read_header_timeout)
/// (default 10 s), [`idle_timeout`](Self::idle_timeout) (default 120 s),
/// [`write_timeout`](Self::write_timeout) (default 60 s),
/// [`error_log`](Self::error_log) (default: standard error). Go's zero
/// values mean "no timeout"; here `None` does. hyper's own protocol knobs are
/// on [`builder_mut`](Self::builder_mut).
///
/// ```no_run
/// use std::time::Duration;
/// goro_runtime::run(async {
///     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
///     let listener = goro_runtime::net::TcpListener::bind("127.0.0.1:8080").await?;
///     goro_http::Server::new()
///         .read_header_timeout(Duration::from_secs(5))
///         .write_timeout(None)
///         .serve(listener, app)
///         .await
/// })
/// .unwrap();
/// ```
pub struct Server {
    timeouts: Timeouts,
    log: ErrorLog,
    builder: auto::Builder<Executor>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server with the default timeouts, HTTP/1.1 and HTTP/2.
    ///
    /// ```
    /// let s = goro_http::Server::new();
    /// # drop(s);
    /// ```
    pub fn new() -> Server {
        let mut builder = auto::Builder::new(Executor);
        builder
            .http1()
            .timer(Timer)
            // goro keeps the header clock itself (see `conn`): hyper's
            // would also cut keep-alive idle time short.
            .header_read_timeout(None);
        builder.http2().timer(Timer);
        Server {
            timeouts: Timeouts {
                read_header: Some(Duration::from_secs(10)),
                idle: Some(Duration::from_secs(120)),
                write: Some(Duration::from_secs(60)),
            },
            log: Arc::new(|msg: &str| eprintln!("{msg}")),
            builder,
        }
    }

    /// How long a client may take to send a request's header (Go:
    /// `ReadHeaderTimeout`): from accept for the first request, from its
    /// first byte for later HTTP/1 requests. The connection is closed when
    /// it runs out. `None`: no limit.
    ///
    /// ```
    /// let s = goro_http::Server::new().read_header_timeout(std::time::Duration::from_secs(2));
    /// # drop(s);
    /// ```
    pub fn read_header_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.timeouts.read_header = d.into();
        self
    }

    /// How long a keep-alive connection may wait for its next request (Go:
    /// `IdleTimeout`). `None`: no limit.
    ///
    /// ```
    /// let s = goro_http::Server::new().idle_timeout(None);
    /// # drop(s);
    /// ```
    pub fn idle_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.timeouts.idle = d.into();
        self
    }

    /// How long after its header is read a request's response may take to
    /// be written (Go: `WriteTimeout`, reset for each request); a write
    /// after that fails and the connection is closed. `None`: no limit
    /// (for long streaming responses).
    ///
    /// ```
    /// let s = goro_http::Server::new().write_timeout(std::time::Duration::from_secs(30));
    /// # drop(s);
    /// ```
    pub fn write_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.timeouts.write = d.into();
        self
    }

    /// Where handler panics are reported (Go: `ErrorLog`); one line per
    /// event, e.g. `http: panic serving 127.0.0.1:50412: boom`.
    ///
    /// ```
    /// let s = goro_http::Server::new().error_log(|line| eprintln!("[web] {line}"));
    /// # drop(s);
    /// ```
    pub fn error_log(mut self, log: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.log = Arc::new(log);
        self
    }

    /// hyper-util's connection builder, for hyper's protocol settings
    /// (HTTP/2 window sizes, `http1_only`, ...). Its executor and timers
    /// are goro's.
    ///
    /// ```
    /// let mut s = goro_http::Server::new();
    /// s.builder_mut().http2().max_concurrent_streams(100);
    /// ```
    pub fn builder_mut(&mut self) -> &mut auto::Builder<Executor> {
        &mut self.builder
    }

    /// Serves `listener` until an accept fails for good (Go:
    /// `Server.Serve`), one goroutine per connection.
    pub async fn serve<S>(self, listener: TcpListener, service: S) -> io::Result<()>
    where
        S: HttpService,
    {
        self.serve_with_shutdown(listener, service, std::future::pending())
            .await
    }

    /// Serves `listener` until `shutdown` completes, then shuts down
    /// gracefully (Go: `Server.Shutdown`): stops accepting, lets in-flight
    /// requests finish, closes idle connections, and returns once every
    /// connection is closed.
    ///
    /// ```
    /// goro_runtime::run(async {
    ///     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    ///     let listener = goro_runtime::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     let stop = goro_chan::make::<()>(0);
    ///     stop.close(); // e.g. from a signal handler's goroutine
    ///     goro_http::Server::new()
    ///         .serve_with_shutdown(listener, app, async move {
    ///             stop.recv().await;
    ///         })
    ///         .await
    /// })
    /// .unwrap();
    /// ```
    pub async fn serve_with_shutdown<S, F>(
        self,
        listener: TcpListener,
        service: S,
        shutdown: F,
    ) -> io::Result<()>
    where
        S: HttpService,
        F: Future<Output = ()>,
    {
        let scope = ServerScope::new(&context::background());
        self.run(listener, service, shutdown, scope).await
    }

    /// Serves `listener` until `ctx` is cancelled, then shuts down
    /// gracefully as [`serve_with_shutdown`](Self::serve_with_shutdown)
    /// does (Go: `Server.Serve` plus `Server.Shutdown` when the program's
    /// context ends). Each request's context carries `ctx`'s values (Go:
    /// `BaseContext`) but not its cancellation, so in-flight requests
    /// finish; see [`request_context`](crate::request_context).
    ///
    /// ```
    /// use goro_sync::context;
    /// goro_runtime::run(async {
    ///     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    ///     let listener = goro_runtime::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     let (ctx, cancel) = context::with_cancel(&context::background());
    ///     cancel(); // e.g. from a signal handler's goroutine
    ///     goro_http::Server::new()
    ///         .serve_with_context(&ctx, listener, app)
    ///         .await
    /// })
    /// .unwrap();
    /// ```
    pub async fn serve_with_context<S: HttpService>(
        self,
        ctx: &Context,
        listener: TcpListener,
        service: S,
    ) -> io::Result<()> {
        let done = ctx.done();
        let shutdown = async move {
            done.recv().await;
        };
        self.run(listener, service, shutdown, ServerScope::new(ctx))
            .await
    }

    /// The accept loop and shutdown (see the module docs).
    async fn run<S, F>(
        self,
        listener: TcpListener,
        service: S,
        shutdown: F,
        scope: ServerScope,
    ) -> io::Result<()>
    where
        S: HttpService,
        F: Future<Output = ()>,
    {
        let Server {
            timeouts,
            log,
            builder,
        } = self;
        let builder = Arc::new(builder);
        let stop = Arc::new(Stop {
            chan: goro_chan::make::<()>(0),
            begun: AtomicBool::new(false),
        });
        let tracker = Arc::new(Tracker {
            done: goro_chan::make(0),
        });
        let all_done = tracker.done.clone();
        let mut shutdown = pin!(shutdown);
        let mut backoff = Duration::ZERO;
        let result = loop {
            let mut accept = pin!(listener.accept());
            let accepted = poll_fn(|cx| {
                if shutdown.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await;
            let (stream, peer) = match accepted {
                None => break Ok(()),
                Some(Ok(conn)) => conn,
                Some(Err(e)) if is_temporary(&e) => {
                    // Go: "http: Accept error: %v; retrying in %v".
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    log(&format!("http: Accept error: {e}; retrying in {backoff:?}"));
                    goro_time::sleep(backoff).await;
                    continue;
                }
                Some(Err(e)) => break Err(e),
            };
            backoff = Duration::ZERO;
            // Go's default; a failure only costs latency.
            let _ = stream.set_nodelay(true);
            let state = ConnState::new(timeouts);
            let svc = ConnService {
                inner: service.clone(),
                conn: state.clone(),
                peer,
                log: log.clone(),
                scope: scope.clone(),
            };
            let conn = Connection {
                builder: builder.clone(),
                stream,
                state,
                stop: stop.clone(),
                log: log.clone(),
                _tracker: tracker.clone(),
            };
            drop(goro_runtime::spawn(conn.run(svc)));
        };
        // Stop accepting (Go closes the listeners first), tell every
        // connection to finish, wait for the last one.
        drop(listener);
        // Release: pairs with the connections' Acquire load (see `Stop`).
        stop.begun.store(true, Ordering::Release);
        stop.chan.close();
        drop(tracker);
        all_done.recv().await;
        result
    }
}

/// Serves `listener` with `service` (Go: `http.Serve(l, handler)`): one
/// goroutine per connection, HTTP/1.1 and HTTP/2, the default timeouts of
/// [`Server::new`], a panicking handler logged and survived. Returns only
/// if accepting fails for good.
///
/// ```no_run
/// goro_runtime::run(async {
///     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
///     let l = goro_runtime::net::TcpListener::bind("127.0.0.1:8080").await?;
///     goro_http::serve(l, app).await
/// })
/// .unwrap();
/// ```
pub async fn serve<S>(listener: TcpListener, service: S) -> io::Result<()>
where
    S: HttpService,
{
    Server::new().serve(listener, service).await
}

/// Accept errors worth retrying (Go: `ne.Temporary()`): out of file
/// descriptors or buffers, or a connection that died before being accepted.
fn is_temporary(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | OutOfMemory
    ) || matches!(
        e.raw_os_error(),
        Some(23 /* ENFILE */ | 24 /* EMFILE */ | 105 /* ENOBUFS */)
    )
}

/// Closes `done` when the last connection goroutine drops its clone.
struct Tracker {
    done: Chan<()>,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.done.close();
    }
}

/// The server's stop signal to its connections: `chan` is closed when the
/// server stops, after `begun` is set.
///
/// A connection goroutine polls its receive on `chan` once, which queues
/// its waker there, and again only once `begun` is set: polling a waiting
/// receive again takes the channel's lock, one lock for every connection
/// of the server, on every poll of every connection (two cores would pass
/// its cache line back and forth once per request). The goroutine's waker
/// does not change from poll to poll, so the one queued stays good.
struct Stop {
    chan: Chan<()>,
    begun: AtomicBool,
}

/// One accepted connection, moved into its goroutine.
struct Connection {
    builder: Arc<auto::Builder<Executor>>,
    stream: TcpStream,
    state: Arc<ConnState>,
    stop: Arc<Stop>,
    log: ErrorLog,
    _tracker: Arc<Tracker>,
}

impl Connection {
    /// Go: `conn.serve`.
    async fn run<S>(self, svc: ConnService<S>)
    where
        S: HttpService,
    {
        let Connection {
            builder,
            stream,
            state,
            stop,
            log,
            _tracker,
        } = self;
        let peer = svc.peer;
        let io = ConnIo::new(stream, state.clone());
        let mut conn = pin!(builder.serve_connection_with_upgrades(io, svc));
        let mut stopped = pin!(stop.chan.recv());
        let mut watching = false;
        let mut stopping = false;
        let mut timer: Option<goro_time::Sleep> = None;
        poll_fn(|cx| {
            // Acquire: pairs with the server's Release store (see `Stop`).
            if !stopping && (!watching || stop.begun.load(Ordering::Acquire)) {
                watching = true;
                if stopped.as_mut().poll(cx).is_ready() {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            match catch_unwind(AssertUnwindSafe(|| conn.as_mut().poll(cx))) {
                // Connection errors (a client that went away, a malformed
                // request hyper already answered) end the connection; Go
                // does not log them either.
                Ok(Poll::Ready(_)) => return Poll::Ready(()),
                Ok(Poll::Pending) => {}
                Err(p) => {
                    log(&format!(
                        "http: panic serving {peer}: {}",
                        crate::service::panic_message(&*p)
                    ));
                    return Poll::Ready(());
                }
            }
            // The timeout clock: one timer at the earliest deadline. A timer
            // later than the next deadline is re-armed earlier; one that
            // fires early (activity moved the deadline) is re-armed later.
            loop {
                let Some((at, clock)) = state.next_clock() else {
                    timer = None;
                    return Poll::Pending;
                };
                if timer.as_ref().is_none_or(|t| at < t.deadline()) {
                    timer = Some(goro_time::sleep_until(at));
                }
                let t = timer.as_mut().expect("armed above");
                if Pin::new(t).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                timer = None;
                let (at, clock2) = state.next_clock().unwrap_or((at, clock));
                if Instant::now() >= at && clock2 != crate::conn::Clock::Recheck {
                    // Go closes the connection when a read deadline passes.
                    return Poll::Ready(());
                }
            }
        })
        .await;
    }
}
