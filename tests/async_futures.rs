//! `#[trace]` on futures: `async fn`, async methods, `#[trace(future)]` on a function
//! returning `impl Future`, and `async-trait`-style `Pin<Box<dyn Future>>` methods.
//! One slice per future, from its first poll to its completion or drop; here every
//! future is a task (no traced future awaits it), so it goes on a track of the
//! function's own pool (the first a child of the process track named after the
//! function, the others its lanes), reused when free: the pool grows to the peak
//! concurrency. `async_nesting.rs` covers futures awaited by traced futures.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tg4p_oracle::{Arg, DecodedTrace, Slice, TrackKind};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap()
}

fn record(name: &str, f: impl FnOnce()) -> DecodedTrace {
    let path =
        std::env::temp_dir().join(format!("tg4p-async-{}-{name}.pftrace", std::process::id()));
    let session = tg4p::open(&path).unwrap();
    f();
    let report = session.finish().unwrap();
    assert_eq!(report.events_dropped, 0);
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    std::fs::remove_file(&path).ok();
    trace.assert_valid();
    trace
}

/// The tracks of the pool of `name`: the first named `name`, a child of the process
/// track; the others its lanes, `"name #2"`, ..., children of it (one rule with
/// custom tracks' lanes, and no two siblings with one name).
fn pool<'a>(trace: &'a DecodedTrace, name: &str) -> Vec<&'a tg4p_oracle::Track> {
    let process = trace
        .process_track(std::process::id() as i32)
        .expect("process track");
    let roots = trace.track_by_name(name);
    assert_eq!(roots.len(), 1, "one track named {name}");
    assert_eq!(
        roots[0].parent,
        Some(process.uuid),
        "{name} is a child of the process"
    );
    let mut tracks = roots;
    let mut i = 0;
    while i < tracks.len() {
        for lane in trace.children(tracks[i].uuid) {
            let lane_name = lane.name.as_deref().unwrap_or_default();
            assert!(lane_name.starts_with(&format!("{name} #")), "{lane_name}");
            tracks.push(lane);
        }
        i += 1;
    }
    for t in &tracks {
        assert!(
            matches!(t.kind, TrackKind::Plain),
            "{name} is a plain track"
        );
    }
    assert!(
        trace.merged_siblings().is_empty(),
        "{:?}",
        trace.merged_siblings()
    );
    tracks
}

/// Slices on each of `tracks`: all top level and never overlapping.
fn assert_sequential(trace: &DecodedTrace, tracks: &[&tg4p_oracle::Track]) {
    for t in tracks {
        let mut slices: Vec<&Slice> = trace.slices_on(t.uuid);
        slices.sort_by_key(|s| s.begin_ts);
        for s in &slices {
            assert_eq!(s.depth, 0, "a future's slice never nests on its track");
            assert!(s.end_ts.is_some(), "every future's slice ends");
        }
        for w in slices.windows(2) {
            assert!(
                w[0].end_ts.unwrap() < w[1].begin_ts,
                "slices overlap on track {}: {:?} then {:?}",
                t.uuid,
                (w[0].begin_ts, w[0].end_ts),
                (w[1].begin_ts, w[1].end_ts)
            );
        }
    }
}

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[tg4p::trace_args]
async fn fetch(id: u32) -> u32 {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    if id.is_multiple_of(3) {
        tokio::time::sleep(Duration::from_micros(50)).await;
    }
    tokio::task::yield_now().await;
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    id * 2
}

#[test]
fn ten_thousand_futures_at_most_a_hundred_at_a_time() {
    let _s = serial();
    const FUTURES: u32 = 10_000;
    const AT_ONCE: u32 = 100;
    let trace = record("many", || {
        runtime().block_on(async {
            // 100 tasks, each awaiting its share of the futures one after another:
            // at most 100 run at once, and tokio moves tasks between its workers.
            let tasks: Vec<_> = (0..AT_ONCE)
                .map(|t| {
                    tokio::spawn(async move {
                        let mut sum = 0u64;
                        for i in (t..FUTURES).step_by(AT_ONCE as usize) {
                            sum += fetch(i).await as u64;
                        }
                        sum
                    })
                })
                .collect();
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            assert_eq!(total, (0..FUTURES as u64).map(|i| i * 2).sum::<u64>());
        });
    });
    assert!(PEAK.load(Ordering::SeqCst) <= AT_ONCE as usize);
    let slices = trace.slices_named("fetch");
    assert_eq!(slices.len(), FUTURES as usize, "one slice per future");
    let mut ids: Vec<u32> = slices
        .iter()
        .map(|s| match s.arg("id") {
            Some(&Arg::Uint(v)) => v as u32,
            other => panic!("id arg: {other:?}"),
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..FUTURES).collect::<Vec<_>>());
    let tracks = pool(&trace, "fetch");
    assert!(
        !tracks.is_empty() && tracks.len() <= AT_ONCE as usize,
        "{} tracks for at most {AT_ONCE} futures at once",
        tracks.len()
    );
    let on_pool: usize = tracks.iter().map(|t| trace.slices_on(t.uuid).len()).sum();
    assert_eq!(on_pool, FUTURES as usize, "every slice is on the pool");
    assert_sequential(&trace, &tracks);
    // Futures began on one thread's sequence and ended on another's.
    let moved = slices
        .iter()
        .filter(|s| {
            let end = s.end_event.unwrap();
            trace.events[s.begin_event].sequence != trace.events[end].sequence
        })
        .count();
    println!("{moved} of {FUTURES} futures ended on another thread than they began on");
}

struct Service {
    base: u32,
}

impl Service {
    #[tg4p::trace_args(skip(self))]
    async fn call(&self, x: u32) -> u32 {
        tokio::task::yield_now().await;
        self.base + x
    }

    #[tg4p::trace]
    async fn consume(self) -> Result<u32, String> {
        let v: u32 = "41".parse().map_err(|e| format!("{e}"))?;
        Ok(v + self.base)
    }

    /// `async-trait`-style: a boxed future, instrumented without opting in.
    #[tg4p::trace(name = "boxed_call")]
    fn boxed_call(&self, x: u32) -> Pin<Box<dyn Future<Output = u32> + Send + '_>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.base * x
        })
    }
}

/// A function returning `impl Future`: opt-in. The body runs at the call; the
/// slice is the returned future's.
#[tg4p::trace(future)]
fn later(x: u32) -> impl Future<Output = u32> + Send {
    let y = x + 1;
    async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        y
    }
}

#[tg4p::trace]
async fn never_finishes() {
    std::future::pending::<()>().await;
}

#[tg4p::trace]
async fn never_polled() {}

#[test]
fn async_methods_boxed_and_impl_future_and_drop() {
    let _s = serial();
    // Grow the pool of `later` first, so the future below may well get a lane
    // other than its first: only the lanes used (and the track they extend) are
    // in the trace.
    runtime().block_on(async {
        let all: Vec<_> = (0..3).map(|i| tokio::spawn(later(i))).collect();
        for h in all {
            h.await.unwrap();
        }
    });
    let trace = record("forms", || {
        runtime().block_on(async {
            let s = Service { base: 1 };
            assert_eq!(s.call(2).await, 3);
            assert_eq!(s.boxed_call(5).await, 5);
            assert_eq!(later(1).await, 2);
            let r = tokio::time::timeout(Duration::from_millis(2), never_finishes()).await;
            assert!(r.is_err(), "timed out, and the future was dropped");
            drop(never_polled());
            assert_eq!(Service { base: 1 }.consume().await, Ok(42));
        });
    });
    let call = &trace.slices_named("call")[0];
    assert_eq!(call.arg("x"), Some(&Arg::Uint(2)));
    assert_eq!(call.arg("self"), None);
    for name in ["call", "boxed_call", "later", "never_finishes", "consume"] {
        let tracks = pool(&trace, name);
        let used = tracks
            .iter()
            .filter(|t| !trace.slices_on(t.uuid).is_empty())
            .count();
        assert_eq!(used, 1, "{name}");
        // The lane used, and the track it extends if it is not that track.
        assert!(tracks.len() <= 2, "{name}: {} tracks", tracks.len());
        assert_eq!(trace.slices_named(name).len(), 1, "{name}");
        assert_sequential(&trace, &tracks);
    }
    let later = &trace.slices_named("later")[0];
    assert!(
        later.end_ts.unwrap() - later.begin_ts >= 1_000_000,
        "spans the sleep"
    );
    let dropped = &trace.slices_named("never_finishes")[0];
    assert!(
        dropped.end_ts.unwrap() - dropped.begin_ts >= 2_000_000,
        "ends at the drop"
    );
    assert!(
        trace.slices_named("never_polled").is_empty(),
        "no poll, no slice"
    );
    assert!(trace.track_by_name("never_polled").is_empty());
    let src = call.source.as_ref().unwrap();
    assert!(src.function.ends_with("Service::call"), "{}", src.function);
}

/// Slices of one function are grouped by track: with futures overlapping in time
/// the pool has several tracks, and none holds two at once.
#[test]
fn overlapping_futures_get_separate_tracks_and_reuse_them() {
    let _s = serial();
    let trace = record("overlap", || {
        runtime().block_on(async {
            for _round in 0..3 {
                let all: Vec<_> = (0..5).map(|i| tokio::spawn(later(i))).collect();
                for h in all {
                    h.await.unwrap();
                }
            }
        });
    });
    let tracks = pool(&trace, "later");
    assert_eq!(trace.slices_named("later").len(), 15);
    assert_eq!(tracks.len(), 5, "five at once, reused over three rounds");
    let per_track: BTreeMap<u64, usize> = tracks
        .iter()
        .map(|t| (t.uuid, trace.slices_on(t.uuid).len()))
        .collect();
    assert!(per_track.values().all(|&n| n == 3), "{per_track:?}");
    assert_sequential(&trace, &tracks);
}

// `ret` on futures: the output, recorded on the slice's end when the future
// completes; a future dropped before that ends its slice without it.

struct Store {
    items: Vec<u32>,
}

impl Store {
    #[tg4p::trace_args(ret, skip(self))]
    async fn find(&self, x: u32) -> Option<usize> {
        tokio::task::yield_now().await;
        self.items.iter().position(|&i| i == x)
    }
}

#[tg4p::trace(ret)]
async fn parse_later(s: String) -> Result<u32, std::num::ParseIntError> {
    tokio::task::yield_now().await;
    if s.is_empty() {
        return Ok(0);
    }
    let v: u32 = s.parse()?;
    Ok(v + 1)
}

#[tg4p::trace(ret)]
async fn huge_later() -> Vec<u32> {
    tokio::task::yield_now().await;
    (0..2000).collect()
}

#[tg4p::trace(ret)]
async fn pending_forever() -> u32 {
    std::future::pending::<()>().await;
    1
}

#[tg4p::trace(future, ret)]
fn later_ret(x: u32) -> impl Future<Output = u32> + Send {
    async move {
        tokio::task::yield_now().await;
        x * 10
    }
}

#[test]
fn ret_records_the_output_when_the_future_completes() {
    let _s = serial();
    let trace = record("ret", || {
        runtime().block_on(async {
            let store = Store {
                items: vec![4, 5, 6],
            };
            assert_eq!(store.find(5).await, Some(1));
            assert_eq!(parse_later("41".into()).await, Ok(42));
            assert_eq!(parse_later(String::new()).await, Ok(0));
            assert!(parse_later("x".into()).await.is_err());
            assert_eq!(huge_later().await.len(), 2000);
            let r = tokio::time::timeout(Duration::from_millis(1), pending_forever()).await;
            assert!(r.is_err());
            assert_eq!(later_ret(2).await, 20);
        });
    });
    let s = |v: &str| Some(Arg::Str(v.into()));
    let find = &trace.slices_named("find")[0];
    assert_eq!(
        find.args,
        vec![
            ("x".into(), Arg::Uint(5)),
            ("return".into(), Arg::Str("Some(1)".into()))
        ]
    );
    let parses = trace.slices_named("parse_later");
    let rets: Vec<_> = parses.iter().map(|p| p.arg("return").cloned()).collect();
    assert_eq!(rets[0], s("Ok(42)"));
    assert_eq!(rets[1], s("Ok(0)"), "early return");
    let Some(Arg::Str(err)) = &rets[2] else {
        panic!("{:?}", rets[2])
    };
    assert!(err.starts_with("Err(ParseIntError"), "`?`: {err}");
    let Some(Arg::Str(huge)) = trace.slices_named("huge_later")[0].arg("return") else {
        panic!("no return arg")
    };
    assert!(huge.starts_with("[0, 1, 2"));
    assert!(huge.ends_with("…[truncated, 10890 bytes]"), "{huge}");
    let pending = &trace.slices_named("pending_forever")[0];
    assert!(pending.end_ts.is_some(), "ends at the drop");
    assert!(pending.args.is_empty(), "without a value");
    assert_eq!(
        trace.slices_named("later_ret")[0].arg("return"),
        Some(&Arg::Uint(20)),
        "typed: the future's output is a u32"
    );
    for name in ["find", "parse_later", "huge_later", "later_ret"] {
        assert_sequential(&trace, &pool(&trace, name));
    }
}
