//! tg4p writes [Perfetto](https://perfetto.dev) traces from Rust: the protobuf
//! timeline format that the [Perfetto UI](https://ui.perfetto.dev) and
//! trace_processor read.
//!
//! Two ways in:
//! - **Live tracing** of a running program (this crate's root): [`open`] a
//!   [`Session`], put [`#[trace]`](trace) or [`#[trace_args]`](trace_args) on
//!   functions (`async fn`s too, and any future with [`Traced`]), mark moments with
//!   [`instant!`], scopes with [`span!`] (in async code [`async_span!`]), values
//!   with [`count!`]; custom [`Track`]s and [`Counter`]s are `static`s.
//! - **Traces from data** with explicit timestamps: [`generator::TraceGenerator`]
//!   and the handles it hands out, argument values built with [`args!`].
//!
//! # Live tracing
//!
//! ```
//! static ACTIVE: tg4p::Counter = tg4p::Counter::new("num_active_threads");
//! static TOP: tg4p::Track = tg4p::Track::new("TOP_TRACK");
//!
//! #[tg4p::trace_args]              // a slice per call, each argument recorded via Debug
//! fn merge(x: &mut [u32], a: &[u32], b: &[u32]) {}
//!
//! #[tg4p::trace]                   // a slice per call on the calling thread's track
//! fn merge_sort(x: Vec<u32>) -> Vec<u32> { x }
//!
//! #[tg4p::trace(track = TOP)]      // a slice per call on a custom track
//! fn validate(x: &[u32]) -> bool { x.is_sorted() }
//!
//! fn main() -> Result<(), tg4p::SessionError> {
//!     let path = std::env::temp_dir().join("tg4p-guide.perfetto-trace");
//!     let session = tg4p::open(&path)?;                    // recording starts
//!
//!     let sort = tg4p::span!(TOP, "SORT");                 // a scoped slice
//!     let [flow] = tg4p::instant!("INVOKE", outgoing = 1); // an instant starting a flow
//!     tg4p::count!(ACTIVE += 1);                           // counters: +=, -=, =
//!     tg4p::count!("queue_depth" = 7.5);                   // by name, int or float
//!     let sorted = merge_sort(vec![1, 2, 3]);
//!     merge(&mut [0; 3], &sorted[..1], &sorted[1..]);
//!     drop(sort);
//!     let _check = tg4p::span!(TOP, "VALIDATE").incoming(&[flow]);
//!     tg4p::instant!("CHECKING", result = &sorted);        // Debug-captured argument
//!     assert!(validate(&sorted));
//!     drop(_check);
//!
//!     let report = session.finish()?;                      // or drop the session
//!     assert_eq!(report.events_dropped, 0);
//!     # std::fs::remove_file(&path).ok();
//!     Ok(())
//! }
//! ```
//!
//! What you get: a process track, one track per thread named after the thread, your
//! custom tracks (overlapping spans from different threads go to lanes beneath them),
//! slices with their source location, instants, counters and flow arrows across
//! threads. The hot path is a clock read and a few stores into a thread-local buffer;
//! a background thread encodes and writes. With no session open, instrumented code
//! costs one relaxed atomic load. Memory is bounded
//! ([`SessionBuilder::memory_limit`]); when the bound is reached, events are dropped
//! and counted (the default) or producers wait ([`Overflow::Block`]); the [`Report`]
//! that [`Session::finish`] returns says how many. A long-running service can keep
//! only its newest events instead, a flight recorder ([`SessionBuilder::ring`]), and
//! write them whenever it likes ([`Session::snapshot`], [`SnapshotHandle`]).
//!
//! # The attributes
//!
//! [`#[trace]`](trace) records a slice per call; [`#[trace_args]`](trace_args) also
//! records each argument's `Debug` text. Both take any function: methods with any
//! receiver (`self`, `&mut self`, `self: Box<Self>`, `self: Pin<&mut Self>`),
//! associated functions, trait impls and default trait methods, generics, lifetimes,
//! `where` clauses, `impl Trait`, `unsafe fn`, `async fn`; the signature, other
//! attributes and return type inference are kept, and so are rustc's lints (a traced
//! function that is never called is still reported as unused). Options,
//! comma-separated:
//!
//! | option | of | effect |
//! | --- | --- | --- |
//! | `name = ".."` | both | the slice's name (default: the function's) |
//! | `track = PATH` | both | a `static` [`Track`] instead of the calling thread's track |
//! | `skip(a, b)` | `trace_args` | leave these arguments out (an argument that is not `Debug` must be) |
//! | `skip_all` | `trace_args` | record no arguments |
//! | `ret` | both | record the return value (below) |
//! | `future` | both | trace the future an `fn .. -> impl Future` returns (automatic for `Pin<Box<dyn Future>>`, as `async-trait` writes) |
//! | `crate = PATH` | both | where the `tg4p` facade is, if re-exported |
//!
//! ```
//! static DB: tg4p::Track = tg4p::Track::new("DB");
//!
//! #[derive(Debug)]
//! struct Key(u32);
//! struct Conn; // not `Debug`: must be skipped by `#[trace_args]`
//!
//! struct Cache {
//!     hits: u64,
//! }
//!
//! impl Cache {
//!     #[tg4p::trace]                               // methods, any receiver
//!     fn clear(&mut self) {
//!         self.hits = 0;
//!     }
//!
//!     #[tg4p::trace_args(skip(self, conn), ret)]   // records `key` and the return value
//!     fn lookup(&mut self, key: Key, conn: &Conn) -> Option<u64> {
//!         let _ = conn;
//!         self.hits += 1;
//!         (key.0 > 3).then_some(self.hits)
//!     }
//! }
//!
//! #[tg4p::trace_args(skip_all, name = "load config", track = DB)]
//! fn load(path: &str, conn: Conn) -> Result<String, std::io::Error> {
//!     let _ = conn;
//!     std::fs::read_to_string(path)                // `?`, early `return`: the slice still ends
//! }
//!
//! let session = tg4p::open(std::env::temp_dir().join("tg4p-guide-attributes.pftrace"))?;
//! let mut cache = Cache { hits: 0 };
//! assert_eq!(cache.lookup(Key(7), &Conn), Some(1));
//! cache.clear();
//! assert!(load("/no/such/app.toml", Conn).is_err());
//! session.finish()?;
//! # Ok::<(), tg4p::SessionError>(())
//! ```
//!
//! Each argument's text is bounded to [`ARG_VALUE_LIMIT`] bytes, cut at a character
//! boundary and followed by `…[truncated, N bytes]`; at most [`MAX_ARGS`] arguments
//! are recorded per event.
//!
//! `ret` records the function's return value (for an `async fn`, the future's
//! output, when it completes) with `Debug`, bounded like an argument, as the `return`
//! arg of the slice's end event; `return` and `?` are recorded too. A call that
//! panics still ends its slice, without a value, and so does a future dropped before
//! it completes. If memory runs out ([`Overflow::Drop`]) between a kept slice's start
//! and its value, the slice still ends, its `return` reads `<not recorded: memory
//! limit reached>`, and [`Report::values_dropped`] counts it.
//!
//! Misuses are compile errors at the offending token, saying what to do: unknown
//! options, `skip` of an argument that does not exist, an argument that is not
//! `Debug` and not skipped, `track =` something that is not a `Track`, a return type
//! that is not `Debug` with `ret`, `const fn`, a trait method without a body.
//! `#[trace]` on a function returning `impl Future` without `future` is a warning:
//! its slice would time only the call that builds the future.
//!
//! # Async functions
//!
//! A traced future (a traced `async fn` or async method, a `future` function, a
//! boxed future, or any future with [`.traced("name")`](Traced)) records one slice,
//! from its first poll to its completion or drop; one never polled records nothing.
//! Where the slice goes follows how the program runs:
//!
//! ```text
//! process
//! ├─ main (thread)          [── main ──────────────────]       sync #[trace]: thread track
//! ├─ handle                 [── handle ────────────────────]   a task: its pool's track
//! │  │                        [lookup][lookup][fetch] [phase]  awaited: nested one deeper
//! │  └─ handle #2                            [fetch]           join!: a lane beneath
//! └─ audit                                     [── audit ──]   spawned: its pool's track,
//!                                   flow arrow handle ──▶ audit  linked to its creator
//! ```
//!
//! - **Awaited futures nest**: first polled inside another traced future's poll
//!   (`.await`, `join!`, `select!`, a `FuturesUnordered` polled in it), a future's
//!   slice goes inside the parent's, on the parent's track; a child that would
//!   overlap a concurrent sibling takes a lane beneath the parent's track instead.
//! - **Tasks** (first polled with no traced future around them: spawned, or run by
//!   `block_on`) go on a track of their function's pool, named after it (or its
//!   `name`), reused when free: as many tracks as tasks ran at once. With
//!   `track = X`, tasks take free lanes of `X`.
//! - **Spawned tasks remember their origin**: created inside a traced future's
//!   slice and first polled elsewhere, a future gets a flow arrow from that slice.
//! - **Synchronous code stays on its thread**: a `#[trace]` function or [`span!`]
//!   called inside a future's poll nests on the polling thread's track.
//!
//! Every track that needs more room follows one rule, a custom [`Track`] and a pool
//! alike: its lanes are child tracks of the track they extend, named `NAME #2`,
//! `NAME #3`, ..., never two siblings with one name (the UI would merge them).
//!
//! [`span!`]'s guard is not `Send` (its slice belongs to the thread's track), so a
//! spawned task cannot hold it across `.await`; [`async_span!`] opens a slice in the
//! traced future being polled instead, is `Send`, and the futures it awaits nest in
//! it. `#[trace]` makes an `async fn` a plain `fn` returning `impl Future` (so that
//! the slice is created with the future), unless another attribute macro follows it
//! (`#[tokio::main]`, ...): then it stays an `async fn`, and a spawned future of it
//! gets no flow.
//!
//! ```
//! #[tg4p::trace(ret)]                              // one slice per future
//! async fn fetch(id: u32) -> Vec<u8> {
//!     vec![id as u8]
//! }
//!
//! #[tg4p::trace(future)]                           // the future, not the call
//! fn later(id: u32) -> impl Future<Output = u32> {
//!     async move { id + 1 }
//! }
//!
//! let session = tg4p::open(std::env::temp_dir().join("tg4p-guide-async.pftrace"))?;
//! let future = fetch(1);                           // recorded when an executor polls it
//! drop(future);                                    // never polled: nothing recorded
//! drop(later(2));
//! session.finish()?;
//! # Ok::<(), tg4p::SessionError>(())
//! ```
//!
//! # Compiling tracing out
//!
//! The crate's `enable` feature (on by default) is the instrumentation. Without it
//!
//! ```toml
//! [dependencies]
//! tg4p = { version = "0.1", default-features = false }
//! ```
//!
//! `#[trace]` and `#[trace_args]` return the function as written (their options are
//! still parsed and checked, the `track = X` static type-checked, and the arguments
//! `#[trace_args]` would record count as used, so nothing becomes "unused"), and [`instant!`], [`span!`] and [`count!`] expand to
//! code that never runs (their arguments are still type-checked): a traced function
//! costs what the plain function does, and builds without new warnings. The explicit
//! API ([`open`], [`Track::span`], [`Counter::set`], the trace generator, ...) stays
//! and still records. Cargo unifies features: if any crate of the build depends on
//! `tg4p` with default features, `enable` is on for all.
//!
//! # Traces from data
//!
//! [`generator::TraceGenerator`] writes events with the timestamps you give it:
//! groups (shown as processes), tracks of slices and instants, counter tracks, flows
//! and nested arguments. See [`generator`] for its rules.
//!
//! ```
//! use tg4p::generator::{Extras, GeneratorError, TraceGenerator};
//! use tg4p::{FlowId, args};
//!
//! fn main() -> Result<(), GeneratorError> {
//!     let tgen = TraceGenerator::new(std::io::sink()); // or TraceGenerator::create("out.pftrace")?
//!     let group = tgen.create_group_with_track("aaa", "example_track"); // a process
//!     group.open(100, "SOME_TRACK")?;
//!     let flow = FlowId::new();
//!     group.close_with(250, &[flow])?;                  // an arrow leaves here
//!     let counter = group.create_counter_track("bbb");
//!     counter.count(0, 2)?;                             // integers...
//!     counter.count(200, 4.5)?;                         // ...and floats
//!     let track = group.create_track("ddd");
//!     track.instant_with(400, "ADE", Extras::new()
//!         .args(&args!({"aaa": "abc", "ccc": [1, 2, "a", {"ggg": true}]}))
//!         .terminating_flows(&[flow]))?;                // ...and ends here
//!     tgen.finish()
//! }
//! ```
//!
//! # Platforms
//!
//! tg4p is built and tested on Linux (x86_64). There, threads are recorded with
//! their kernel thread ids and names, timestamps are `CLOCK_BOOTTIME` (Perfetto's
//! default clock, so a trace lines up with other Linux data sources), and on x86_64
//! with an invariant TSC a timestamp is one `rdtsc` reading. Android is treated as
//! Linux. Elsewhere:
//! - other x86_64 or non-x86_64 Linux: timestamps are `clock_gettime` readings
//!   instead of TSC ticks (slower, same meaning);
//! - other Unix systems (macOS, the BSDs; not tested): timestamps are
//!   `CLOCK_MONOTONIC`, and every thread is recorded with the process id as its
//!   thread id, so the slices of all threads share one thread track;
//! - Windows and targets without `libc`'s `clock_gettime`: live tracing does not
//!   build. The trace generator is plain Rust and runs anywhere.
//!
//! # Crates
//!
//! This facade is all you name: `tg4p::...`. The attribute macros come from
//! `tg4p-macros` and the runtime from `tg4p-core`, both pinned to this version;
//! neither is a public API of its own.

#![deny(missing_docs)]
// Every example here, and the README's, compiles without a warning.
#![doc(test(attr(deny(warnings))))]

pub use tg4p_core::FlowId;
pub use tg4p_core::annotation::{MAX_DEPTH, Value};
/// `tg4p::serde(&value)`: any `serde::Serialize` value recorded as a nested dict or
/// array argument, in `instant!`, `span!` and `args!` (the `serde` feature).
#[cfg(feature = "serde")]
pub use tg4p_core::annotation::{SERDE_DEPTH_LIMIT, SERDE_NODE_LIMIT, Serde, serde};

// --- Live tracing (tg4p_core::runtime, tg4p_macros) ---

pub use tg4p_core::runtime::{
    ARG_VALUE_LIMIT, AsyncSpan, CATEGORIES_ENV, CHUNK_BYTES, CategoryError, Counter, CounterNumber,
    DEFAULT_DRAIN_INTERVAL, DEFAULT_MEMORY_LIMIT, DEFAULT_PATH, InstantBuilder, LOSS_MARKER,
    MAX_ARGS, MAX_THREAD_DEPTH, MIN_RING_BYTES, Overflow, Report, Session, SessionBuilder,
    SessionError, SnapshotError, SnapshotHandle, Span, TRACE_ENV, TraceGuard, Traced, TracedFuture,
    Track, enabled, init_from_env, open, set_thread_name,
};
pub use tg4p_macros::{trace, trace_args};
/// Records `tracing` spans and events (and `log` records through tracing-log) into
/// the session's trace: a `tracing_subscriber::Layer` (the `tracing` feature).
#[cfg(feature = "tracing")]
pub use tg4p_tracing::TracingLayer;
/// Records `tracing` spans and events into the session's trace like
/// [`TracingLayer`], as a `tracing::Subscriber` of its own (no registry, no other
/// layers; less than half the layer's cost per span). The `tracing` feature.
#[cfg(feature = "tracing")]
pub use tg4p_tracing::TracingSubscriber;
mod live_macros;

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::live_macros::AsCounter;
    pub use tg4p_core::runtime::private::*;
}

// --- Traces from data (tg4p_core::generator, tg4p_core::annotation) ---

pub use tg4p_core::args;
pub use tg4p_core::generator;

/// The README's examples, compiled and run as doctests (without a warning) so they
/// cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
