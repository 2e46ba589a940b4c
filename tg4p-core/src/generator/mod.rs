//! Offline trace generation with explicit timestamps (see `TraceGenerator`).
