//! The Rust peers: tokio (tasks, timers, sockets, hyper, sync, tokio-util's CancellationToken), flume, kanal, async-channel
//! (on a tokio multi-thread runtime) and crossbeam-channel (on OS threads).

pub mod async_chan;
pub mod crossbeam_threads;
pub mod tokio_ctx;
pub mod tokio_http;
pub mod tokio_io;
pub mod tokio_sync;
pub mod tokio_tasks;
