//! Go: `runtime/sema.go`: the one FIFO waiter queue every primitive builds on.
