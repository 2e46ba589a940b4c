//! Categories (issue 14): events in Perfetto categories, interned per sequence, and
//! sessions that record only the categories their pattern enables: by builder and
//! by `TG4P_CATEGORIES`, one pattern per session in one process, for slices,
//! instants, futures' slices, counters, custom tracks and the `tracing` layer's
//! targets. Every trace is decoded by the oracle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use tg4p::{CategoryError, Counter, Session, SessionError, Track};
use tg4p_oracle::{DecodedTrace, EventKind, PacketReader};

/// One session per process at a time: tests of this file take turns.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tg4p-categories-{}-{name}.pftrace",
        std::process::id()
    ))
}

fn decode(path: &Path) -> DecodedTrace {
    let trace = tg4p_oracle::decode_file(path).expect("trace decodes");
    trace.assert_valid();
    trace
}

/// The categories (joined with ",") of the events named `name`, one per event.
fn categories_of(trace: &DecodedTrace, name: &str) -> Vec<String> {
    trace
        .events_named(name)
        .filter(|e| !matches!(e.kind, EventKind::SliceEnd))
        .map(|e| e.categories.join(","))
        .collect()
}

/// Whether every instant named `name` is within a slice named `slice` on its track.
fn inside(trace: &DecodedTrace, name: &str, slice: &str) -> bool {
    let slices = trace.slices_named(slice);
    trace.events_named(name).all(|e| {
        slices
            .iter()
            .any(|s| e.track == s.track && e.ts >= s.begin_ts && Some(e.ts) <= s.end_ts)
    })
}

/// The names of the slices and instants in `trace`, with how many of each.
fn recorded(trace: &DecodedTrace) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    for e in &trace.events {
        if matches!(e.kind, EventKind::SliceBegin | EventKind::Instant)
            && let Some(n) = &e.name
        {
            *names.entry(n.clone()).or_insert(0) += 1;
        }
    }
    names
}

#[tg4p::trace(category = "db")]
fn query(n: u32) -> u32 {
    n + 1
}

#[tg4p::trace_args(category = "db", ret)]
fn query_args(key: u32) -> u32 {
    key * 2
}

#[tg4p::trace(category = "net.http")]
fn http_get() {}

#[tg4p::trace(category = "net.noisy")]
fn poll_socket() {}

#[tg4p::trace(category = "cache")]
fn cache_lookup() {}

#[tg4p::trace]
fn plain() {}

#[tg4p::trace(category = "db")]
async fn query_async(n: u32) -> u32 {
    n + 1
}

/// One event of each kind and category the tests look for.
fn workload() {
    query(1);
    query_args(2);
    http_get();
    poll_socket();
    cache_lookup();
    plain();
    {
        let _s = tg4p::span!("span db", category = "db", rows = 3);
        tg4p::instant!("instant net", category = "net.http", status = 200);
    }
    tg4p::instant!("instant noisy", category = "net.noisy");
    tg4p::instant!("instant plain");
    let _ = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            let _a = tg4p::async_span!("async cache", category = "cache");
            query_async(3).await
        });
}

/// Runs `workload` (also on a second thread) in a session with `pattern`.
fn run(name: &str, pattern: &str) -> (tg4p::Report, DecodedTrace) {
    let path = temp(name);
    let session = Session::builder()
        .path(&path)
        .categories(pattern)
        .start()
        .unwrap();
    workload();
    std::thread::spawn(workload).join().unwrap();
    let report = session.finish().unwrap();
    let trace = decode(&path);
    assert_eq!(report.events_written as usize, trace.events.len());
    (report, trace)
}

#[test]
fn categories_are_recorded_on_each_event_and_interned_once_per_sequence() {
    let _s = serial();
    let (_, trace) = run("all", "");
    assert_eq!(categories_of(&trace, "query"), ["db", "db"]);
    assert_eq!(categories_of(&trace, "query_args"), ["db", "db"]);
    assert_eq!(categories_of(&trace, "query_async"), ["db", "db"]);
    assert_eq!(categories_of(&trace, "http_get"), ["net.http", "net.http"]);
    assert_eq!(categories_of(&trace, "span db"), ["db", "db"]);
    assert_eq!(
        categories_of(&trace, "instant net"),
        ["net.http", "net.http"]
    );
    assert_eq!(categories_of(&trace, "async cache"), ["cache", "cache"]);
    assert_eq!(categories_of(&trace, "plain"), ["", ""]);
    assert_eq!(categories_of(&trace, "instant plain"), ["", ""]);
    // The slices nest and keep their args as without a category.
    let span = &trace.slices_named("span db")[0];
    assert_eq!(span.args.len(), 1);
    assert!(inside(&trace, "instant net", "span db"));
    let ret = trace.slices_named("query_args");
    assert!(ret[0].args.iter().any(|(k, _)| k == "return"));

    // Interned: every categorized event names its category by iid, never inline,
    // and each sequence interns each category once.
    let path = temp("all");
    let mut interned: BTreeMap<(u32, String), usize> = BTreeMap::new();
    let mut by_iid = 0;
    for packet in PacketReader::new(std::fs::File::open(&path).unwrap()) {
        let packet = packet.unwrap();
        let seq = packet.trusted_packet_sequence_id();
        for c in &packet.interned_data.event_categories {
            *interned.entry((seq, c.name().to_owned())).or_insert(0) += 1;
        }
        if packet.has_track_event() {
            let te = packet.track_event();
            assert!(te.categories.is_empty(), "a category written inline");
            by_iid += usize::from(!te.category_iids.is_empty());
        }
    }
    assert!(by_iid >= 20, "{by_iid} events with a category iid");
    assert!(
        interned.values().all(|&n| n == 1),
        "a category interned twice on one sequence: {interned:?}"
    );
    let names: BTreeSet<&str> = interned.keys().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["cache", "db", "net.http", "net.noisy"])
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_pattern_includes_by_name_and_glob_excludes_and_keeps_the_uncategorized() {
    let _s = serial();
    let (report, trace) = run("pattern", "db, net*, -net.noisy");
    let names = recorded(&trace);
    for kept in [
        "query",
        "query_args",
        "query_async",
        "span db",
        "http_get",
        "instant net",
        "plain",
        "instant plain",
    ] {
        assert_eq!(names.get(kept), Some(&2), "{kept} in {names:?}");
    }
    for left_out in [
        "poll_socket",
        "instant noisy",
        "cache_lookup",
        "async cache",
    ] {
        assert_eq!(names.get(left_out), None, "{left_out} in {names:?}");
    }
    assert_eq!(report.events_dropped, 0);
    std::fs::remove_file(temp("pattern")).ok();
}

#[test]
fn an_exclusion_alone_records_every_other_category() {
    let _s = serial();
    let (_, trace) = run("exclude", "-db");
    let names = recorded(&trace);
    for left_out in ["query", "query_args", "query_async", "span db"] {
        assert_eq!(names.get(left_out), None, "{left_out} in {names:?}");
    }
    for kept in [
        "http_get",
        "poll_socket",
        "cache_lookup",
        "async cache",
        "plain",
    ] {
        assert_eq!(names.get(kept), Some(&2), "{kept} in {names:?}");
    }
    std::fs::remove_file(temp("exclude")).ok();
}

#[test]
fn each_session_of_a_process_applies_its_own_pattern_to_the_same_callsites() {
    let _s = serial();
    // The callsites are decided for the first session at their first use, then
    // again when each later session opens.
    let (_, first) = run("first", "db");
    let (_, second) = run("second", "cache");
    let (_, third) = run("third", "");
    let (a, b, c) = (recorded(&first), recorded(&second), recorded(&third));
    assert_eq!(a.get("query"), Some(&2));
    assert_eq!(a.get("cache_lookup"), None);
    assert_eq!(b.get("query"), None);
    assert_eq!(b.get("cache_lookup"), Some(&2));
    assert_eq!(b.get("async cache"), Some(&2));
    assert_eq!(c.get("query"), Some(&2));
    assert_eq!(c.get("cache_lookup"), Some(&2));
    assert_eq!(c.get("poll_socket"), Some(&2));
    // Between sessions nothing records, and the callsites' gates are closed.
    query(9);
    assert!(!tg4p::enabled());
    for name in ["first", "second", "third"] {
        std::fs::remove_file(temp(name)).ok();
    }
}

#[test]
fn a_bad_pattern_is_a_typed_error_and_opens_no_session() {
    let _s = serial();
    for (pattern, empty) in [
        ("db,,net", true),
        ("db,", true),
        ("-", true),
        ("d b", false),
    ] {
        let result = Session::builder()
            .writer(std::io::sink())
            .categories(pattern)
            .start();
        match result {
            Err(SessionError::Categories(CategoryError::EmptyItem { .. })) if empty => {}
            Err(SessionError::Categories(CategoryError::BadCharacter { found: ' ', .. }))
                if !empty => {}
            other => panic!("{pattern:?}: {other:?}"),
        }
        assert!(!tg4p::enabled());
    }
}

/// Sets (or removes) an environment variable of this test process. The tests of
/// this file take turns, and none of them reads the environment concurrently.
fn set_env(key: &str, value: Option<&str>) {
    // SAFETY: the tests of this file hold `serial()`, and no other thread of the
    // process reads or writes the environment while they run.
    unsafe {
        match value {
            Some(v) => std::env::set_var(key, v),
            None => std::env::remove_var(key),
        }
    }
}

#[test]
fn tg4p_categories_chooses_the_categories_of_init_from_env() {
    let _s = serial();
    let path = temp("env");
    set_env(tg4p::TRACE_ENV, Some(path.to_str().unwrap()));
    set_env(tg4p::CATEGORIES_ENV, Some("cache,-db"));
    let guard = tg4p::init_from_env().unwrap().expect("TG4P_TRACE is set");
    workload();
    guard.finish().unwrap();
    let names = recorded(&decode(&path));
    assert_eq!(names.get("cache_lookup"), Some(&1));
    assert_eq!(names.get("plain"), Some(&1));
    assert_eq!(names.get("query"), None);
    assert_eq!(names.get("http_get"), None);

    // A pattern that cannot be read: an error (also said on stderr), no session.
    set_env(tg4p::CATEGORIES_ENV, Some("db,,x"));
    let bad = tg4p::init_from_env();
    assert!(matches!(bad, Err(SessionError::Categories(_))), "{bad:?}");
    assert!(!tg4p::enabled());
    set_env(tg4p::CATEGORIES_ENV, None);
    set_env(tg4p::TRACE_ENV, None);
    std::fs::remove_file(&path).ok();
}

static QUERIES: Track = Track::new("queries").category("db");
static POOL_SIZE: Counter = Counter::new("db pool").category("db");
static REQUESTS: Counter = Counter::new("requests");

/// Counters and custom tracks, with and without categories.
fn counters_and_tracks() {
    POOL_SIZE.add(2);
    REQUESTS.add(1);
    tg4p::count!("cache size" = 7, category = "cache");
    {
        let _q = QUERIES.span("SELECT"); // the track's category
        let _m = tg4p::span!(QUERIES, "scan", rows = 10); // the track's too
        tg4p::instant!(QUERIES, "row");
        // An event's own category wins over its track's.
        let _c = tg4p::span!(QUERIES, "cached", category = "cache");
    }
}

fn counter_samples(trace: &DecodedTrace, name: &str) -> Vec<(f64, String)> {
    let Some(track) = trace.track_by_name(name).first().map(|t| t.uuid) else {
        return Vec::new();
    };
    trace
        .events_on(track)
        .filter_map(|e| match &e.kind {
            EventKind::Counter(v) => Some((v.as_f64(), e.categories.join(","))),
            _ => None,
        })
        .collect()
}

#[test]
fn counters_and_custom_tracks_carry_and_obey_their_categories() {
    let _s = serial();
    let path = temp("tracks-all");
    let session = Session::builder().path(&path).start().unwrap();
    counters_and_tracks();
    session.finish().unwrap();
    let trace = decode(&path);
    assert_eq!(counter_samples(&trace, "db pool"), [(2.0, "db".into())]);
    assert_eq!(counter_samples(&trace, "requests"), [(1.0, String::new())]);
    assert_eq!(
        counter_samples(&trace, "cache size"),
        [(7.0, "cache".into())]
    );
    assert_eq!(categories_of(&trace, "SELECT"), ["db"]);
    assert_eq!(categories_of(&trace, "scan"), ["db"]);
    assert_eq!(categories_of(&trace, "row"), ["db"]);
    assert_eq!(categories_of(&trace, "cached"), ["cache"]);
    let queries = trace.track_by_name("queries")[0].uuid;
    assert_eq!(trace.slices_on(queries).len(), 3);

    // Leaving out "db": the track's events and the counter's samples go, the
    // counter keeps its value (the next sample shows it), "cache" stays.
    let path = temp("tracks-no-db");
    let session = Session::builder()
        .path(&path)
        .categories("-db")
        .start()
        .unwrap();
    counters_and_tracks();
    session.finish().unwrap();
    let trace = decode(&path);
    assert_eq!(counter_samples(&trace, "db pool"), []);
    assert_eq!(counter_samples(&trace, "requests"), [(2.0, String::new())]);
    assert_eq!(
        counter_samples(&trace, "cache size"),
        [(7.0, "cache".into())]
    );
    let names = recorded(&trace);
    for left_out in ["SELECT", "scan", "row"] {
        assert_eq!(names.get(left_out), None, "{left_out} in {names:?}");
    }
    assert_eq!(categories_of(&trace, "cached"), ["cache"]);

    let path2 = temp("tracks-db");
    let session = Session::builder()
        .path(&path2)
        .categories("db")
        .start()
        .unwrap();
    counters_and_tracks();
    session.finish().unwrap();
    let trace = decode(&path2);
    assert_eq!(counter_samples(&trace, "db pool"), [(6.0, "db".into())]);
    assert_eq!(counter_samples(&trace, "cache size"), []);
    assert_eq!(recorded(&trace).get("cached"), None);
    assert_eq!(categories_of(&trace, "SELECT"), ["db"]);
    for p in [temp("tracks-all"), path, path2] {
        std::fs::remove_file(p).ok();
    }
}

#[test]
fn the_tracing_layers_targets_are_categories_the_pattern_selects() {
    use tracing_subscriber::layer::SubscriberExt;
    let _s = serial();
    let record = |name: &str, pattern: &str| {
        let path = temp(name);
        let session = Session::builder()
            .path(&path)
            .categories(pattern)
            .start()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(tg4p::TracingLayer::new());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!(target: "app::db", "db span").in_scope(|| {
                tracing::info!(target: "app::db", rows = 3, "db event");
                tracing::debug!(target: "app::db", "debug event");
                tracing::info!(target: "app::noisy", "noisy event");
            });
            tracing::info_span!(target: "app::noisy", "noisy span").in_scope(|| {
                tracing::info!(target: "other", "other event");
            });
        });
        session.finish().unwrap();
        let trace = decode(&path);
        std::fs::remove_file(&path).ok();
        trace
    };
    // A span's or event's categories are its target and its level.
    let all = record("tracing-all", "");
    assert_eq!(categories_of(&all, "db span"), ["app::db,INFO"]);
    assert_eq!(categories_of(&all, "db event"), ["app::db,INFO"]);
    assert_eq!(categories_of(&all, "debug event"), ["app::db,DEBUG"]);
    assert_eq!(categories_of(&all, "noisy span"), ["app::noisy,INFO"]);
    assert_eq!(categories_of(&all, "other event"), ["other,INFO"]);

    let some = record("tracing-some", "app::*,-app::noisy");
    let names = recorded(&some);
    assert_eq!(names.get("db span"), Some(&1));
    assert_eq!(names.get("db event"), Some(&1));
    assert_eq!(names.get("noisy event"), None);
    assert_eq!(names.get("noisy span"), None);
    // An event inside a span left out is judged by its own target.
    assert_eq!(names.get("other event"), None);
    assert_eq!(names.get("debug event"), Some(&1));
    assert!(inside(&some, "db event", "db span"));

    // Levels are categories too: `-DEBUG` leaves out debug-level events only.
    let quiet = recorded(&record("tracing-quiet", "-DEBUG"));
    assert_eq!(quiet.get("debug event"), None);
    assert_eq!(quiet.get("db event"), Some(&1));
    assert_eq!(quiet.get("noisy span"), Some(&1));
}
