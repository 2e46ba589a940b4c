//! `serde::Serialize` values as nested dict/array arguments (issue 15, the facade's
//! `serde` feature, which this suite turns on): through `tg4p::serde(&v)` in
//! `instant!`, `span!` and the generator's `args!`, and `#[trace_args(serde(..))]`;
//! bounded in depth and size, with markers. Decoded by the independent oracle.

mod common;

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use tg4p_oracle::{Arg, DecodedTrace, Event, EventKind};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `body` in a session writing to a file of its own; the decoded trace,
/// checked against trace_processor's rules.
fn traced(name: &str, body: impl FnOnce()) -> DecodedTrace {
    let path = common::temp_path(&format!("serde-{name}.pftrace"));
    let session = tg4p::open(&path).unwrap();
    body();
    let report = session.finish().unwrap();
    let trace = tg4p_oracle::decode_file(&path).expect("trace decodes");
    trace.assert_valid();
    assert_eq!(report.events_written as usize, trace.events.len());
    assert_eq!(report.events_dropped, 0);
    std::fs::remove_file(&path).ok();
    trace
}

fn instant<'a>(trace: &'a DecodedTrace, name: &'a str) -> &'a Event {
    let found: Vec<&Event> = trace
        .events_named(name)
        .filter(|e| matches!(e.kind, EventKind::Instant))
        .collect();
    assert_eq!(found.len(), 1, "one instant {name}");
    found[0]
}

fn s(v: &str) -> Arg {
    Arg::Str(v.to_owned())
}

#[derive(Serialize, Debug)]
enum Mode {
    Fast,
    Retry { times: u8 },
    Pair(i32, bool),
}

#[derive(Serialize, Debug)]
struct Config {
    name: String,
    ports: Vec<u16>,
    ratio: f64,
    limits: BTreeMap<String, i64>,
    mode: Mode,
    fallback: Option<Mode>,
    inner: Inner,
}

#[derive(Serialize, Debug)]
struct Inner {
    on: bool,
    pair: Mode,
}

fn config() -> Config {
    Config {
        name: "edge".into(),
        ports: vec![80, 443],
        ratio: 0.5,
        limits: BTreeMap::from([("cpu".into(), -1), ("mem".into(), 1 << 40)]),
        mode: Mode::Retry { times: 3 },
        fallback: None,
        inner: Inner {
            on: true,
            pair: Mode::Pair(-7, false),
        },
    }
}

/// What `config()` is, as the oracle decodes it.
fn config_arg() -> Arg {
    Arg::Dict(vec![
        ("name".into(), s("edge")),
        (
            "ports".into(),
            Arg::Array(vec![Arg::Uint(80), Arg::Uint(443)]),
        ),
        ("ratio".into(), Arg::Double(0.5)),
        (
            "limits".into(),
            Arg::Dict(vec![
                ("cpu".into(), Arg::Int(-1)),
                ("mem".into(), Arg::Int(1 << 40)),
            ]),
        ),
        (
            "mode".into(),
            Arg::Dict(vec![(
                "Retry".into(),
                Arg::Dict(vec![("times".into(), Arg::Uint(3))]),
            )]),
        ),
        ("fallback".into(), s("null")),
        (
            "inner".into(),
            Arg::Dict(vec![
                ("on".into(), Arg::Bool(true)),
                (
                    "pair".into(),
                    Arg::Dict(vec![(
                        "Pair".into(),
                        Arg::Array(vec![Arg::Int(-7), Arg::Bool(false)]),
                    )]),
                ),
            ]),
        ),
    ])
}

#[test]
fn instant_and_span_record_serialize_values_nested() {
    let _s = serial();
    let cfg = config();
    let tags = vec!["a", "b"];
    let trace = traced("macros", || {
        tg4p::instant!(
            "configured",
            cfg = tg4p::serde(&cfg),
            tags = tg4p::serde(&tags),
            mode = tg4p::serde(&Mode::Fast),
            req.body = tg4p::serde(&(1u8, "x")),
            req.id = 9,
            plain = ?cfg.mode,
        );
        let _span = tg4p::span!("load", cfg = tg4p::serde(&cfg), n = 2);
    });
    let e = instant(&trace, "configured");
    assert_eq!(e.arg("cfg"), Some(&config_arg()));
    assert_eq!(e.arg("tags"), Some(&Arg::Array(vec![s("a"), s("b")])));
    assert_eq!(e.arg("mode"), Some(&s("Fast")));
    assert_eq!(
        e.arg("req"),
        Some(&Arg::Dict(vec![
            ("body".into(), Arg::Array(vec![Arg::Uint(1), s("x")])),
            ("id".into(), Arg::Int(9)),
        ]))
    );
    assert_eq!(e.arg("plain"), Some(&s("Retry { times: 3 }")));
    let span = &trace.slices_named("load")[0];
    assert_eq!(span.arg("cfg"), Some(&config_arg()));
    assert_eq!(span.arg("n"), Some(&Arg::Int(2)));
}

#[tg4p::trace_args(serde(cfg, ids), ret)]
fn apply(cfg: &Config, ids: Vec<u32>, label: &str) -> usize {
    cfg.ports.len() + ids.len() + label.len()
}

#[tg4p::trace_args(serde(mode))]
async fn apply_later(mode: Mode, n: i32) -> i32 {
    n + matches!(mode, Mode::Fast) as i32
}

#[test]
fn trace_args_records_the_serde_arguments_nested() {
    let _s = serial();
    let cfg = config();
    let trace = traced("trace-args", || {
        assert_eq!(apply(&cfg, vec![4, 5, 6], "ab"), 7);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(apply_later(Mode::Pair(1, true), 1)), 1);
    });
    let a = &trace.slices_named("apply")[0];
    assert_eq!(a.arg("cfg"), Some(&config_arg()));
    assert_eq!(
        a.arg("ids"),
        Some(&Arg::Array(vec![Arg::Uint(4), Arg::Uint(5), Arg::Uint(6)]))
    );
    assert_eq!(a.arg("label"), Some(&s("ab")));
    assert_eq!(a.arg("return"), Some(&Arg::Uint(7)));
    // A traced future keeps its args from its creation to its first poll.
    let later = &trace.slices_named("apply_later")[0];
    assert_eq!(
        later.arg("mode"),
        Some(&Arg::Dict(vec![(
            "Pair".into(),
            Arg::Array(vec![Arg::Int(1), Arg::Bool(true)])
        )]))
    );
    assert_eq!(later.arg("n"), Some(&Arg::Int(1)));
}

/// A value `n` arrays deep around a 0.
struct Nest(usize);

impl Serialize for Nest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            0 => s.serialize_u8(0),
            n => [Nest(n - 1)].serialize(s),
        }
    }
}

#[test]
fn serde_values_are_bounded_with_markers() {
    let _s = serial();
    let many: Vec<u32> = (0..tg4p::SERDE_NODE_LIMIT as u32 + 100).collect();
    let long = "é".repeat(tg4p::ARG_VALUE_LIMIT);
    let trace = traced("bounded", || {
        tg4p::instant!(
            "big",
            many = tg4p::serde(&many),
            deep = tg4p::serde(&Nest(100)),
            long = tg4p::serde(&[&long]),
        );
    });
    let e = instant(&trace, "big");
    let Some(Arg::Array(items)) = e.arg("many") else {
        panic!("{:?}", e.arg("many"));
    };
    assert_eq!(items.len(), tg4p::SERDE_NODE_LIMIT + 1);
    assert_eq!(items[7], Arg::Uint(7));
    assert_eq!(items.last(), Some(&s("…[truncated: 100 items left out]")));
    let mut deep = e.arg("deep").unwrap();
    let mut levels = 1;
    while let Arg::Array(items) = deep {
        assert_eq!(items.len(), 1);
        deep = &items[0];
        levels += 1;
    }
    assert_eq!(levels, tg4p::SERDE_DEPTH_LIMIT);
    assert_eq!(deep, &s("…[truncated: deeper than 16 levels]"));
    let Some(Arg::Array(texts)) = e.arg("long") else {
        panic!("{:?}", e.arg("long"));
    };
    let Arg::Str(text) = &texts[0] else {
        panic!("{texts:?}")
    };
    assert!(text.len() <= tg4p::ARG_VALUE_LIMIT + 40);
    assert!(text.ends_with(&format!("…[truncated, {} bytes]", long.len())));
}

#[test]
fn generator_args_take_serialize_values() {
    let cfg = config();
    let trace = common::generate("serde-generator.pftrace", |tgen| {
        let t = tgen.create_track("t");
        t.instant_with(
            10,
            "configured",
            &tg4p::args!({"cfg": tg4p::serde(&cfg), "list": [tg4p::serde(&Mode::Fast), 1]}),
        )
        .unwrap();
    });
    let e = instant(&trace, "configured");
    assert_eq!(e.arg("cfg"), Some(&config_arg()));
    assert_eq!(
        e.arg("list"),
        Some(&Arg::Array(vec![s("Fast"), Arg::Int(1)]))
    );
}
