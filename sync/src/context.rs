//! Go: package `context`.
