//! What a category costs: a `#[trace(category = "db")]` call whose category the
//! session leaves out (the gate only: one load of the callsite's gate and one
//! branch), against the same call with no session, an enabled one, the same
//! function without a category, an untraced call and one `Instant::now()`.
//!
//! `taskset -c 1 cargo bench --bench categories` runs criterion's benchmarks, then
//! a summary measured in one process: each case's ns per call and its ratio to one
//! `Instant::now()` of the same run (best of 7 rounds). `TG4P_BENCH_SECS` (default
//! 1) sets criterion's measurement time per benchmark.

use criterion::Criterion;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[tg4p::trace]
#[inline(never)]
fn uncategorized() {}

#[tg4p::trace(category = "db")]
#[inline(never)]
fn in_db() {}

/// The same call without `#[trace]`.
#[inline(never)]
fn untraced() {
    black_box(());
}

fn session(name: &str, pattern: &str) -> tg4p::Session {
    let path: PathBuf = std::env::temp_dir().join(format!(
        "tg4p-bench-categories-{}-{name}.pftrace",
        std::process::id()
    ));
    tg4p::Session::builder()
        .path(path)
        .memory_limit(512 << 20)
        .categories(pattern)
        .start()
        .expect("open a bench session")
}

fn finish(s: tg4p::Session) {
    let r = s.finish().expect("finish");
    std::fs::remove_file(&r.path).ok();
}

fn criterion_benches(c: &mut Criterion) {
    c.bench_function("instant_now", |b| b.iter(|| black_box(Instant::now())));
    c.bench_function("untraced_call", |b| b.iter(untraced));
    c.bench_function("no_session/uncategorized", |b| b.iter(uncategorized));
    c.bench_function("no_session/category", |b| b.iter(in_db));
    let s = session("criterion-off", "-db");
    c.bench_function("category_disabled", |b| b.iter(in_db));
    finish(s);
    let s = session("criterion-on", "");
    c.bench_function("category_enabled", |b| b.iter(in_db));
    c.bench_function("uncategorized_enabled", |b| b.iter(uncategorized));
    finish(s);
}

/// Best of `rounds` timings of `n` calls of `f`, in ns per call.
fn ns_per_call(n: u64, rounds: u32, mut f: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn summary() {
    const N: u64 = 200_000;
    let base = ns_per_call(N, 7, || {
        black_box(Instant::now());
    });
    let plain = ns_per_call(N * 10, 7, untraced);
    let off_plain = ns_per_call(N * 10, 7, uncategorized);
    let off_db = ns_per_call(N * 10, 7, in_db);
    let s = session("ratios-off", "-db");
    let disabled = ns_per_call(N * 10, 7, in_db);
    // With the session open and "db" left out, the uncategorized call records.
    let s_plain_enabled = ns_per_call(N, 7, uncategorized);
    finish(s);
    let s = session("ratios-on", "");
    let enabled = ns_per_call(N, 7, in_db);
    let plain_enabled = ns_per_call(N, 7, uncategorized);
    finish(s);
    println!("\n== categories summary (ratio to one Instant::now() = {base:.1} ns) ==");
    for (name, ns, note) in [
        ("untraced call", plain, "the call and its loop"),
        ("no session, uncategorized", off_plain, "the session gate"),
        ("no session, category", off_db, "the category gate"),
        (
            "category disabled",
            disabled,
            "session open, \"db\" left out: the category gate",
        ),
        ("category enabled", enabled, "BEGIN+END, category interned"),
        (
            "uncategorized enabled",
            plain_enabled,
            "BEGIN+END (session \"\")",
        ),
        (
            "uncategorized enabled",
            s_plain_enabled,
            "BEGIN+END (session \"-db\")",
        ),
    ] {
        println!("{name:<26} {ns:8.2} ns  {:6.3}x  {note}", ns / base);
    }
    println!(
        "gate of a disabled category: {:.3}x Instant::now() over the untraced call",
        (disabled - plain).max(0.0) / base
    );
}

fn main() {
    let secs: f64 = std::env::var("TG4P_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs_f64(secs))
        .warm_up_time(Duration::from_millis(300))
        .configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
    summary();
}
