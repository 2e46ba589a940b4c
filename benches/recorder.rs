//! Cost of live tracing on the recording thread, and what the writer makes of it.
//!
//! `cargo bench --bench recorder` runs criterion's benchmarks (`instant_now`
//! baseline, `span`, `span_disabled` and `untraced_call`, `instant`, `counter`,
//! `span_args`), then a summary measured in the same process:
//! - each operation's cost as a ratio to one `std::time::Instant::now()`;
//! - end to end: 2 threads calling a traced empty function, events written per second;
//! - one thread calling a traced empty function 2 million times: bytes per slice
//!   event in the file, events dropped (the writer must keep up: none), and the
//!   time `finish()` takes against the recording time (target: at most 10%); the
//!   same for `span!`;
//! - per operation (`#[trace]`, `span!`, `instant!`, with and without an integer
//!   arg), 2M calls each in a blocking session: the recording thread's CPU time
//!   and the process's (writer and `finish` included), as ratios to one
//!   `Instant::now()` measured in the same round (median and least of
//!   `TG4P_BENCH_ROUNDS` rounds, default 5;
//!   `TG4P_BENCH_VALUES_ONLY=1` runs only this; pin it to one
//!   core with `taskset -c 1` to pay the writer on the same core;
//!   `TG4P_BENCH_OPS=WORD` runs only the operations whose name contains WORD).
//!
//! The summary also times `span` in ring mode (`SessionBuilder::ring`).
//!
//! Custom tracks (`custom_track` criterion group, and `tracks_run` in the summary;
//! `TG4P_BENCH_TRACKS_ONLY=1` runs only that summary): 1, 2 and 8 threads at once
//! record spans on one shared `static` track, against the same threads recording
//! `span!` on their own tracks in the same run, in blocking sessions: the mean
//! recording thread's CPU per span, and the process's (writer and finish included).
//!
//! `TG4P_BENCH_SECS` (default 1) sets criterion's measurement time per benchmark.

use criterion::Criterion;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

static COUNTER: tg4p::Counter = tg4p::Counter::new("bench_counter");

#[tg4p::trace]
#[inline(never)]
fn traced_empty() {}

/// The same call without tracing: what `span_disabled` adds to.
#[inline(never)]
fn plain_empty() {
    black_box(());
}

#[tg4p::trace_args]
#[inline(never)]
fn traced_args(id: u32, name: &str) {
    black_box((id, name));
}

fn bench_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tg4p-bench-{}-{name}.pftrace", std::process::id()))
}

fn session(name: &str) -> tg4p::Session {
    tg4p::Session::builder()
        .path(bench_path(name))
        .memory_limit(512 << 20)
        .start()
        .expect("open a bench session")
}

fn criterion_benches(c: &mut Criterion) {
    c.bench_function("instant_now", |b| b.iter(|| black_box(Instant::now())));
    c.bench_function("span_disabled", |b| b.iter(traced_empty));
    // The same call without `#[trace]`: span_disabled minus this is the gate's cost.
    c.bench_function("untraced_call", |b| b.iter(plain_empty));
    let s = session("criterion");
    c.bench_function("span", |b| b.iter(traced_empty));
    c.bench_function("instant", |b| b.iter(|| tg4p::instant!("bench_instant")));
    c.bench_function("counter", |b| b.iter(|| tg4p::count!(COUNTER += 1)));
    c.bench_function("span_args", |b| {
        b.iter(|| traced_args(black_box(42), black_box("ab")))
    });
    let report = s.finish().expect("finish");
    println!(
        "criterion session: {} events written, {} dropped",
        report.events_written, report.events_dropped
    );
    std::fs::remove_file(&report.path).ok();
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
    if std::env::var_os("TG4P_BENCH_TRACKS_ONLY").is_some() {
        return tracks_run();
    }
    if std::env::var_os("TG4P_BENCH_LONG_ONLY").is_some() {
        return long_run();
    }
    if std::env::var_os("TG4P_BENCH_VALUES_ONLY").is_some() {
        return values_run();
    }
    const N: u64 = 200_000;
    let base = ns_per_call(N, 7, || {
        black_box(Instant::now());
    });
    let disabled = ns_per_call(N * 10, 7, traced_empty);
    let plain = ns_per_call(N * 10, 7, plain_empty);
    let s = session("ratios");
    let span = ns_per_call(N, 7, traced_empty);
    let instant = ns_per_call(N, 7, || {
        tg4p::instant!("bench_instant");
    });
    let counter = ns_per_call(N, 7, || tg4p::count!(COUNTER += 1));
    let args = ns_per_call(N, 7, || traced_args(black_box(42), black_box("ab")));
    let r = s.finish().expect("finish");
    std::fs::remove_file(&r.path).ok();
    // The same span in ring mode (the flight recorder): the same recording path;
    // the ring (8 MiB) overflows many times, so buffers are recycled as they fill.
    let ring = tg4p::Session::builder()
        .path(bench_path("ring"))
        .ring(8 << 20)
        .start()
        .expect("open a ring session");
    let span_ring = ns_per_call(N, 7, traced_empty);
    let rr = ring.finish().expect("finish");
    std::fs::remove_file(&rr.path).ok();
    println!("\n== recorder summary (ratio to one Instant::now() = {base:.1} ns) ==");
    for (name, ns, target) in [
        ("span (BEGIN+END)", span, "<= 1.4"),
        ("span, ring mode", span_ring, "(flight recorder: as span)"),
        (
            "span_disabled",
            disabled,
            "(the call, its loop, and the gate)",
        ),
        (
            "  untraced call",
            plain,
            "(the same call and loop, no #[trace])",
        ),
        (
            "  gate (difference)",
            (disabled - plain).max(0.0),
            "<= 0.05: what #[trace] adds with no session",
        ),
        ("instant", instant, ""),
        ("counter", counter, ""),
        ("span_args (2 args)", args, ""),
    ] {
        println!("{name:<20} {ns:8.2} ns  {:6.3}x  {target}", ns / base);
    }
    println!(
        "(ratio session: {} events written, {} dropped)",
        r.events_written, r.events_dropped
    );

    // End to end: 2 threads, events written per second.
    let s = session("e2e");
    const PER_THREAD: u64 = 1_000_000;
    let t = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(|| (0..PER_THREAD).for_each(|_| traced_empty())))
        .collect();
    threads.into_iter().for_each(|h| h.join().unwrap());
    let r = s.finish().expect("finish");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "end to end, 2 threads: {} events written ({} dropped) in {:.3} s (finish included): {:.1} M events/s",
        r.events_written,
        r.events_dropped,
        secs,
        r.events_written as f64 / secs / 1e6
    );
    std::fs::remove_file(&r.path).ok();

    long_run();
    values_run();
    tracks_run();
}

/// CPU time in ns used so far by the calling thread (`libc::RUSAGE_THREAD`) or the
/// whole process, its writer and exited threads included (`libc::RUSAGE_SELF`).
fn cpu_ns(who: libc::c_int) -> f64 {
    // SAFETY: `rusage` is plain data (all-zero is a valid value) and getrusage
    // only writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    (us(usage.ru_utime) + us(usage.ru_stime)) * 1e3
}

/// What [`cpu_per_op`] measured: CPU ns per call of the recording thread and of
/// the process, and the trace's bytes per call.
struct PerOp {
    thread: f64,
    process: f64,
    bytes: f64,
}

/// `n` calls of `f` in a session that blocks rather than drops (so the writer's
/// pace shows), finished: CPU ns per call of the recording thread, and of the
/// process (recording thread, writer and finish; not removing the trace file), and
/// the file's bytes per call. Without a session: the thread's CPU per call, twice.
fn cpu_per_op(name: &str, n: u64, session: bool, mut f: impl FnMut()) -> PerOp {
    let s = session.then(|| blocking_session(name));
    let (t0, p0) = (cpu_ns(libc::RUSAGE_THREAD), cpu_ns(libc::RUSAGE_SELF));
    for _ in 0..n {
        f();
    }
    let t1 = cpu_ns(libc::RUSAGE_THREAD);
    let report = s.map(|s| s.finish().expect("finish"));
    // Taken before the trace file is removed: deleting it is the bench's clean-up,
    // not a cost of tracing.
    let p1 = cpu_ns(libc::RUSAGE_SELF);
    let mut size = 0;
    if let Some(r) = report {
        assert_eq!(r.events_dropped, 0, "{name}: blocking session");
        size = std::fs::metadata(&r.path).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&r.path).ok();
    }
    PerOp {
        thread: (t1 - t0) / n as f64,
        process: (p1 - p0) / n as f64,
        bytes: size as f64 / n as f64,
    }
}

/// Issue 15's comparison, all in one run: per operation, the recording thread's
/// CPU and the process's (writer and finish included), as ratios to one
/// `Instant::now()` measured the same way. Pin the process to one core
/// (`taskset -c 1`) so that the writer's work is paid on the same core.
///
/// `TG4P_BENCH_ROUNDS` rounds (default 5), each measuring `Instant::now()` and
/// then every operation once: each ratio is taken against its own round's
/// baseline, and the median and the least of the rounds are printed. (One
/// baseline for the whole run made every ratio move with the few milliseconds
/// in which that baseline happened to be measured on this shared VM.)
fn values_run() {
    const N: u64 = 2_000_000;
    let rounds = bench_rounds();
    type Op = Box<dyn FnMut()>;
    let ops: [(&str, Op); 5] = [
        ("#[trace] span", Box::new(traced_empty)),
        (
            "span!(\"..\")",
            Box::new(|| {
                let _s = tg4p::span!("bench_span");
            }),
        ),
        (
            "span! + 1 int",
            Box::new(|| {
                let _s = tg4p::span!("bench_span_int", n = black_box(7u64));
            }),
        ),
        (
            "instant!",
            Box::new(|| {
                tg4p::instant!("bench_instant");
            }),
        ),
        (
            "instant! + 1 int",
            Box::new(|| {
                tg4p::instant!("bench_instant_int", n = black_box(7u64));
            }),
        ),
    ];
    // `TG4P_BENCH_OPS=int` runs only the operations whose name contains `int`
    // (to profile one of them).
    let only = std::env::var("TG4P_BENCH_OPS").unwrap_or_default();
    let mut ops: Vec<(&str, Op)> = ops
        .into_iter()
        .filter(|(name, _)| name.contains(only.as_str()))
        .collect();
    // Per round: the baseline, then per op (thread ratio, process ratio, bytes).
    let mut bases = Vec::with_capacity(rounds);
    let mut ratios: Vec<Vec<(f64, f64, f64)>> = vec![Vec::with_capacity(rounds); ops.len()];
    for _ in 0..rounds {
        let base = cpu_per_op("now", N, false, || {
            black_box(Instant::now());
        })
        .thread;
        bases.push(base);
        for ((name, f), r) in ops.iter_mut().zip(&mut ratios) {
            let m = cpu_per_op(name, N, true, f);
            r.push((m.thread / base, m.process / base, m.bytes));
        }
    }
    println!(
        "\n== per op: recording thread CPU / process CPU, as ratios to one Instant::now() \
         (median of {rounds} rounds, least in brackets; Instant::now() median {:.1} ns) ==",
        median(&bases)
    );
    for ((name, _), r) in ops.iter().zip(&ratios) {
        let thread: Vec<f64> = r.iter().map(|x| x.0).collect();
        let process: Vec<f64> = r.iter().map(|x| x.1).collect();
        println!(
            "{name:<18} thread {:5.2}x ({:4.2}x)   process {:5.2}x ({:4.2}x)   {:5.1} B/op",
            median(&thread),
            least(&thread),
            median(&process),
            least(&process),
            r[0].2
        );
    }
}

/// `TG4P_BENCH_ROUNDS` (default 5): rounds of the per-op and custom-track tables.
fn bench_rounds() -> usize {
    std::env::var("TG4P_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(5)
}

/// The median of `xs` (not empty).
fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The least of `xs`.
fn least(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

/// One thread, 2M spans (of `#[trace]`, then of `span!`): bytes per slice event,
/// drops, finish time.
fn long_run() {
    long_run_of("#[trace]", traced_empty);
    long_run_of("span!", || {
        let _s = tg4p::span!("bench_span");
    });
}

fn long_run_of(label: &str, mut f: impl FnMut()) {
    let s = session("long");
    const SPANS: u64 = 2_000_000;
    let t = Instant::now();
    (0..SPANS).for_each(|_| f());
    let recording = t.elapsed();
    let t = Instant::now();
    let r = s.finish().expect("finish");
    let finishing = t.elapsed();
    let size = std::fs::metadata(&r.path).map(|m| m.len()).unwrap_or(0);
    println!(
        "2M {label} spans on one thread: recording {:.1} ms, finish {:.1} ms ({:.1}% of recording, target <= 10%)",
        ms(recording),
        ms(finishing),
        100.0 * finishing.as_secs_f64() / recording.as_secs_f64()
    );
    println!(
        "  {} events written, {} dropped (target 0); file {} bytes = {:.2} bytes per slice event (target <= 15)",
        r.events_written,
        r.events_dropped,
        size,
        size as f64 / (2 * SPANS) as f64
    );
    std::fs::remove_file(&r.path).ok();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
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
    criterion_tracks(&mut c);
    c.final_summary();
    summary();
}

static BENCH_TRACK: tg4p::Track = tg4p::Track::new("bench_track");

/// A span on the calling thread's own track: the custom track's baseline.
fn thread_track_span() {
    let _s = tg4p::span!("bench_thread_span");
}

/// A span on the shared custom track.
fn custom_track_span() {
    let _s = tg4p::span!(BENCH_TRACK, "bench_track_span");
}

/// CPU time in ns used so far by the calling thread.
fn thread_cpu_ns() -> u64 {
    // SAFETY: `timespec` is plain data; clock_gettime only writes into it.
    let t = unsafe {
        let mut t: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t);
        t
    };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// `threads` threads, started together, each make `n` calls of `f`: the mean CPU
/// time in ns per call of a recording thread.
fn per_thread_cpu(threads: usize, n: u64, f: fn()) -> f64 {
    let start = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let t0 = thread_cpu_ns();
                for _ in 0..n {
                    f();
                }
                thread_cpu_ns() - t0
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / (threads as u64 * n) as f64
}

fn blocking_session(name: &str) -> tg4p::Session {
    tg4p::Session::builder()
        .path(bench_path(name))
        .memory_limit(64 << 20)
        .overflow(tg4p::Overflow::Block)
        .start()
        .expect("open a bench session")
}

/// Criterion's view: per-thread CPU per span with 1, 2 and 8 threads recording at
/// once, on the shared custom track and on their own tracks (the baseline).
fn criterion_tracks(c: &mut Criterion) {
    let s = blocking_session("criterion-tracks");
    let mut g = c.benchmark_group("custom_track");
    for threads in [1, 2, 8] {
        for (name, f) in [
            ("thread_track", thread_track_span as fn()),
            ("custom_track", custom_track_span as fn()),
        ] {
            g.bench_function(format!("{name}/{threads}"), |b| {
                b.iter_custom(|iters| {
                    let ns = per_thread_cpu(threads, iters, f);
                    Duration::from_nanos((ns * iters as f64) as u64)
                })
            });
        }
    }
    g.finish();
    let r = s.finish().expect("finish");
    assert_eq!(r.events_dropped, 0);
    std::fs::remove_file(&r.path).ok();
}

/// Issue 15's custom-track comparison, in one run: with 1, 2 and 8 threads at
/// once, spans on one shared custom track against spans on the threads' own
/// tracks; per span, the mean recording thread's CPU and the process's (writer
/// and finish included), as ratios to one `Instant::now()`; custom / thread
/// track per round of the two interleaved (`TG4P_BENCH_ROUNDS` rounds, default
/// 5), the median and the least of those ratios.
fn tracks_run() {
    const PER_THREAD: u64 = 400_000;
    let rounds = bench_rounds();
    let base = cpu_per_op("now-tracks", 2_000_000, false, || {
        black_box(Instant::now());
    });
    let base = base.thread;
    println!(
        "\n== spans on a shared custom track vs the thread's own track, per span: \
         recording thread CPU / process CPU (ratio to Instant::now() = {base:.1} ns; \
         custom/thread: median of {rounds} rounds' ratios, least in brackets) =="
    );
    for threads in [1, 2, 8] {
        // Per round, interleaved: (thread, process) ns per span on the thread's
        // track, then on the custom track.
        let mut runs: Vec<[(f64, f64); 2]> = Vec::with_capacity(rounds);
        for _round in 0..rounds {
            let mut run = [(0.0, 0.0); 2];
            for (k, f) in [thread_track_span as fn(), custom_track_span]
                .into_iter()
                .enumerate()
            {
                let s = blocking_session("tracks");
                let p0 = cpu_ns(libc::RUSAGE_SELF);
                let thread = per_thread_cpu(threads, PER_THREAD, f);
                let r = s.finish().expect("finish");
                let process =
                    (cpu_ns(libc::RUSAGE_SELF) - p0) / (threads as u64 * PER_THREAD) as f64;
                assert_eq!(r.events_dropped, 0, "blocking session");
                std::fs::remove_file(&r.path).ok();
                run[k] = (thread, process);
            }
            runs.push(run);
        }
        let of = |f: fn(&[(f64, f64); 2]) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
        let (tt, tp) = (median(&of(|r| r[0].0)), median(&of(|r| r[0].1)));
        let (ct, cp) = (median(&of(|r| r[1].0)), median(&of(|r| r[1].1)));
        let thread_ratio = of(|r| r[1].0 / r[0].0);
        let process_ratio = of(|r| r[1].1 / r[0].1);
        println!(
            "{threads} thread(s): thread track {tt:6.1} / {tp:6.1} ns ({:5.2}x / {:5.2}x)   \
             custom track {ct:6.1} / {cp:6.1} ns ({:5.2}x / {:5.2}x)   \
             custom/thread: thread CPU {:4.2}x ({:4.2}x), process CPU {:4.2}x ({:4.2}x) (target <= 1.5)",
            tt / base,
            tp / base,
            ct / base,
            cp / base,
            median(&thread_ratio),
            least(&thread_ratio),
            median(&process_ratio),
            least(&process_ratio),
        );
    }
}
