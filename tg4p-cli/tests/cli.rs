//! End-to-end tests of the `tg4p` binary: each runs the built executable on
//! files it did not write itself (traces from tg4p's examples, a live trace
//! written by a child process, Chrome JSON from Chromium and by hand, traces
//! built packet by packet) and checks the result with the independent oracle.

#[allow(dead_code)]
#[path = "../../examples/custom_packets.rs"]
mod custom_packets;
#[allow(dead_code)]
#[path = "../../examples/merge_sort.rs"]
mod merge_sort;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use protobuf::Message;
use serde_json::Value as Json;
use tg4p::generator::Extras;
use tg4p::generator::TraceGenerator;
use tg4p_oracle::perfetto_protos::clock_snapshot::ClockSnapshot;
use tg4p_oracle::perfetto_protos::clock_snapshot::clock_snapshot::Clock;
use tg4p_oracle::perfetto_protos::trace_packet::TracePacket;
use tg4p_oracle::perfetto_protos::track_event::TrackEvent;
use tg4p_oracle::perfetto_protos::track_event::track_event::Type;
use tg4p_oracle::{Arg, CounterValue, DecodedTrace, EventKind, PacketReader, TrackKind};

/// What one run of the binary gave.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `tg4p ARGS`; fails the test on a panic message or a signal.
fn tg4p<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    tg4p_env(args, &[])
}

fn tg4p_env<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tg4p"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tg4p");
    let r = Out {
        code: out.status.code().expect("tg4p was killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked"),
        "tg4p panicked: {}",
        r.stderr
    );
    r
}

/// A fresh directory for one test.
fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("tg4p-cli-tests-{}", std::process::id()))
        .join(test);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The custom_packets example's trace, written through the facade.
fn example_trace(path: &Path) {
    let tgen = TraceGenerator::create(path).unwrap();
    custom_packets::write_example(&tgen).unwrap();
    tgen.finish().unwrap();
}

/// A live trace of the merge_sort example, written by a child process (a copy of
/// this test binary running `live_child`), so each has its own pid and ids.
fn live_trace(path: &Path) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "live_child", "--nocapture", "--test-threads=1"])
        .env("TG4P_CLI_LIVE_CHILD", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(path.exists());
}

/// Not a test of its own: writes the live trace when run by [`live_trace`].
#[test]
fn live_child() {
    if let Some(path) = std::env::var_os("TG4P_CLI_LIVE_CHILD") {
        merge_sort::run(Path::new(&path)).unwrap();
    }
}

fn decode(path: &Path) -> DecodedTrace {
    tg4p_oracle::decode_file(path).unwrap()
}

/// Slice names and counts.
fn slice_counts(t: &DecodedTrace) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for sl in t.slices() {
        *m.entry(sl.name.unwrap_or_default()).or_default() += 1;
    }
    m
}

fn frame(packet: &TracePacket) -> Vec<u8> {
    let bytes = packet.write_to_bytes().unwrap();
    let mut out = vec![0x0a];
    let mut len = bytes.len();
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend(bytes);
    out
}

// ---------------------------------------------------------------- check

#[test]
fn check_passes_traces_of_the_examples() {
    let d = dir("check_examples");
    let (gen_trace, live) = (d.join("custom.pftrace"), d.join("live.pftrace"));
    example_trace(&gen_trace);
    live_trace(&live);
    let r = tg4p(&["check", s(&gen_trace), s(&live)]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("custom.pftrace: OK: "), "{}", r.stdout);
    assert!(r.stdout.contains("live.pftrace: OK: "), "{}", r.stdout);

    // The JSON form agrees with the oracle on the same file.
    let r = tg4p(&["check", "--json", s(&gen_trace)]);
    assert_eq!(r.code, 0);
    let doc: Json = serde_json::from_str(&r.stdout).unwrap();
    let f = &doc["files"][0];
    let oracle = decode(&gen_trace);
    assert_eq!(f["status"], "clean");
    assert_eq!(f["packets"], oracle.packets);
    assert_eq!(f["tracks"], oracle.tracks.len());
    assert_eq!(f["events"], oracle.events.len());
}

/// A trace built packet by packet with one thread track: an END with no open
/// slice, and an event on a track nobody describes.
fn broken_trace(path: &Path) {
    let mut td = TracePacket::new();
    let desc = td.mut_track_descriptor();
    desc.set_uuid(42);
    let thread = desc.thread.mut_or_insert_default();
    thread.set_pid(7);
    thread.set_tid(8);
    let event = |ts: u64, track: u64, ty: Type| {
        let mut p = TracePacket::new();
        p.set_timestamp(ts);
        p.set_trusted_packet_sequence_id(3);
        let mut te = TrackEvent::new();
        te.set_type(ty);
        te.set_track_uuid(track);
        te.set_name("x".into());
        p.set_track_event(te);
        p
    };
    let mut bytes = frame(&td);
    bytes.extend(frame(&event(10, 42, Type::TYPE_SLICE_END)));
    bytes.extend(frame(&event(20, 99, Type::TYPE_INSTANT)));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn check_reports_each_broken_rule_with_its_packet() {
    let d = dir("check_broken");
    let bad = d.join("bad.pftrace");
    broken_trace(&bad);
    let r = tg4p(&["check", s(&bad)]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("[UnbalancedEnd] packet #1"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[UnknownTrack] packet #2"),
        "{}",
        r.stdout
    );
    let r = tg4p(&["check", "--json", "--stream", s(&bad)]);
    assert_eq!(r.code, 1);
    let doc: Json = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["exit"], 1);
    assert_eq!(doc["files"][0]["mode"], "stream");
    let rules: Vec<&str> = doc["files"][0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["UnbalancedEnd", "UnknownTrack"]);
}

#[test]
fn bad_input_gives_a_clear_error_and_a_nonzero_exit() {
    let d = dir("bad_input");
    let good = d.join("good.pftrace");
    example_trace(&good);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = d.join("truncated.pftrace");
    std::fs::write(&truncated, &bytes[..bytes.len() - 5]).unwrap();
    let empty = d.join("empty.pftrace");
    std::fs::write(&empty, b"").unwrap();
    let missing = d.join("missing.pftrace");
    let text = d.join("text.pftrace");
    std::fs::write(&text, b"hello, this is not a trace\n").unwrap();

    let r = tg4p(&["check", s(&truncated)]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("[Truncated]"), "{}", r.stdout);
    for (path, needle) in [
        (&missing, "no such file"),
        (&d, "is a directory"),
        (&empty, "the file is empty"),
        (&text, "not a Perfetto trace"),
    ] {
        let r = tg4p(&["check", s(path)]);
        assert_eq!(r.code, 2, "{path:?}: {}", r.stdout);
        assert!(r.stdout.contains(needle), "{path:?}: {}", r.stdout);
        for cmd in [
            &["stats", s(path)][..],
            &["convert", s(path), s(&d.join("o"))],
        ] {
            let r = tg4p(cmd);
            assert_eq!(r.code, 1, "{cmd:?}");
            assert!(
                r.stderr.starts_with("tg4p: error: "),
                "{cmd:?}: {}",
                r.stderr
            );
        }
        let r = tg4p(&["merge", s(&d.join("m.pftrace")), s(&good), s(path)]);
        assert_eq!(r.code, 1, "{path:?}");
        assert!(r.stderr.contains("tg4p: error: "), "{}", r.stderr);
    }
    // The worst file decides the exit status.
    let r = tg4p(&["check", s(&good), s(&truncated), s(&missing)]);
    assert_eq!(r.code, 2);
}

/// Random bytes, and a valid trace with random bytes changed: every command
/// ends with an exit status and a message, never a panic.
#[test]
fn random_and_mutated_input_never_panics() {
    let d = dir("random_input");
    let good = d.join("good.pftrace");
    example_trace(&good);
    let base = std::fs::read(&good).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let out = d.join("out.pftrace");
    for case in 0..24 {
        let input = d.join(format!("case{case}.bin"));
        let bytes: Vec<u8> = if case % 2 == 0 {
            let len = (next() % 3000) as usize;
            (0..len).map(|_| next() as u8).collect()
        } else {
            let mut b = base.clone();
            for _ in 0..1 + next() % 8 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            b
        };
        std::fs::write(&input, &bytes).unwrap();
        let r = tg4p(&["check", s(&input)]);
        assert!([0, 1, 2].contains(&r.code), "case {case}: {}", r.stdout);
        if case % 2 == 0 {
            assert_ne!(r.code, 0, "case {case}: random bytes passed: {}", r.stdout);
        }
        tg4p(&["stats", s(&input)]);
        let r = tg4p(&["convert", "--from", "chrome", s(&input), s(&out)]);
        assert_eq!(r.code, 1, "case {case}");
        tg4p(&["merge", s(&out), s(&input), s(&good)]);
    }
}

// ---------------------------------------------------------------- stats

#[test]
fn stats_describe_the_example_trace() {
    let d = dir("stats");
    let path = d.join("custom.pftrace");
    example_trace(&path);
    let oracle = decode(&path);
    let r = tg4p(&["stats", "--json", "--top", "100", s(&path)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Json = serde_json::from_str(&r.stdout).unwrap();

    let total = oracle.counts.total();
    assert_eq!(doc["events"]["slice_begin"], total.begins);
    assert_eq!(doc["events"]["counter"], total.counters);
    assert_eq!(doc["events"]["instant"], total.instants);
    assert_eq!(doc["track_count"], oracle.tracks.len());
    let processes = oracle
        .tracks
        .values()
        .filter(|t| matches!(t.kind, TrackKind::Process { .. }))
        .count();
    assert_eq!(doc["processes"], processes);

    // Slices by name: count and total duration, as the oracle pairs them.
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for sl in oracle.slices() {
        let e = expected
            .entry(sl.name.clone().unwrap_or_default())
            .or_default();
        e.0 += 1;
        e.1 += sl.duration().unwrap();
    }
    let got: BTreeMap<String, (u64, u64)> = doc["slices_by_count"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                (
                    v["count"].as_u64().unwrap(),
                    v["total_ns"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // The track tree has the example's processes at its roots, with their children.
    let roots = doc["tracks"].as_array().unwrap();
    let aaa = roots.iter().find(|t| t["name"] == "aaa").unwrap();
    let children: Vec<&str> = aaa["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let mut expected_children: Vec<&str> = oracle
        .children(oracle.track_by_name("aaa")[0].uuid)
        .iter()
        .map(|t| t.display_name().unwrap())
        .collect();
    expected_children.sort();
    let mut sorted = children.clone();
    sorted.sort();
    assert_eq!(sorted, expected_children);

    let r = tg4p(&["stats", s(&path)]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("track tree:"), "{}", r.stdout);
    assert!(r.stdout.contains("slices by count"), "{}", r.stdout);
}

// ---------------------------------------------------------------- convert

/// A hand-written Chrome trace using every converted phase, listed out of order.
const CHROME: &str = r#"{"traceEvents": [
  {"ph": "M", "name": "process_name", "pid": 1, "tid": 1, "args": {"name": "Browser"}},
  {"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "IO"}},
  {"ph": "X", "name": "inner", "pid": 1, "tid": 1, "ts": 20, "dur": 10, "args": {"n": 3, "list": [1, "a"]}},
  {"ph": "X", "name": "outer", "pid": 1, "tid": 1, "ts": 10, "dur": 100, "cat": "top"},
  {"ph": "B", "name": "read", "pid": 1, "tid": 2, "ts": 15.5},
  {"ph": "E", "pid": 1, "tid": 2, "ts": 40, "args": {"bytes": 512}},
  {"ph": "i", "name": "mark", "pid": 1, "tid": 2, "ts": 30, "s": "t"},
  {"ph": "I", "name": "everywhere", "pid": 1, "tid": 2, "ts": 31, "s": "g"},
  {"ph": "C", "name": "mem", "pid": 1, "ts": 5, "args": {"heap": 10, "rss": 2.5}},
  {"ph": "C", "name": "mem", "pid": 1, "ts": 50, "args": {"heap": 12, "rss": 3.5}},
  {"ph": "s", "name": "req", "cat": "net", "id": 7, "pid": 1, "tid": 1, "ts": 25},
  {"ph": "f", "name": "req", "cat": "net", "id": 7, "pid": 1, "tid": 2, "ts": 35, "bp": "e"},
  {"ph": "b", "name": "fetch", "cat": "net", "id": "0x1", "pid": 1, "tid": 1, "ts": 12},
  {"ph": "e", "name": "fetch", "cat": "net", "id": "0x1", "pid": 1, "tid": 1, "ts": 90},
  {"ph": "P", "name": "sample", "pid": 1, "tid": 1, "ts": 13}
], "displayTimeUnit": "ns"}"#;

#[test]
fn convert_chrome_json_keeps_its_meaning() {
    let d = dir("convert_chrome");
    let input = d.join("trace.json");
    std::fs::write(&input, CHROME).unwrap();
    let out = d.join("trace.pftrace");
    let r = tg4p(&["convert", s(&input), s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("phase \"P\" is not converted"),
        "{}",
        r.stderr
    );
    let t = decode(&out);
    t.assert_valid();

    // Names: the process and thread names of the metadata events.
    let browser = t.track_by_name("Browser");
    assert_eq!(browser.len(), 1);
    assert!(matches!(browser[0].kind, TrackKind::Process { .. }));
    let io = t.track_by_name("IO")[0];
    let main = t.track_by_name("Thread 1")[0];
    assert_eq!(io.parent, Some(browser[0].uuid));

    // X nesting from timestamps, µs → ns, args nested.
    let outer = t.slices_named("outer")[0];
    let inner = t.slices_named("inner")[0];
    assert_eq!((outer.track, outer.depth), (main.uuid, 0));
    assert_eq!((inner.track, inner.depth), (main.uuid, 1));
    assert_eq!((outer.begin_ts, outer.end_ts), (10_000, Some(110_000)));
    assert_eq!((inner.begin_ts, inner.end_ts), (20_000, Some(30_000)));
    assert_eq!(outer.categories, Vec::<String>::new()); // categories are not kept
    assert_eq!(inner.arg("n"), Some(&Arg::Int(3)));
    assert_eq!(
        inner.arg("list"),
        Some(&Arg::Array(vec![Arg::Int(1), Arg::Str("a".into())]))
    );
    // B/E with fractional µs; the E's args join the slice.
    let read = t.slices_named("read")[0];
    assert_eq!(
        (read.track, read.begin_ts, read.end_ts),
        (io.uuid, 15_500, Some(40_000))
    );
    assert_eq!(read.arg("bytes"), Some(&Arg::Int(512)));
    // Instants: thread scope on the thread, global scope on a global track.
    let mark = t.events_named("mark").next().unwrap();
    assert_eq!((mark.track, mark.kind), (io.uuid, EventKind::Instant));
    let everywhere = t.events_named("everywhere").next().unwrap();
    assert_eq!(t.tracks[&everywhere.track].parent, None);
    // Counters: one track per series, "NAME KEY", under the process.
    let heap = t.track_by_name("mem heap")[0];
    assert!(heap.is_counter());
    assert_eq!(heap.parent, Some(browser[0].uuid));
    let values: Vec<(u64, CounterValue)> = t
        .events_on(t.track_by_name("mem rss")[0].uuid)
        .map(|e| match e.kind {
            EventKind::Counter(v) => (e.ts, v),
            _ => panic!("not a counter"),
        })
        .collect();
    assert_eq!(
        values,
        [
            (5_000, CounterValue::Double(2.5)),
            (50_000, CounterValue::Double(3.5))
        ]
    );
    // The flow: from "inner" (enclosing the s at 25) to "read" (enclosing the f).
    let flows = t.flows();
    assert_eq!(flows.len(), 1, "{flows:?}");
    let from = &t.events[flows[0].from_event];
    let to = &t.events[flows[0].to_event];
    assert_eq!(from.name.as_deref(), Some("inner"));
    // It arrives at the end of "read", the slice enclosing the f (`bp: "e"`).
    assert_eq!((to.track, to.ts), (io.uuid, 40_000));
    // The async pair on a track of its own, named after it.
    let fetch = t.slices_named("fetch")[0];
    assert_eq!(t.tracks[&fetch.track].name.as_deref(), Some("fetch"));
    assert_eq!((fetch.begin_ts, fetch.end_ts), (12_000, Some(90_000)));
    assert_eq!(slice_counts(&t).values().sum::<usize>(), 4);

    // `check` agrees.
    let r = tg4p(&["check", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn convert_chrome_bare_and_unterminated_arrays() {
    let d = dir("convert_arrays");
    let events = r#"[{"ph":"B","name":"a","pid":3,"tid":4,"ts":1},
                     {"ph":"E","pid":3,"tid":4,"ts":2},"#;
    for (name, text) in [
        ("bare.json", format!("{}]", events.trim_end_matches(','))),
        ("open.json", events.to_string()),
    ] {
        let input = d.join(name);
        std::fs::write(&input, text).unwrap();
        let out = d.join(format!("{name}.pftrace"));
        let r = tg4p(&["convert", s(&input), s(&out)]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let t = decode(&out);
        t.assert_valid();
        let a = t.slices_named("a")[0];
        assert_eq!((a.begin_ts, a.end_ts), (1_000, Some(2_000)));
    }
}

/// A window of a real trace: Chromium 156 (Debian), `--headless --trace-startup
/// --trace-startup-format=json` on a small page; every event of 1/3 in.
#[test]
fn convert_a_real_chromium_trace() {
    let d = dir("convert_chromium");
    let input = data("chromium-window.json");
    let out = d.join("chromium.pftrace");
    let r = tg4p(&["convert", s(&input), s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: Json = serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let t = decode(&out);
    // The window cuts some B/E pairs and flows; nothing else may be wrong.
    t.assert_valid_except(&[tg4p_oracle::Rule::DidNotEnd]);
    // Every complete event became a slice with its name and duration.
    let x: Vec<&Json> = events.iter().filter(|e| e["ph"] == "X").collect();
    let by_name = slice_counts(&t);
    for e in &x {
        let name = e["name"].as_str().unwrap();
        assert!(by_name.contains_key(name), "{name} missing");
    }
    let longest = x
        .iter()
        .max_by(|a, b| a["dur"].as_f64().partial_cmp(&b["dur"].as_f64()).unwrap())
        .unwrap();
    let found = t
        .slices_named(longest["name"].as_str().unwrap())
        .into_iter()
        .filter_map(|sl| sl.duration())
        .max()
        .unwrap();
    let expected = (longest["dur"].as_f64().unwrap() * 1000.0).round() as u64;
    assert_eq!(found, expected);
    // Thread names from the metadata events.
    assert!(!t.track_by_name("CrRendererMain").is_empty());
    let ratio = std::fs::metadata(&out).unwrap().len() as f64
        / std::fs::metadata(&input).unwrap().len() as f64;
    assert!(ratio < 0.5, "protobuf is {ratio:.2} of the JSON");
}

#[test]
fn convert_json_lines_mirrors_the_generator() {
    let d = dir("convert_jsonl");
    let input = d.join("events.jsonl");
    std::fs::write(
        &input,
        r#"{"group": "srv", "name": "server", "track_name": "requests"}
{"track": "db", "name": "db", "group": "srv"}
{"counter": "load", "name": "load"}
{"open": "srv", "ts": 100, "name": "GET /", "args": {"path": "/", "tries": [1, 2]}}
{"close": "srv", "ts": 250, "flows": [9]}

{"open": "db", "ts": 300, "name": "query", "terminating_flows": [9]}
{"instant": "db", "ts": 310, "name": "row"}
{"close": "db", "ts": 400}
{"count": "load", "ts": 0, "value": 3}
{"count": "load", "ts": 200, "value": 0.5}
"#,
    )
    .unwrap();
    let out = d.join("events.pftrace");
    let r = tg4p(&["convert", s(&input), s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = decode(&out);
    t.assert_valid();
    let server = t.track_by_name("server")[0];
    let requests = t.track_by_name("requests")[0];
    let db = t.track_by_name("db")[0];
    assert_eq!(
        (requests.parent, db.parent),
        (Some(server.uuid), Some(server.uuid))
    );
    let get = t.slices_named("GET /")[0];
    assert_eq!(
        (get.track, get.begin_ts, get.end_ts),
        (requests.uuid, 100, Some(250))
    );
    assert_eq!(get.arg("path"), Some(&Arg::Str("/".into())));
    assert_eq!(
        get.arg("tries"),
        Some(&Arg::Array(vec![Arg::Int(1), Arg::Int(2)]))
    );
    let query = t.slices_named("query")[0];
    assert_eq!((query.track, query.end_ts), (db.uuid, Some(400)));
    let flows = t.flows();
    assert_eq!(flows.len(), 1);
    assert_eq!(t.events[flows[0].to_event].name.as_deref(), Some("query"));
    let load: Vec<CounterValue> = t
        .events_on(t.track_by_name("load")[0].uuid)
        .map(|e| match e.kind {
            EventKind::Counter(v) => v,
            _ => panic!(),
        })
        .collect();
    assert_eq!(load, [CounterValue::Int(3), CounterValue::Double(0.5)]);
}

#[test]
fn convert_rejects_wrong_types_with_their_place() {
    let d = dir("convert_wrong");
    let out = d.join("out.pftrace");
    for (name, text, place) in [
        (
            "ts.json",
            r#"{"traceEvents":[{"ph":"B","name":"a","ts":1},{"ph":"X","ts":"soon","dur":1}]}"#,
            "traceEvents[1]: \"ts\" must be a number",
        ),
        (
            "ph.json",
            r#"[{"ph":5,"ts":1}]"#,
            "traceEvents[0]: \"ph\" must be a string",
        ),
        (
            "events.json",
            r#"{"traceEvents":{"ph":"B"}}"#,
            "traceEvents: must be an array",
        ),
        ("number.json", "42", "top level"),
        ("broken.json", r#"{"traceEvents":[{"ph":"B""#, "JSON"),
        (
            "name.jsonl",
            "{\"track\": \"t\", \"name\": 5}\n",
            "line 1: \"name\" must be a string",
        ),
        (
            "undeclared.jsonl",
            "{\"track\": \"t\"}\n{\"open\": \"u\", \"ts\": 1, \"name\": \"x\"}\n",
            "line 2: track \"u\" is not declared",
        ),
        (
            "order.jsonl",
            "{\"track\": \"t\"}\n{\"instant\": \"t\", \"ts\": 5, \"name\": \"x\"}\n\
             {\"instant\": \"t\", \"ts\": 1, \"name\": \"y\"}\n",
            "line 3: timestamp 1 ns is before",
        ),
    ] {
        let input = d.join(name);
        std::fs::write(&input, text).unwrap();
        let r = tg4p(&["convert", s(&input), s(&out)]);
        assert_eq!(r.code, 1, "{name}");
        assert!(r.stderr.contains(place), "{name}: {}", r.stderr);
        assert!(!out.exists(), "{name}: a failed conversion left its output");
    }
}

// ---------------------------------------------------------------- merge

#[test]
fn concatenated_and_merged_process_traces_stay_apart() {
    let d = dir("merge_processes");
    let (a, b) = (d.join("a.pftrace"), d.join("b.pftrace"));
    live_trace(&a);
    live_trace(&b);
    // Plain concatenation of two processes' traces is a valid trace.
    let cat = d.join("cat.pftrace");
    let mut bytes = std::fs::read(&a).unwrap();
    bytes.extend(std::fs::read(&b).unwrap());
    std::fs::write(&cat, bytes).unwrap();
    let r = tg4p(&["check", s(&cat)]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = tg4p(&["stats", "--json", s(&cat)]);
    let doc: Json = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["processes"], 2);

    // Merging a trace with itself: every id clashes and must be renumbered.
    let same = d.join("same.pftrace");
    let r = tg4p(&["merge", "--same-machine", s(&same), s(&a), s(&a), s(&b)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (ta, tm) = (decode(&a), decode(&same));
    tm.assert_valid();
    assert_eq!(tm.tracks.len(), 3 * ta.tracks.len());
    let pids: std::collections::BTreeSet<i32> = tm
        .tracks
        .values()
        .filter_map(|t| match t.kind {
            TrackKind::Process { pid, .. } => Some(pid),
            _ => None,
        })
        .collect();
    assert_eq!(
        pids.len(),
        3,
        "each input's process stays its own: {pids:?}"
    );
    let counts = slice_counts(&ta);
    for (name, n) in slice_counts(&tm) {
        assert_eq!(n % counts[&name], 0, "{name}");
    }
    assert_eq!(tm.flows().len(), 3 * ta.flows().len());
    assert_eq!(
        tm.slices_named("merge_sort").len(),
        3 * ta.slices_named("merge_sort").len()
    );
    let r = tg4p(&["check", s(&same)]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

/// Writes one "machine"'s trace: a wall-clock snapshot (if `realtime`) relating
/// BOOTTIME `boot` to REALTIME, then a generator trace whose events start at `boot`.
fn machine_trace(path: &Path, name: &str, boot: u64, realtime: Option<u64>) {
    let mut bytes = Vec::new();
    if let Some(rt) = realtime {
        let mut cs = ClockSnapshot::new();
        for (id, ts) in [(6, boot), (1, rt)] {
            let mut c = Clock::new();
            c.set_clock_id(id);
            c.set_timestamp(ts);
            cs.clocks.push(c);
        }
        let mut p = TracePacket::new();
        p.set_clock_snapshot(cs);
        bytes = frame(&p);
    }
    let buf = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let tgen = TraceGenerator::new(Shared(buf.clone()));
    let g = tgen.create_group_with_track(name, "work");
    let flow = tgen.new_flow();
    g.open(boot + 1_000, &format!("{name}-work")).unwrap();
    g.close_with(boot + 5_000, &[flow]).unwrap();
    g.instant_with(
        boot + 6_000,
        "done",
        Extras::new().terminating_flows(&[flow]),
    )
    .unwrap();
    tgen.create_counter_track(&format!("{name}-load"))
        .count(boot + 2_000, 1)
        .unwrap();
    tgen.finish().unwrap();
    bytes.extend(buf.borrow().iter());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn machines_are_aligned_by_their_wall_clocks() {
    let d = dir("merge_machines");
    let (a, b) = (d.join("a.pftrace"), d.join("b.pftrace"));
    // Machine B booted 7 s before machine A: the same instant reads 7 s more there.
    let skew = 7_000_000_000;
    let wall = 1_764_633_600_000_000_000;
    machine_trace(&a, "alpha", 1_000_000_000, Some(wall));
    machine_trace(&b, "beta", 1_000_000_000 + skew, Some(wall));
    let out = d.join("merged.pftrace");
    let r = tg4p(&["merge", s(&out), s(&a), s(&b)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("REALTIME snapshot"), "{}", r.stderr);
    let t = decode(&out);
    t.assert_valid();
    let alpha = t.slices_named("alpha-work")[0];
    let beta = t.slices_named("beta-work")[0];
    // Beta would move 7 s back; nothing moves back, so alpha moves 7 s forward.
    assert_eq!(alpha.begin_ts, 1_000_001_000 + skew);
    assert_eq!(beta.begin_ts, alpha.begin_ts, "one timeline");
    assert_eq!(beta.end_ts, alpha.end_ts);
    assert_eq!(t.flows().len(), 2);
    // Every packet of the second input carries its machine id; the first none.
    let mut machines = BTreeMap::new();
    let (mut from_a, mut from_b) = (0, 0);
    for pkt in PacketReader::new(std::fs::File::open(&out).unwrap()) {
        let pkt = pkt.unwrap();
        *machines.entry(pkt.machine_id).or_insert(0) += 1;
    }
    for pkt in PacketReader::new(std::fs::File::open(&a).unwrap()) {
        pkt.unwrap();
        from_a += 1;
    }
    for pkt in PacketReader::new(std::fs::File::open(&b).unwrap()) {
        pkt.unwrap();
        from_b += 1;
    }
    assert_eq!(machines.get(&None), Some(&from_a));
    assert_eq!(machines.get(&Some(1)), Some(&from_b));
}

#[test]
fn machines_without_wall_clock_need_an_explicit_offset() {
    let d = dir("merge_offset");
    let (a, b) = (d.join("a.pftrace"), d.join("b.pftrace"));
    machine_trace(&a, "alpha", 1_000_000_000, None);
    machine_trace(&b, "beta", 3_000_000_000, None);
    let out = d.join("merged.pftrace");
    let r = tg4p(&["merge", s(&out), s(&a), s(&b)]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--offset 1=NS"), "{}", r.stderr);
    let r = tg4p(&["merge", s(&out), s(&a), s(&b), "--offset", "1=-2000000000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = decode(&out);
    t.assert_valid();
    assert_eq!(
        t.slices_named("beta-work")[0].begin_ts,
        t.slices_named("alpha-work")[0].begin_ts
    );
    let r = tg4p(&["merge", s(&out), s(&a), s(&b), "--offset", "5=1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("only 2 inputs"), "{}", r.stderr);
    // Negative offsets lift the other inputs instead.
    let r = tg4p(&["merge", s(&out), s(&a), s(&b), "--offset", "1=-9000000000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = decode(&out);
    t.assert_valid();
    assert_eq!(
        t.slices_named("beta-work")[0].begin_ts + 7_000_000_000,
        t.slices_named("alpha-work")[0].begin_ts
    );
}

// ---------------------------------------------------------------- streaming

/// Peak RSS (kB) of `tg4p check` over a generated trace of `pairs` slices.
fn check_peak_kb(d: &Path, pairs: u64, mode: &str) -> u64 {
    let path = d.join(format!("big-{pairs}.pftrace"));
    if !path.exists() {
        let tgen = TraceGenerator::create(&path).unwrap();
        let tracks: Vec<_> = (0..4)
            .map(|i| tgen.create_track(&format!("t{i}")))
            .collect();
        for i in 0..pairs {
            let t = &tracks[(i % 4) as usize];
            t.open(i * 10, "work").unwrap();
            t.close(i * 10 + 5).unwrap();
        }
        tgen.finish().unwrap();
    }
    let r = tg4p_env(&["check", mode, s(&path)], &[("TG4P_PEAK_RSS", "1")]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let line = r
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("tg4p: peak RSS "))
        .expect("peak RSS line");
    line.trim_end_matches(" kB").trim().parse().unwrap()
}

/// Streaming keeps nothing per event: checking 4x the events costs no more
/// memory, while keeping every event (`--full`) grows with them, which shows the
/// measurement can see growth.
#[test]
fn check_streams_in_bounded_memory() {
    if !Path::new("/proc/self/status").exists() {
        return; // VmHWM is Linux's
    }
    let d = dir("bounded");
    let (small, big) = (50_000, 200_000);
    let stream_small = check_peak_kb(&d, small, "--stream");
    let stream_big = check_peak_kb(&d, big, "--stream");
    let full_small = check_peak_kb(&d, small, "--full");
    let full_big = check_peak_kb(&d, big, "--full");
    eprintln!(
        "peak RSS kB: stream {stream_small} -> {stream_big}, full {full_small} -> {full_big}"
    );
    assert!(
        stream_big < stream_small + 2_048,
        "streaming grew from {stream_small} kB to {stream_big} kB"
    );
    assert!(
        full_big > full_small + 20_000,
        "full mode should grow: {full_small} kB -> {full_big} kB"
    );
}
