//! Live tracing of a running program: sessions, the thread-local recorder and the background writer.
