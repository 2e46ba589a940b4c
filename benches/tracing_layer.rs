//! Cost of recording `tracing` spans and events through `tg4p::TracingLayer` and
//! `tg4p::TracingSubscriber`, against tracing-perfetto-file's layer and tracing's
//! own dispatch, on one workload:
//! a span created, entered and exited around a trivial body (then closed), and an
//! event with one integer field; on 1 thread and on 2 threads at once.
//!
//! `cargo bench --bench tracing_layer` runs criterion's benchmarks, then a summary
//! measured in the same process, as ratios:
//! - per span: tg4p's layer and subscriber / tracing-perfetto-file's layer (target
//!   <= 1/3), and / tg4p's own `#[trace]` (target <= 2);
//! - the same per event (and / tg4p's own `instant!` with one integer arg), and
//!   with 2 threads;
//! - bytes per slice event in the file (target <= 20), events dropped (0: `Block`).
//!
//! Baselines: `noop` is tracing's no-op subscriber (`NoSubscriber`: the macros'
//! dispatch and nothing else; its callsites are disabled), measured in a child
//! process of its own: its `Interest::never`, combined with the others'
//! `Interest::always`, would make every callsite "sometimes" for the whole
//! process, so that every span of every subscriber paid an `enabled` call and a
//! second dispatcher look-up that a program with one subscriber never pays;
//! `floor` a subscriber
//! that enables everything and does nothing (tracing's own cost per span); `registry` is `tracing_subscriber::registry()` with
//! no layer (the span bookkeeping every layer sits on).
//! `TG4P_BENCH_SECS` (default 1) sets criterion's measurement time per benchmark.

use criterion::Criterion;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

#[tg4p::trace]
#[inline(never)]
fn traced_empty() {
    black_box(());
}

/// The span workload: created, entered, a trivial body, exited, closed.
#[inline(never)]
fn span_op() {
    let span = tracing::info_span!("work");
    let _entered = span.enter();
    black_box(());
}

/// The event workload: one integer field.
#[inline(never)]
fn event_op(i: u64) {
    tracing::info!(n = i);
}

/// tg4p's own instant with one integer arg: what an event costs the recorder.
#[inline(never)]
fn instant_op(i: u64) {
    tg4p::instant!("instant", n = i);
}

fn bench_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tg4p-bench-tracing-{}-{name}.pftrace",
        std::process::id()
    ))
}

fn session(name: &str) -> tg4p::Session {
    tg4p::Session::builder()
        .path(bench_path(name))
        .memory_limit(512 << 20)
        .overflow(tg4p::Overflow::Block)
        .start()
        .expect("open a bench session")
}

/// The floor of any `tracing::Subscriber` that records spans: one that enables
/// every callsite, hands out one id and does nothing with it. What `tracing`'s own
/// protocol (callsite check, `Span` with its `Dispatch` clone, new_span, enter,
/// exit, try_close) costs before a subscriber does any work.
struct Floor;

impl tracing::Subscriber for Floor {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::Id {
        tracing::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::Id, _: &tracing::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        black_box(event);
    }
    fn enter(&self, span: &tracing::Id) {
        black_box(span);
    }
    fn exit(&self, span: &tracing::Id) {
        black_box(span);
    }
}

/// The subscribers compared. tracing-perfetto-file records what tg4p's layer
/// records: fields as debug annotations, and source locations.
struct Subscribers {
    floor: Dispatch,
    registry: Dispatch,
    tg4p: Dispatch,
    own: Dispatch,
    tpf: Dispatch,
    _tpf_guard: tracing_perfetto_file::FlushGuard,
    tpf_path: PathBuf,
}

impl Subscribers {
    fn new() -> Subscribers {
        let tpf_path = bench_path("tpf");
        let file = std::fs::File::create(&tpf_path).expect("tpf file");
        let (layer, guard) = tracing_perfetto_file::PerfettoLayer::builder(file)
            .with_debug_annotations()
            .with_source_locations()
            .build();
        Subscribers {
            floor: Dispatch::new(Floor),
            registry: Dispatch::new(tracing_subscriber::registry()),
            tg4p: Dispatch::new(tracing_subscriber::registry().with(tg4p::TracingLayer::new())),
            own: Dispatch::new(tg4p::TracingSubscriber::new()),
            tpf: Dispatch::new(tracing_subscriber::registry().with(layer)),
            _tpf_guard: guard,
            tpf_path,
        }
    }
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        std::fs::remove_file(&self.tpf_path).ok();
    }
}

fn criterion_benches(c: &mut Criterion, subs: &Subscribers) {
    let s = session("criterion");
    c.bench_function("trace_fn", |b| b.iter(traced_empty));
    for (name, d) in [
        ("registry", &subs.registry),
        ("tg4p", &subs.tg4p),
        ("tg4p_subscriber", &subs.own),
        ("tracing_perfetto_file", &subs.tpf),
    ] {
        tracing::dispatcher::with_default(d, || {
            c.bench_function(&format!("span/{name}"), |b| b.iter(span_op));
            let mut i = 0u64;
            c.bench_function(&format!("event/{name}"), |b| {
                b.iter(|| {
                    i += 1;
                    event_op(i)
                })
            });
        });
    }
    let report = s.finish().expect("finish");
    println!(
        "criterion session: {} events written, {} dropped",
        report.events_written, report.events_dropped
    );
    std::fs::remove_file(&report.path).ok();
}

/// Best of `rounds` timings of `n` calls of `f` on each of `threads` threads at
/// once (each with `dispatch` as its default), in ns per call per thread.
fn ns_per_call(threads: usize, dispatch: &Dispatch, n: u64, rounds: u32, f: fn(u64)) -> f64 {
    (0..rounds)
        .map(|_| {
            let start = std::sync::Barrier::new(threads);
            let t = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        let start = &start;
                        s.spawn(move || {
                            tracing::dispatcher::with_default(dispatch, || {
                                start.wait();
                                let t = Instant::now();
                                for i in 0..n {
                                    f(i);
                                }
                                t.elapsed()
                            })
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .max()
                    .unwrap()
            });
            t.as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// A dispatch and the operation run under it.
type Workload<'a> = (&'a Dispatch, fn(u64));

fn summary(subs: &Subscribers) {
    // Short rounds (at most a few ms each), many of them: on a shared, loaded
    // machine the best round of each workload is one the scheduler left alone,
    // whatever the workload's cost (long rounds favour the cheapest workloads).
    const N: u64 = 20_000;
    const ROUNDS: u32 = 60;
    println!(
        "\n== tracing layer summary (ns per operation, best of {ROUNDS} rounds; each round runs every workload once, in turn) =="
    );
    for threads in [1, 2] {
        // Interleaved: on a shared, loaded machine every workload sees the same
        // conditions, and the best round of each is compared.
        let workloads: [Workload<'_>; 11] = [
            (&subs.floor, |_| span_op()),
            (&subs.registry, |_| span_op()),
            (&subs.tpf, |_| span_op()),
            (&subs.tpf, event_op),
            (&subs.registry, event_op),
            (&subs.floor, |_| traced_empty()),
            (&subs.tg4p, |_| span_op()),
            (&subs.tg4p, event_op),
            (&subs.own, |_| span_op()),
            (&subs.own, event_op),
            (&subs.floor, instant_op),
        ];
        let s = session("ratios");
        let mut best = [f64::INFINITY; 11];
        for _ in 0..ROUNDS {
            for (b, (d, f)) in best.iter_mut().zip(workloads) {
                *b = b.min(ns_per_call(threads, d, N, 1, f));
            }
        }
        let [noop_span, noop_event] = noop_in_child(threads);
        let [
            floor_span,
            reg_span,
            tpf_span,
            tpf_event,
            reg_event,
            trace_fn,
            tg4p_span,
            tg4p_event,
            own_span,
            own_event,
            instant,
        ] = best;
        let r = s.finish().expect("finish");
        std::fs::remove_file(&r.path).ok();
        println!("-- {threads} thread(s) --");
        for (name, ns) in [
            ("span: noop subscriber (own process)", noop_span),
            ("span: floor (a Subscriber doing nothing)", floor_span),
            ("span: registry, no layer", reg_span),
            ("span: tracing-perfetto-file", tpf_span),
            ("span: tg4p layer", tg4p_span),
            ("span: tg4p subscriber", own_span),
            ("#[tg4p::trace] fn", trace_fn),
            ("tg4p::instant! with one int", instant),
            ("event: noop subscriber (own process)", noop_event),
            ("event: registry, no layer", reg_event),
            ("event: tracing-perfetto-file", tpf_event),
            ("event: tg4p layer", tg4p_event),
            ("event: tg4p subscriber", own_event),
        ] {
            println!("{name:<40} {ns:8.1} ns");
        }
        for (name, span) in [("layer", tg4p_span), ("subscriber", own_span)] {
            println!(
                "span  tg4p {name:<10} / tracing-perfetto-file = {:.3} (target <= 0.333)",
                span / tpf_span
            );
            println!(
                "span  tg4p {name:<10} / #[tg4p::trace]        = {:.3} (target <= 2)",
                span / trace_fn
            );
            println!(
                "span  tg4p {name:<10} / noop subscriber       = {:.3}",
                span / noop_span
            );
            println!(
                "span  (tg4p {name:<10} - floor) / #[tg4p::trace] = {:.3}: its cost beyond tracing's own",
                (span - floor_span) / trace_fn
            );
        }
        println!(
            "span  (tg4p - registry) / (tpf - registry) = {:.3}: the layers' own cost",
            (tg4p_span - reg_span) / (tpf_span - reg_span)
        );
        println!(
            "event tg4p layer      / tracing-perfetto-file = {:.3}",
            tg4p_event / tpf_event
        );
        println!(
            "event tg4p subscriber / tracing-perfetto-file = {:.3}",
            own_event / tpf_event
        );
        for (name, event) in [("layer", tg4p_event), ("subscriber", own_event)] {
            println!(
                "event tg4p {name:<10} / tg4p::instant!       = {:.3}",
                event / instant
            );
        }
        println!(
            "(session: {} events written, {} dropped)",
            r.events_written, r.events_dropped
        );
    }
    bytes_per_event(subs);
}

/// 1M spans with no fields through the layer and the subscriber: bytes per slice
/// event in the file.
fn bytes_per_event(subs: &Subscribers) {
    const SPANS: u64 = 1_000_000;
    for (name, d) in [("layer", &subs.tg4p), ("subscriber", &subs.own)] {
        let s = session("bytes");
        tracing::dispatcher::with_default(d, || (0..SPANS).for_each(|_| span_op()));
        let r = s.finish().expect("finish");
        let size = std::fs::metadata(&r.path).map(|m| m.len()).unwrap_or(0);
        println!(
            "{name}: 1M spans, no fields: {} events written, {} dropped (target 0); {:.2} bytes per slice event (target <= 20)",
            r.events_written,
            r.events_dropped,
            size as f64 / (2 * SPANS) as f64
        );
        std::fs::remove_file(&r.path).ok();
    }
}

/// `TG4P_BENCH_PROFILE=WHAT` (`layer`, `subscriber`, `event-layer`,
/// `event-subscriber`): only 5M operations of that kind on one thread in a session,
/// to run under `perf record`.
fn profile(subs: &Subscribers, which: &str) {
    let s = session("profile");
    let (d, f): (&Dispatch, fn(u64)) = match which {
        "layer" => (&subs.tg4p, |_| span_op()),
        "subscriber" => (&subs.own, |_| span_op()),
        "event-layer" => (&subs.tg4p, event_op),
        "event-subscriber" => (&subs.own, event_op),
        other => panic!("TG4P_BENCH_PROFILE={other}: not a workload"),
    };
    let ns = ns_per_call(1, d, 5_000_000, 1, f);
    let r = s.finish().expect("finish");
    println!(
        "{which}: {ns:.1} ns per operation; {} events written",
        r.events_written
    );
    std::fs::remove_file(&r.path).ok();
}

/// Where a child process measuring tracing's `NoSubscriber` alone prints its
/// figures (see the module's docs for why it is a process of its own).
const NOOP_CHILD: &str = "TG4P_BENCH_NOOP_CHILD";

/// tracing's `NoSubscriber`, per span and per event with `threads` threads, best
/// of 60 rounds, measured in a child process (this bench run again).
fn noop_in_child(threads: usize) -> [f64; 2] {
    let out = std::env::current_exe()
        .and_then(|exe| {
            std::process::Command::new(exe)
                .env(NOOP_CHILD, threads.to_string())
                .output()
        })
        .expect("run the bench's noop child");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut figures = text
        .lines()
        .filter_map(|l| l.strip_prefix("noop "))
        .flat_map(|l| {
            l.split_whitespace()
                .map(|x| x.parse::<f64>().unwrap_or(f64::NAN))
        });
    [
        figures.next().unwrap_or(f64::NAN),
        figures.next().unwrap_or(f64::NAN),
    ]
}

/// The child's side of [`noop_in_child`].
fn noop_child(threads: usize) {
    let noop = Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let mut best = [f64::INFINITY; 2];
    for _ in 0..60 {
        best[0] = best[0].min(ns_per_call(threads, &noop, 20_000, 1, |_| span_op()));
        best[1] = best[1].min(ns_per_call(threads, &noop, 20_000, 1, event_op));
    }
    println!("noop {} {}", best[0], best[1]);
}

fn main() {
    if let Some(threads) = std::env::var(NOOP_CHILD).ok().and_then(|t| t.parse().ok()) {
        return noop_child(threads);
    }
    let secs: f64 = std::env::var("TG4P_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs_f64(secs))
        .warm_up_time(Duration::from_millis(300))
        .configure_from_args();
    let subs = Subscribers::new();
    if let Ok(which) = std::env::var("TG4P_BENCH_PROFILE") {
        return profile(&subs, &which);
    }
    criterion_benches(&mut c, &subs);
    c.final_summary();
    summary(&subs);
}
