//! Instrumented code exactly as users write it, compiled with tg4p's `enable`
//! feature off: `#[trace]` and `#[trace_args]` return the function untouched,
//! `instant!`, `span!` and `count!` expand to code that never runs (their arguments
//! are still type-checked). The explicit API (`tg4p::open`, `Track::span`,
//! `Counter::set`) is still there and still records.
//!
//! It builds without a warning (as users' builds must), and its doctests are the
//! README's examples, built the same way.

#![deny(warnings)]
#![doc(test(attr(deny(warnings))))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};

pub static TOP: tg4p::Track = tg4p::Track::new("TOP");
pub static ACTIVE: tg4p::Counter = tg4p::Counter::new("active");

/// How many times an argument of a compiled-out macro was evaluated (must stay 0).
pub static EVALUATED: AtomicU32 = AtomicU32::new(0);

pub fn side_effect() -> u32 {
    EVALUATED.fetch_add(1, Ordering::SeqCst);
    7
}

#[tg4p::trace]
#[inline(never)]
pub fn traced_empty() {}

#[inline(never)]
pub fn plain_empty() {}

#[tg4p::trace_args(skip(secret))]
pub fn add(a: u32, b: u32, secret: &str) -> u32 {
    a + b + secret.len() as u32
}

/// Arguments that only `#[trace_args]` uses, and a one-expression body: no
/// `unused variable` or `unused_braces` warning with instrumentation off either.
#[tg4p::trace_args]
pub fn recorded_only(x: &mut [u32], a: &[u32], label: &str) {}

#[tg4p::trace(track = TOP, name = "on top")]
pub fn on_top() -> Vec<u8> {
    (0..3).collect()
}

#[derive(Debug, Default)]
pub struct Machine {
    pub n: u32,
}

impl Machine {
    #[tg4p::trace_args]
    pub fn step(&mut self, by: u32) -> u32 {
        self.n += by;
        self.n
    }

    #[tg4p::trace]
    pub async fn run(&self, x: u32) -> u32 {
        self.n + x
    }

    #[tg4p::trace]
    pub fn boxed(&self) -> Pin<Box<dyn Future<Output = u32> + Send + '_>> {
        Box::pin(async move { self.n })
    }
}

#[tg4p::trace(future)]
pub fn later(x: u32) -> impl Future<Output = u32> {
    let y = x + 1; // at the call, before the future runs
    async move { y }
}

#[tg4p::trace(category = "db")]
fn in_category() {}

/// Every `macro_rules!` form, with arguments that would count if evaluated.
pub fn macros() -> usize {
    let [a, b] = tg4p::instant!("INVOKE", outgoing = 2, v = side_effect());
    tg4p::instant!(TOP, "START", incoming = [a, b], w = side_effect());
    let s = tg4p::span!(TOP, "SORT", n = side_effect());
    let out = s.outgoing(1);
    drop(s);
    let _v = tg4p::span!("VALIDATE").incoming(&out);
    tg4p::count!(ACTIVE += side_effect());
    tg4p::count!(ACTIVE -= 1);
    tg4p::count!(ACTIVE = 3);
    tg4p::count!("queue" = side_effect() as f64);
    // Typed, Display, Debug and dotted args, run-time names and flow counts.
    let route = String::from("/users");
    let fan_out = out.len() + 1; // a run-time count is evaluated: the ids are zeros
    let ids: Vec<tg4p::FlowId> = tg4p::instant!(
        route.as_str(),
        outgoing = fan_out,
        http.method = %side_effect(),
        dbg = ?side_effect(),
        lit = 3
    );
    tg4p::instant!(TOP, { &route }, incoming = ids, t = side_effect());
    let _r = tg4p::span!(route.as_str(), x.y = side_effect());
    let _t = tg4p::span!(TOP, { route.clone() }, s = %side_effect());
    // Categories.
    let _c = tg4p::span!("C", category = "db", n = side_effect());
    tg4p::instant!("I", category = "db", w = side_effect());
    let _a = tg4p::async_span!("A", category = "db", n = side_effect());
    tg4p::count!("categorized" += side_effect(), category = "db");
    in_category();
    out.len() + fan_out - 2
}

/// Polls a future that never waits to completion (no executor needed here).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// The README's examples, compiled (and run, where they are not `no_run`) with
/// instrumentation off and warnings denied.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
