//! Typed values and run-time names (issue 15), decoded by the independent oracle:
//! `instant!`, `span!`, `#[trace_args]` and `ret` record integers, floats, bools,
//! chars and strings as Perfetto's typed values, `%`/`?` as Display/Debug text,
//! dotted keys as nested dicts; names known at run time are interned once per
//! sequence; `instant!` takes a run-time `outgoing` count.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use tg4p_oracle::{Arg, DecodedTrace, Event, EventKind, PacketReader};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tg4p-values-{}-{name}.pftrace", std::process::id()))
}

/// Runs `body` in a session writing to a file of its own; the decoded trace,
/// checked against trace_processor's rules.
fn traced(name: &str, body: impl FnOnce()) -> (DecodedTrace, std::path::PathBuf) {
    let path = temp(name);
    let session = tg4p::open(&path).unwrap();
    body();
    let report = session.finish().unwrap();
    let trace = tg4p_oracle::decode_file(&path).expect("trace decodes");
    trace.assert_valid();
    assert_eq!(report.events_written as usize, trace.events.len());
    assert_eq!(report.events_dropped, 0);
    (trace, path)
}

fn args(e: &Event) -> BTreeMap<&str, &Arg> {
    e.args.iter().map(|(k, v)| (k.as_str(), v)).collect()
}

fn instant<'a>(trace: &'a DecodedTrace, name: &'a str) -> &'a Event {
    let found: Vec<&Event> = trace
        .events_named(name)
        .filter(|e| matches!(e.kind, EventKind::Instant))
        .collect();
    assert_eq!(found.len(), 1, "one instant {name}");
    found[0]
}

fn str_arg(s: &str) -> Arg {
    Arg::Str(s.to_owned())
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct Point {
    x: i32,
}

struct Shown;

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shown by Display")
    }
}

#[test]
fn instant_args_keep_their_types() {
    let _s = serial();
    let owned = String::from("owned");
    let borrowed: &str = "borrowed";
    let cow: Cow<'static, str> = Cow::Borrowed("cow");
    let n: usize = 42;
    let m: i64 = 9;
    let (trace, _) = traced("instant-types", || {
        tg4p::instant!(
            "types",
            neg = -5,
            neg_var = -m,
            neg_expr = -(n as i64) * 2,
            neg_call = -m.abs(),
            negated.nested = -m,
            big = u64::MAX,
            len = n,
            small = 7u8,
            ratio = 0.25,
            single = 1.5f32,
            flag = true,
            letter = 'é',
            text = "literal",
            owned = owned,
            by_ref = &owned,
            borrowed = borrowed,
            cow = cow,
            point = Point { x: 3 },
            maybe = Some(2),
        );
    });
    let e = instant(&trace, "types");
    let a = args(e);
    // A `-` before any value negates that value, up to the next comma.
    assert_eq!(a["neg_var"], &Arg::Int(-9));
    assert_eq!(a["neg_expr"], &Arg::Int(-84));
    assert_eq!(a["neg_call"], &Arg::Int(-9));
    assert_eq!(a["negated"].get("nested"), Some(&Arg::Int(-9)));
    assert_eq!(a["neg"], &Arg::Int(-5));
    assert_eq!(a["big"], &Arg::Uint(u64::MAX));
    assert_eq!(a["len"], &Arg::Uint(42));
    assert_eq!(a["small"], &Arg::Uint(7));
    assert_eq!(a["ratio"], &Arg::Double(0.25));
    assert_eq!(a["single"], &Arg::Double(1.5));
    assert_eq!(a["flag"], &Arg::Bool(true));
    assert_eq!(a["letter"], &str_arg("é"));
    assert_eq!(a["text"], &str_arg("literal"));
    assert_eq!(a["owned"], &str_arg("owned"));
    assert_eq!(a["by_ref"], &str_arg("owned"));
    assert_eq!(a["borrowed"], &str_arg("borrowed"));
    assert_eq!(a["cow"], &str_arg("cow"));
    assert_eq!(a["point"], &str_arg("Point { x: 3 }"));
    assert_eq!(a["maybe"], &str_arg("Some(2)"));
    assert_eq!(e.args.len(), 19);
}

#[test]
fn display_debug_and_dotted_keys() {
    let _s = serial();
    let method = "GET";
    let (trace, _) = traced("dotted", || {
        tg4p::instant!(
            "request",
            http.method = method,
            http.status = 200u16,
            http.url.path = "/users",
            shown = %Shown,
            quoted = ?"text",
            num_text = %12,
            plain = 1,
        );
    });
    let e = instant(&trace, "request");
    let a = args(e);
    let expected_http = Arg::Dict(vec![
        ("method".into(), str_arg("GET")),
        ("status".into(), Arg::Uint(200)),
        (
            "url".into(),
            Arg::Dict(vec![("path".into(), str_arg("/users"))]),
        ),
    ]);
    assert_eq!(a["http"], &expected_http);
    assert_eq!(a["shown"], &str_arg("shown by Display"));
    assert_eq!(a["quoted"], &str_arg("\"text\""));
    assert_eq!(a["num_text"], &str_arg("12"));
    assert_eq!(a["plain"], &Arg::Int(1));
    assert_eq!(e.args.len(), 5, "{:?}", e.args);
}

#[tg4p::trace_args(ret)]
fn typed_fn(id: u32, delta: i64, label: &str, name: String, ok: bool, p: Point) -> f64 {
    let _ = (label, &name, ok, &p);
    id as f64 + delta as f64 / 2.0
}

#[tg4p::trace_args(ret)]
fn text_result(n: u8) -> String {
    format!("n={n}")
}

#[tg4p::trace(ret)]
fn opaque_result() -> Option<i32> {
    Some(5)
}

#[tg4p::trace_args]
fn generic<T: std::fmt::Debug>(value: T) -> T {
    value
}

static ARGS_TRACK: tg4p::Track = tg4p::Track::new("typed track");

#[tg4p::trace_args(ret, track = ARGS_TRACK)]
fn on_track(count: u16) -> bool {
    count > 1
}

#[test]
fn trace_args_and_ret_are_typed() {
    let _s = serial();
    let (trace, _) = traced("trace-args", || {
        assert_eq!(
            typed_fn(3, -4, "lbl", "nm".into(), true, Point { x: 1 }),
            1.0
        );
        assert_eq!(text_result(9), "n=9");
        assert_eq!(opaque_result(), Some(5));
        assert_eq!(generic(7u64), 7);
        assert!(on_track(2));
    });
    let s = &trace.slices_named("typed_fn")[0];
    assert_eq!(s.arg("id"), Some(&Arg::Uint(3)));
    assert_eq!(s.arg("delta"), Some(&Arg::Int(-4)));
    assert_eq!(s.arg("label"), Some(&str_arg("lbl")));
    assert_eq!(s.arg("name"), Some(&str_arg("nm")));
    assert_eq!(s.arg("ok"), Some(&Arg::Bool(true)));
    assert_eq!(s.arg("p"), Some(&str_arg("Point { x: 1 }")));
    assert_eq!(s.arg("return"), Some(&Arg::Double(1.0)));
    let s = &trace.slices_named("text_result")[0];
    assert_eq!(s.arg("n"), Some(&Arg::Uint(9)));
    assert_eq!(s.arg("return"), Some(&str_arg("n=9")));
    let s = &trace.slices_named("opaque_result")[0];
    assert_eq!(s.arg("return"), Some(&str_arg("Some(5)")));
    // A generic parameter's type is not known where the attribute expands: Debug.
    let s = &trace.slices_named("generic")[0];
    assert_eq!(s.arg("value"), Some(&str_arg("7")));
    let s = &trace.slices_named("on_track")[0];
    assert_eq!(s.arg("count"), Some(&Arg::Uint(2)));
    assert_eq!(s.arg("return"), Some(&Arg::Bool(true)));
    let track = trace.track_by_name("typed track");
    assert_eq!(s.track, track[0].uuid);
}

#[tg4p::trace_args(ret)]
async fn async_typed(n: i32) -> i32 {
    n * 2
}

#[test]
fn async_trace_args_and_ret_are_typed() {
    let _s = serial();
    let (trace, _) = traced("async", || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(async_typed(21)), 42);
    });
    let s = &trace.slices_named("async_typed")[0];
    assert_eq!(s.arg("n"), Some(&Arg::Int(21)));
    assert_eq!(s.arg("return"), Some(&Arg::Int(42)));
}

static SPAN_TRACK: tg4p::Track = tg4p::Track::new("span values");

#[test]
fn span_args_and_runtime_names() {
    let _s = serial();
    let route = String::from("/users/7");
    let (trace, _) = traced("span", || {
        {
            let _a = tg4p::span!("typed", n = 3, kind = "merge", user.id = 7u32, x = ?1.5);
            let _b = tg4p::span!(route.as_str(), hit = true);
            let _c = tg4p::span!(SPAN_TRACK, { format!("{route} on track") }, w = 2.5);
            let _d = tg4p::span!(SPAN_TRACK, "literal on track", s = %Shown);
        }
        tg4p::instant!(route.clone(), code = 404);
        tg4p::instant!(SPAN_TRACK, { &route }, code = 200);
    });
    let s = &trace.slices_named("typed")[0];
    assert_eq!(s.arg("n"), Some(&Arg::Int(3)));
    assert_eq!(s.arg("kind"), Some(&str_arg("merge")));
    assert_eq!(
        s.arg("user"),
        Some(&Arg::Dict(vec![("id".into(), Arg::Uint(7))]))
    );
    assert_eq!(s.arg("x"), Some(&str_arg("1.5")));
    let b = &trace.slices_named("/users/7")[0];
    assert_eq!(b.arg("hit"), Some(&Arg::Bool(true)));
    assert_eq!(b.track, s.track, "on the thread's track");
    assert_eq!(b.depth, s.depth + 1, "nested in `typed`");
    let track = trace.track_by_name("span values")[0].uuid;
    let c = &trace.slices_named("/users/7 on track")[0];
    assert_eq!(c.arg("w"), Some(&Arg::Double(2.5)));
    let d = &trace.slices_named("literal on track")[0];
    assert_eq!(d.arg("s"), Some(&str_arg("shown by Display")));
    for slice in [c, d] {
        let on = trace.tracks[&slice.track].parent;
        assert!(
            slice.track == track || on == Some(track),
            "on the track or a lane of it"
        );
    }
    let instants: Vec<&Event> = trace
        .events_named("/users/7")
        .filter(|e| matches!(e.kind, EventKind::Instant))
        .collect();
    assert_eq!(instants.len(), 2);
    let codes: Vec<&Arg> = instants.iter().map(|e| args(e)["code"]).collect();
    assert!(codes.contains(&&Arg::Int(404)) && codes.contains(&&Arg::Int(200)));
    assert!(instants.iter().any(|e| e.track == track));
}

/// Entries of `debug_annotation_names` and `event_names` interned on each sequence,
/// read from the raw packets: (sequence, table, name) -> times interned.
fn interned_entries(path: &std::path::Path) -> BTreeMap<(u32, &'static str, String), usize> {
    let mut seen = BTreeMap::new();
    let mut reader = PacketReader::new(std::fs::File::open(path).unwrap());
    while let Some(raw) = reader.next_raw() {
        let packet = raw.unwrap().parse().unwrap();
        let seq = packet.trusted_packet_sequence_id();
        let Some(data) = packet.interned_data.as_ref() else {
            continue;
        };
        for e in &data.event_names {
            *seen
                .entry((seq, "event_names", e.name().to_owned()))
                .or_insert(0) += 1;
        }
        for e in &data.debug_annotation_names {
            *seen
                .entry((seq, "debug_annotation_names", e.name().to_owned()))
                .or_insert(0) += 1;
        }
    }
    seen
}

#[test]
fn runtime_names_are_interned_once_per_sequence() {
    let _s = serial();
    let names: Vec<String> = (0..5).map(|i| format!("route-{i}")).collect();
    let (trace, path) = traced("interned", || {
        std::thread::scope(|s| {
            for t in 0..2 {
                let names = &names;
                s.spawn(move || {
                    for i in 0..1000 {
                        let name = &names[(i + t) % names.len()];
                        let _span = tg4p::span!(name.as_str(), i = i);
                        tg4p::instant!(name.clone(), http.method = "GET");
                    }
                });
            }
        });
    });
    for name in &names {
        let spans = trace.slices_named(name);
        assert_eq!(spans.len(), 400, "{name}: 2 threads × 200 spans");
        assert!(spans.iter().all(|s| s.end_ts.is_some()));
        let instants = trace
            .events_named(name)
            .filter(|e| matches!(e.kind, EventKind::Instant))
            .count();
        assert_eq!(instants, 400);
    }
    let entries = interned_entries(&path);
    let sequences: std::collections::BTreeSet<u32> =
        trace.events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences.len(), 2, "one sequence per thread");
    for &seq in &sequences {
        for name in &names {
            assert_eq!(
                entries.get(&(seq, "event_names", name.clone())),
                Some(&1),
                "{name} on sequence {seq}"
            );
        }
        for arg in ["i", "http"] {
            assert_eq!(
                entries.get(&(seq, "debug_annotation_names", arg.to_owned())),
                Some(&1),
                "{arg} on sequence {seq}"
            );
        }
    }
}

#[test]
fn runtime_outgoing_counts() {
    let _s = serial();
    let (trace, _) = traced("outgoing", || {
        let fan_out = std::hint::black_box(3usize);
        let ids: Vec<tg4p::FlowId> = tg4p::instant!("fan out", outgoing = fan_out, n = fan_out);
        assert_eq!(ids.len(), 3);
        let [one] = tg4p::instant!("literal", outgoing = 1);
        for id in &ids {
            tg4p::instant!("fan in", incoming = [*id]);
        }
        tg4p::instant!("join", incoming = [one]);
        let none: Vec<tg4p::FlowId> = tg4p::instant!("none", outgoing = fan_out - 3);
        assert!(none.is_empty());
    });
    let out = instant(&trace, "fan out");
    assert_eq!(out.flows.len(), 3);
    assert_eq!(args(out)["n"], &Arg::Uint(3));
    let arrows = trace.flows();
    assert_eq!(arrows.len(), 4);
    assert!(trace.dangling_flows().is_empty());
}

#[test]
fn tracks_and_counters_named_at_run_time() {
    let _s = serial();
    let (trace, _) = traced("named-tracks", || {
        for shard in 0..2 {
            let track = tg4p::Track::named(format!("shard {shard}"));
            let _span = track.span("compact");
            tg4p::Counter::named(format!("queue {shard}")).set(10 + shard);
        }
        // The same name again: the same track and counter.
        let _again = tg4p::Track::named("shard 1").span("again");
        tg4p::Counter::named(String::from("queue 1")).add(5);
    });
    for shard in 0..2 {
        let tracks = trace.track_by_name(&format!("shard {shard}"));
        assert_eq!(tracks.len(), 1, "one track per name");
        let names: Vec<_> = trace
            .slices_on(tracks[0].uuid)
            .iter()
            .filter_map(|s| s.name.clone())
            .collect();
        let want: &[&str] = if shard == 0 {
            &["compact"]
        } else {
            &["compact", "again"]
        };
        assert_eq!(names, want);
        let counters = trace.track_by_name(&format!("queue {shard}"));
        assert_eq!(counters.len(), 1, "one counter track per name");
        let values: Vec<f64> = trace
            .events_on(counters[0].uuid)
            .filter_map(|e| match &e.kind {
                EventKind::Counter(v) => Some(v.as_f64()),
                _ => None,
            })
            .collect();
        let want: &[f64] = if shard == 0 { &[10.0] } else { &[11.0, 16.0] };
        assert_eq!(values, want);
    }
}

#[tg4p::trace]
fn inner_traced() {}

#[test]
fn plain_spans_nest_with_traced_calls_and_keep_their_flows() {
    let _s = serial();
    let (trace, _) = traced("plain-spans", || {
        let outer = tg4p::span!("outer");
        inner_traced();
        let flows = {
            let sender = tg4p::span!("sender");
            inner_traced();
            sender.outgoing(2)
        };
        let _receiver = tg4p::span!("receiver").incoming(&flows[..1]);
        tg4p::instant!("other end", incoming = [flows[1]]);
        drop(_receiver);
        drop(outer);
        for _ in 0..1000 {
            let _s = tg4p::span!("many");
        }
    });
    let outer = &trace.slices_named("outer")[0];
    assert_eq!(outer.depth, 0);
    assert!(outer.end_ts.is_some());
    let sender = &trace.slices_named("sender")[0];
    let receiver = &trace.slices_named("receiver")[0];
    for s in [sender, receiver] {
        assert_eq!((s.track, s.depth), (outer.track, 1), "{:?}", s.name);
        assert!(s.begin_ts >= outer.begin_ts && s.end_ts <= outer.end_ts);
    }
    let inner = trace.slices_named("inner_traced");
    assert_eq!(inner.len(), 2);
    assert_eq!((inner[0].depth, inner[1].depth), (1, 2));
    assert_eq!(sender.flows_out.len(), 2);
    assert_eq!(trace.flows().len(), 2);
    assert!(trace.dangling_flows().is_empty());
    let many = trace.slices_named("many");
    assert_eq!(many.len(), 1000);
    assert!(many.iter().all(|s| s.depth == 0 && s.end_ts.is_some()));
    let src = many[0].source.as_ref().expect("a source location");
    assert!(
        src.function.contains("keep_their_flows"),
        "{}",
        src.function
    );
}

#[test]
fn values_whose_integer_type_is_inferred_later() {
    let _s = serial();
    let (trace, _) = traced("inferred", || {
        let n = 5; // i32 by rustc's fallback, after the macro's method call
        let x = 0.5; // f64 likewise
        tg4p::instant!("inferred", n = n, x = x, sum = n + 1);
        let _s = tg4p::span!("inferred span", n = n);
    });
    let a = args(instant(&trace, "inferred"));
    assert_eq!(a["n"], &Arg::Int(5));
    assert_eq!(a["x"], &Arg::Double(0.5));
    assert_eq!(a["sum"], &Arg::Int(6));
    let s = &trace.slices_named("inferred span")[0];
    assert_eq!(s.arg("n"), Some(&Arg::Int(5)));
}

#[test]
fn repeated_typed_events_keep_their_args() {
    // The first event of a callsite teaches the writer its arg names; the later
    // ones take its templates: every one must decode the same way.
    let _s = serial();
    let label = String::from("lbl");
    let (trace, _) = traced("repeated", || {
        for k in 0..200u64 {
            let _s = tg4p::span!(
                "rep_span",
                k = k,
                neg = -(k as i64),
                on = k.is_multiple_of(2)
            );
            tg4p::instant!(
                "rep_instant",
                ratio = k as f64 / 2.0,
                label = label.as_str()
            );
            // Two callsites of one name, one of them every third time.
            if k % 3 == 0 {
                tg4p::instant!("rep_mixed", v = %k);
            } else {
                tg4p::instant!("rep_mixed", v = k);
            }
        }
    });
    let spans = trace.slices_named("rep_span");
    assert_eq!(spans.len(), 200);
    for (k, s) in spans.iter().enumerate() {
        let k = k as u64;
        assert_eq!(s.arg("k"), Some(&Arg::Uint(k)));
        assert_eq!(s.arg("neg"), Some(&Arg::Int(-(k as i64))));
        assert_eq!(s.arg("on"), Some(&Arg::Bool(k.is_multiple_of(2))));
        assert_eq!(s.depth, 0);
    }
    let instants: Vec<&Event> = trace.events_named("rep_instant").collect();
    assert_eq!(instants.len(), 200);
    for (k, e) in instants.iter().enumerate() {
        assert_eq!(e.arg("ratio"), Some(&Arg::Double(k as f64 / 2.0)));
        assert_eq!(e.arg("label"), Some(&str_arg("lbl")));
    }
    let mixed: Vec<&Event> = trace.events_named("rep_mixed").collect();
    assert_eq!(mixed.len(), 200);
    for (k, e) in mixed.iter().enumerate() {
        let want = match k % 3 {
            0 => str_arg(&k.to_string()),
            _ => Arg::Uint(k as u64),
        };
        assert_eq!(e.arg("v"), Some(&want));
    }
}

#[tg4p::trace_args]
fn typed_loop(k: u64, label: &str) {
    let _ = (k, label);
}

#[test]
fn compact_typed_records_keep_dotted_keys_long_strings_and_many_args() {
    // Scalars and short strings on the thread's track take the compact record
    // (named by the callsite); the writer writes its later events from the
    // callsite's templates, in batches or (a long string) on their own, and
    // dotted keys on its general path, every time.
    let _s = serial();
    let long = "ü".repeat(500); // 1000 bytes: at most one per output batch
    let (trace, _) = traced("compact", || {
        for k in 0..300u64 {
            tg4p::instant!("dotted", http.method = "GET", http.status = k as u16, n = k);
            let _s = tg4p::span!("long", text = long.as_str(), k = k);
            tg4p::instant!(
                "many",
                a = k,
                b = -(k as i64),
                c = k as f64,
                d = true,
                e = "e",
                f = 1u8,
                g = 2i16,
                h = 3.5f32,
                i = 'i' as u32
            );
            typed_loop(k, "lbl");
        }
    });
    let dotted: Vec<&Event> = trace.events_named("dotted").collect();
    let longs = trace.slices_named("long");
    let many: Vec<&Event> = trace.events_named("many").collect();
    let loops = trace.slices_named("typed_loop");
    assert_eq!(
        (dotted.len(), longs.len(), many.len(), loops.len()),
        (300, 300, 300, 300)
    );
    for k in 0..300usize {
        let a = args(dotted[k]);
        let http = Arg::Dict(vec![
            ("method".into(), str_arg("GET")),
            ("status".into(), Arg::Uint(k as u64)),
        ]);
        assert_eq!(
            (a["http"], a["n"]),
            (&http, &Arg::Uint(k as u64)),
            "dotted {k}"
        );
        assert_eq!(longs[k].arg("text"), Some(&str_arg(&long)), "long {k}");
        assert_eq!(longs[k].arg("k"), Some(&Arg::Uint(k as u64)));
        assert!(longs[k].end_ts.is_some());
        let m = args(many[k]);
        assert_eq!(m.len(), 9, "many {k}: {m:?}");
        assert_eq!(m["a"], &Arg::Uint(k as u64));
        assert_eq!(m["b"], &Arg::Int(-(k as i64)));
        assert_eq!(m["c"], &Arg::Double(k as f64));
        assert_eq!(m["d"], &Arg::Bool(true));
        assert_eq!(m["e"], &str_arg("e"));
        assert_eq!(m["f"], &Arg::Uint(1));
        assert_eq!(m["g"], &Arg::Int(2));
        assert_eq!(m["h"], &Arg::Double(3.5));
        assert_eq!(m["i"], &Arg::Uint('i' as u64));
        assert_eq!(loops[k].arg("k"), Some(&Arg::Uint(k as u64)));
        assert_eq!(loops[k].arg("label"), Some(&str_arg("lbl")));
    }
}
