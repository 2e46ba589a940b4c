//! Cost of a traced future: from its first poll to its completion, polled 3 times
//! (pending twice), on one thread with a no-op waker, so that only tg4p's work and
//! the future's own are timed.
//!
//! `cargo bench --bench futures` runs criterion's benchmarks, then prints each
//! one's cost as a ratio to one `std::time::Instant::now()`, all measured in the
//! same process:
//! - `instant_now`: the baseline;
//! - `plain_future`: the same `async fn` without `#[trace]`;
//! - `traced_future_off`: `#[trace]` with no session open;
//! - `traced_future`: `#[trace]` recording (a task: on its pool's track);
//! - `traced_child`: a traced future awaited by a traced parent (the child's
//!   extra cost: nesting on the parent's track), per child, 4 children a parent;
//! - `traced_block`: `async { .. }.traced("block")` recording (boxes the block).
//!
//! `TG4P_BENCH_SECS` (default 1) sets criterion's measurement time per benchmark.

use criterion::Criterion;
use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tg4p::Traced;

/// Pending once, then ready: one more poll of whoever awaits it.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

async fn three_polls() -> u32 {
    YieldOnce(false).await;
    YieldOnce(false).await;
    black_box(1)
}

#[tg4p::trace]
async fn traced_three_polls() -> u32 {
    YieldOnce(false).await;
    YieldOnce(false).await;
    black_box(1)
}

#[tg4p::trace]
async fn traced_child() -> u32 {
    YieldOnce(false).await;
    YieldOnce(false).await;
    black_box(1)
}

#[tg4p::trace]
async fn traced_parent() -> u32 {
    traced_child().await + traced_child().await + traced_child().await + traced_child().await
}

async fn plain_parent() -> u32 {
    three_polls().await + three_polls().await + three_polls().await + three_polls().await
}

/// Polls `future` to completion with a no-op waker.
#[inline(always)]
fn run<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn session(name: &str) -> tg4p::Session {
    tg4p::Session::builder()
        .path(std::env::temp_dir().join(format!(
            "tg4p-bench-futures-{}-{name}.pftrace",
            std::process::id()
        )))
        .memory_limit(512 << 20)
        .start()
        .expect("open a bench session")
}

fn main() {
    let secs: u64 = std::env::var("TG4P_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(secs))
        .warm_up_time(Duration::from_millis(300));
    let mut ns = std::collections::BTreeMap::new();
    let mut bench = |c: &mut Criterion, name: &'static str, f: &mut dyn FnMut()| {
        let mut best = f64::INFINITY;
        c.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    f();
                }
                let d = t.elapsed();
                best = best.min(d.as_nanos() as f64 / iters as f64);
                d
            })
        });
        ns.insert(name, best);
    };
    bench(&mut c, "instant_now", &mut || {
        black_box(Instant::now());
    });
    bench(&mut c, "plain_future", &mut || {
        black_box(run(three_polls()));
    });
    bench(&mut c, "traced_future_off", &mut || {
        black_box(run(traced_three_polls()));
    });
    let s = session("criterion");
    bench(&mut c, "traced_future", &mut || {
        black_box(run(traced_three_polls()));
    });
    bench(&mut c, "plain_parent_4", &mut || {
        black_box(run(plain_parent()));
    });
    bench(&mut c, "traced_parent_4", &mut || {
        black_box(run(traced_parent()));
    });
    bench(&mut c, "traced_block", &mut || {
        black_box(run(async {
            YieldOnce(false).await;
            YieldOnce(false).await;
            black_box(1)
        }
        .traced("block")));
    });
    let report = s.finish().expect("finish");
    std::fs::remove_file(&report.path).ok();
    c.final_summary();

    let base = ns["instant_now"];
    println!("\nsame-run costs (best ns per iteration / one Instant::now() = {base:.1} ns):");
    for (name, v) in &ns {
        println!("  {name:<20} {v:>8.1} ns  {:>6.2}x", v / base);
    }
    let child = (ns["traced_parent_4"] - ns["traced_future"] - ns["plain_parent_4"]
        + ns["plain_future"])
        / 4.0;
    println!(
        "  per awaited child   {child:>8.1} ns  {:>6.2}x  ((traced_parent_4 - traced_future) - (plain_parent_4 - plain_future)) / 4",
        child / base
    );
    println!(
        "  per traced future   {:>8.1} ns  {:>6.2}x  (traced_future - plain_future)",
        ns["traced_future"] - ns["plain_future"],
        (ns["traced_future"] - ns["plain_future"]) / base
    );
    println!(
        "session: {} events written, {} dropped",
        report.events_written, report.events_dropped
    );
}
