//! goro-chan: Go-faithful channels.
