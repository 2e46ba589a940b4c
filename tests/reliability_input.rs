//! Reliability with bad input (issue 5): odd names and argument values in live
//! tracing, extreme counter values, reused flow ids, deep nesting; and a property
//! test driving the annotation encoder with arbitrary values. The result is always
//! a valid trace (or a typed error), never a panic. Decoded by the oracle.

#[path = "common/mod.rs"]
mod common;
#[path = "reliability_support/mod.rs"]
mod support;

use proptest::prelude::*;
use std::fmt;
use support::*;
use tg4p::generator::TraceGenerator;
use tg4p::{Counter, FlowId, Track, Value};
use tg4p_oracle::{Arg, CounterValue, DecodedTrace, EventKind};

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Every Unicode plane, NUL, the replacement character and an emoji.
fn every_plane() -> String {
    (0..=0x10u32)
        .flat_map(|plane| [0x41u32, 0xFFFD, 0xF600, 0xFFFD].map(|c| (plane << 16) | c))
        .filter_map(char::from_u32)
        .chain(['\0', '名', '🚀'])
        .collect()
}

fn decode(path: &std::path::Path) -> DecodedTrace {
    let trace = tg4p_oracle::decode_file(path).unwrap();
    trace.assert_valid();
    trace
}

#[test]
fn odd_names_are_recorded_as_given() {
    let _s = serial();
    let huge = leak("n".repeat(10 << 20));
    let planes = leak(every_plane());
    let names: [&'static str; 5] = ["", "\0", "a\0b", planes, huge];
    let path = temp("odd-names");
    let session = tg4p::open(&path).unwrap();
    for name in names {
        drop(tg4p::__private::span_named(name));
        drop(tg4p::__private::instant_named(name));
        let track: &'static Track = Box::leak(Box::new(Track::new(name)));
        drop(track.span(name));
        let counter: &'static Counter = Box::leak(Box::new(Counter::new(name)));
        counter.set(1);
    }
    session.finish().unwrap();
    let trace = decode(&path);
    for name in names {
        let short: String = name.chars().take(12).collect();
        // On the thread track and on the custom track.
        assert_eq!(trace.slices_named(name).len(), 2, "{short:?}");
        assert_eq!(
            trace
                .events_named(name)
                .filter(|e| e.kind == EventKind::Instant)
                .count(),
            1,
            "{short:?}"
        );
    }
    // One custom track and one counter track per name ("" names both too).
    let huge_tracks = trace
        .tracks
        .values()
        .filter(|t| t.name.as_deref() == Some(huge))
        .count();
    assert_eq!(huge_tracks, 2);
    std::fs::remove_file(&path).ok();
}

/// A `Debug` impl that fails.
struct FailingDebug;
impl fmt::Debug for FailingDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Err(fmt::Error)
    }
}

/// A `Debug` impl that records an event itself (re-entering the recorder).
struct TracingDebug;
impl fmt::Debug for TracingDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tg4p::instant!("from inside Debug");
        let _s = tg4p::span!("span inside Debug");
        f.write_str("traced")
    }
}

#[tg4p::trace_args]
fn takes_anything(a: &[u8], b: &str, c: &FailingDebug, d: &TracingDebug) {
    std::hint::black_box((a, b, c, d));
}

#[test]
fn odd_argument_values_are_bounded_and_valid() {
    let _s = serial();
    let path = temp("odd-args");
    let huge = vec![7u8; 10 << 20];
    let planes = every_plane();
    let session = tg4p::open(&path).unwrap();
    takes_anything(&huge, &planes, &FailingDebug, &TracingDebug);
    tg4p::instant!(
        "args",
        empty = "",
        nul = "\0",
        planes = &planes,
        huge = &huge
    );
    session.finish().unwrap();
    let trace = decode(&path);
    let call = &trace.slices_named("takes_anything")[0];
    let Some(Arg::Str(a)) = call.arg("a") else {
        panic!("{:?}", call.args)
    };
    // Bounded: ARG_VALUE_LIMIT bytes of text and a marker with the full length.
    let full = format!("{huge:?}").len();
    assert!(a.len() <= tg4p::ARG_VALUE_LIMIT + 40, "{}", a.len());
    assert!(
        a.ends_with(&format!("…[truncated, {full} bytes]")),
        "{}",
        &a[a.len() - 40..]
    );
    // A `&str` argument is recorded as the string itself (typed), not its Debug.
    assert_eq!(call.arg("b"), Some(&Arg::Str(planes.clone())));
    // A failing Debug leaves what it wrote (nothing); a re-entrant one is recorded
    // and its own events are left out (the thread's recorder is busy).
    assert_eq!(call.arg("c"), Some(&Arg::Str(String::new())));
    assert_eq!(call.arg("d"), Some(&Arg::Str("traced".into())));
    let args = trace.events_named("args").next().unwrap();
    // Strings are recorded as they are: empty, and with a NUL byte kept.
    assert_eq!(args.arg("empty"), Some(&Arg::Str(String::new())));
    assert_eq!(args.arg("nul"), Some(&Arg::Str("\0".into())));
    assert_eq!(args.arg("planes"), Some(&Arg::Str(planes.clone())));
    let Some(Arg::Str(h)) = args.arg("huge") else {
        panic!()
    };
    assert!(h.len() <= tg4p::ARG_VALUE_LIMIT + 40);
    std::fs::remove_file(&path).ok();
}

#[test]
fn extreme_counter_values_are_kept_bit_for_bit() {
    let _s = serial();
    static F: Counter = Counter::new("floats");
    static I: Counter = Counter::new("ints");
    let floats = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        f64::MIN_POSITIVE / 4.0, // subnormal
        f64::MAX,
    ];
    let ints = [i64::MIN, i64::MAX, 0, -1];
    let path = temp("counters");
    let session = tg4p::open(&path).unwrap();
    floats.iter().for_each(|&v| F.set(v));
    F.add(1.0); // NaN-free again? no: MAX + 1 == MAX
    ints.iter().for_each(|&v| I.set(v));
    I.add(1); // wraps from -1 to 0
    I.set(i64::MAX);
    I.add(1); // wraps to i64::MIN, no overflow panic
    session.finish().unwrap();
    let trace = decode(&path);
    let values = |name| -> Vec<CounterValue> {
        let t = trace.track_by_name(name)[0].uuid;
        trace
            .events_on(t)
            .map(|e| match e.kind {
                EventKind::Counter(v) => v,
                k => panic!("{k:?}"),
            })
            .collect()
    };
    let got: Vec<u64> = values("floats")
        .iter()
        .map(|v| match v {
            CounterValue::Double(d) => d.to_bits(),
            v => panic!("{v:?}"),
        })
        .collect();
    let want: Vec<u64> = floats
        .iter()
        .chain(&[f64::MAX])
        .map(|d| d.to_bits())
        .collect();
    assert_eq!(got, want);
    let want: Vec<CounterValue> = ints
        .iter()
        .chain(&[0, i64::MAX, i64::MIN])
        .map(|&i| CounterValue::Int(i))
        .collect();
    assert_eq!(values("ints"), want);
    std::fs::remove_file(&path).ok();
}

#[test]
fn reused_and_odd_flow_ids_make_a_valid_trace() {
    let _s = serial();
    let path = temp("flows");
    let session = tg4p::open(&path).unwrap();
    let [a] = tg4p::instant!("source", outgoing = 1);
    // Consumed twice, by an instant and by a span.
    tg4p::instant!("first sink", incoming = [a]);
    tg4p::instant!("second sink", incoming = [a]);
    drop(tg4p::span!("span sink").incoming(&[a, a]));
    // Ids nobody minted: 0, the largest, an arbitrary one used as both ends.
    let odd = [
        FlowId::from_raw(0),
        FlowId::from_raw(u64::MAX),
        FlowId::from_raw(42),
    ];
    tg4p::instant!("odd sink", incoming = odd);
    let s = tg4p::span!("self loop");
    let out = s.outgoing(3);
    let s = s.incoming(&out);
    drop(s);
    session.finish().unwrap();
    let trace = decode(&path);
    assert!(trace.events_named("second sink").next().is_some());
    std::fs::remove_file(&path).ok();
}

#[tg4p::trace]
fn recurse(n: u32) {
    if n > 0 {
        recurse(n - 1);
    }
}

/// trace_processor keeps at most 512 nested slices per track
/// (`slice_max_depth_exceeded`); recursion 5000 deep (deeper than one buffer holds,
/// too) keeps the outer 512 levels whole, drops, counts and marks the rest.
#[test]
fn recursion_deeper_than_trace_processor_allows_stays_valid() {
    let _s = serial();
    let path = temp("deep");
    let session = tg4p::open(&path).unwrap();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| recurse(5_000))
        .unwrap()
        .join()
        .unwrap();
    let report = session.finish().unwrap();
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    trace.assert_valid();
    assert_eq!(
        report.events_written + report.events_dropped,
        2 * 5_001,
        "{report:?}"
    );
    // The outermost 512 levels are kept whole; the loss is marked.
    let kept = 2 * u64::from(tg4p::MAX_THREAD_DEPTH);
    assert_eq!(report.events_written, kept, "{report:?}");
    // The loss is marked on the timeline: one instant after the kept levels,
    // counting what was dropped.
    let markers: Vec<_> = trace.events_named(tg4p::LOSS_MARKER).collect();
    assert_eq!(markers.len(), 1);
    assert_eq!(
        markers[0].arg("count"),
        Some(&tg4p_oracle::Arg::Uint(report.events_dropped))
    );
    assert_eq!(trace.events.len() as u64, kept + 1);
    assert!(trace.dropped_markers > 0);
    let c = trace.counts.total();
    assert_eq!((c.begins, c.open_at_end), (c.ends, 0));
    assert_eq!(c.begins + c.ends, report.events_written);
    std::fs::remove_file(&path).ok();
}

// ---------------------------------------------------------------- annotation encoder

/// Arbitrary annotation values: any strings (NUL, every plane, empty), any
/// floats (NaN, infinities), integer extremes, nested dicts and arrays.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::Uint),
        any::<f64>().prop_map(Value::Double),
        any::<String>().prop_map(Value::Str),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6).prop_map(Value::Dict),
        ]
    })
}

fn nest(depth: usize) -> Value {
    (0..depth).fold(Value::Int(1), |v, _| Value::Array(vec![v]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any args dict and any event name: either written and decoded exactly as the
    /// model (`expected_args`) says, or refused with a typed error when nested
    /// deeper than `MAX_DEPTH`; the trace is valid either way.
    #[test]
    fn arbitrary_annotations_round_trip(
        entries in prop::collection::vec((any::<String>(), value()), 0..8),
        name in any::<String>(),
        too_deep in prop::option::weighted(0.2, tg4p::MAX_DEPTH..tg4p::MAX_DEPTH + 3),
    ) {
        let mut args = Value::Dict(entries);
        if let (Some(depth), Value::Dict(e)) = (too_deep, &mut args) {
            e.push(("deep".into(), nest(depth)));
        }
        let buf = common::SharedBuf::default();
        let tgen = TraceGenerator::new(buf.clone());
        let track = tgen.create_track("t");
        let written = track.instant_with(1, &name, &args);
        prop_assert_eq!(written.is_ok(), args.depth() <= tg4p::MAX_DEPTH, "{:?}", written);
        track.instant(2, "after").unwrap(); // the generator goes on either way
        tgen.finish().unwrap();
        let trace = tg4p_oracle::decode_bytes(&buf.bytes()).unwrap();
        trace.assert_valid();
        let events: Vec<_> = trace.events.iter().filter(|e| e.kind == EventKind::Instant).collect();
        if written.is_ok() {
            prop_assert_eq!(events.len(), 2);
            prop_assert_eq!(events[0].name.as_deref(), Some(name.as_str()));
            let want = common::expected_args(&args);
            prop_assert_eq!(events[0].args.len(), want.len());
            for ((k1, v1), (k2, v2)) in events[0].args.iter().zip(&want) {
                prop_assert_eq!(k1, k2);
                prop_assert!(common::same_arg(v1, v2), "{:?} != {:?}", v1, v2);
            }
        } else {
            prop_assert_eq!(events.len(), 1);
        }
    }
}
