//! Cost of the attribute macros on the forms issue 4 added, against the same code
//! untraced, measured in the same run (best of 7 rounds, ns per call):
//! - `#[trace]` on a `&self` method;
//! - `#[trace]` on an `async fn`: per future (a future that completes on its first
//!   poll) and per poll (a future that suspends 100 times: the extra cost beyond the
//!   per-future cost, divided by the polls);
//!
//! Each is measured with no session open (the gate) and with a session recording.
//!
//! `cargo bench --bench macros`. The cost with instrumentation compiled out (the
//! facade's `enable` feature off) is measured by
//! `CARGO_TARGET_DIR=target/disabled cargo run --release --manifest-path tests/disabled/Cargo.toml --example cost`.

use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

struct Obj(u64);

impl Obj {
    #[tg4p::trace]
    #[inline(never)]
    fn traced(&self) -> u64 {
        black_box(self.0)
    }

    #[inline(never)]
    fn plain(&self) -> u64 {
        black_box(self.0)
    }
}

#[tg4p::trace]
async fn traced_async(x: u64) -> u64 {
    black_box(x)
}

async fn plain_async(x: u64) -> u64 {
    black_box(x)
}

/// Pending once, then ready: one extra poll of the future awaiting it.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

const POLLS: u64 = 100;

#[tg4p::trace]
async fn traced_yielding() {
    for _ in 0..POLLS {
        YieldOnce(false).await;
    }
}

async fn plain_yielding() {
    for _ in 0..POLLS {
        YieldOnce(false).await;
    }
}

/// Polls `f` to completion on this thread.
#[inline(always)]
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn ns_per_call(n: u64, mut f: impl FnMut()) -> f64 {
    (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

struct Figures {
    method: (f64, f64),
    future: (f64, f64),
    polls: (f64, f64),
}

fn measure() -> Figures {
    const N: u64 = 200_000;
    let o = Obj(7);
    Figures {
        method: (
            ns_per_call(N, || {
                black_box(o.traced());
            }),
            ns_per_call(N, || {
                black_box(o.plain());
            }),
        ),
        future: (
            ns_per_call(N, || {
                black_box(block_on(traced_async(black_box(3))));
            }),
            ns_per_call(N, || {
                black_box(block_on(plain_async(black_box(3))));
            }),
        ),
        polls: (
            ns_per_call(N / POLLS, || block_on(traced_yielding())),
            ns_per_call(N / POLLS, || block_on(plain_yielding())),
        ),
    }
}

fn report(title: &str, f: &Figures) {
    println!("\n== {title} ==");
    let (t, p) = f.method;
    println!(
        "method (&self)       traced {t:7.2} ns  untraced {p:7.2} ns  overhead {:7.2} ns/call",
        t - p
    );
    let (t, p) = f.future;
    let per_future = t - p;
    println!(
        "async fn, 1 poll     traced {t:7.2} ns  untraced {p:7.2} ns  overhead {per_future:7.2} ns/future"
    );
    let (t, p) = f.polls;
    println!(
        "async fn, {POLLS} polls traced {t:7.1} ns  untraced {p:7.1} ns  overhead {:7.3} ns/poll beyond the per-future cost",
        (t - p - per_future) / POLLS as f64
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here
    }
    let base = ns_per_call(200_000, || {
        black_box(Instant::now());
    });
    println!("one Instant::now(): {base:.2} ns");
    report("no session open (the gate)", &measure());
    let path =
        std::env::temp_dir().join(format!("tg4p-bench-macros-{}.pftrace", std::process::id()));
    let session = tg4p::Session::builder()
        .path(&path)
        .memory_limit(512 << 20)
        .start()
        .expect("open a bench session");
    let figures = measure();
    let r = session.finish().expect("finish");
    report("session recording", &figures);
    println!(
        "(session: {} events written, {} dropped)",
        r.events_written, r.events_dropped
    );
    std::fs::remove_file(&path).ok();
}
