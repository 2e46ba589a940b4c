//! Property test: random sequences of generator calls, checked against a model of
//! what was called (accepted calls appear on their track in order, refused calls
//! return the predicted error and leave no trace), the whole trace decoded by the
//! independent oracle and valid.

mod common;

use common::*;
use proptest::prelude::*;
use tg4p::generator::{Extras, GeneratorError, TraceGenerator};
use tg4p::{FlowId, Value, args};
use tg4p_oracle::{Arg, CounterValue, EventKind};

const SLICE_TRACKS: usize = 3;
const NAMES: [&str; 4] = ["alpha", "beta", "gamma", ""];

#[derive(Clone, Debug)]
enum Op {
    Open {
        track: usize,
        dt: i64,
        name: usize,
        args: Option<usize>,
        flow: Option<usize>,
    },
    Close {
        track: usize,
        dt: i64,
        args: Option<usize>,
        flow: Option<usize>,
    },
    Instant {
        track: usize,
        dt: i64,
        name: usize,
        args: Option<usize>,
        flow: Option<usize>,
    },
    CountInt {
        dt: i64,
        value: i64,
    },
    CountDouble {
        dt: i64,
        value: f64,
    },
    TooLarge {
        track: usize,
    },
}

fn arg_values() -> Vec<Value> {
    vec![
        args!({"n": 1}),
        args!({"s": "text", "nested": {"a": [1, 2.5, true, {}], "b": []}}),
        args!({"n": -7, "u": u64::MAX, "dup": 1, "dup": "2"}),
        args!({}),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let track = 0..SLICE_TRACKS;
    // Mostly forward in time, sometimes equal, sometimes backwards (refused).
    let dt = prop_oneof![8 => 0i64..1_000_000, 1 => Just(0i64), 1 => -1_000i64..0];
    let args = prop::option::weighted(0.3, 0..4usize);
    let flow = prop::option::weighted(0.2, 0..3usize);
    prop_oneof![
        4 => (track.clone(), dt.clone(), 0..NAMES.len(), args.clone(), flow.clone())
            .prop_map(|(track, dt, name, args, flow)| Op::Open { track, dt, name, args, flow }),
        4 => (track.clone(), dt.clone(), args.clone(), flow.clone())
            .prop_map(|(track, dt, args, flow)| Op::Close { track, dt, args, flow }),
        3 => (track.clone(), dt.clone(), 0..NAMES.len(), args, flow)
            .prop_map(|(track, dt, name, args, flow)| Op::Instant { track, dt, name, args, flow }),
        1 => (dt.clone(), any::<i64>()).prop_map(|(dt, value)| Op::CountInt { dt, value }),
        1 => (dt, any::<f64>()).prop_map(|(dt, value)| Op::CountDouble { dt, value }),
        1 => track.prop_map(|track| Op::TooLarge { track }),
    ]
}

/// An event the model expects on a track.
#[derive(Clone, Debug)]
struct Expected {
    ts: u64,
    kind: EventKind,
    name: Option<&'static str>,
    args: Vec<(String, Arg)>,
    flows: Vec<u64>,
}

#[derive(Default)]
struct TrackModel {
    last: u64,
    open: usize,
    events: Vec<Expected>,
}

impl TrackModel {
    /// The timestamp `dt` from the latest one (clamped at 0), and whether the
    /// generator must refuse it.
    fn at(&self, dt: i64) -> (u64, bool) {
        let ts = self.last.saturating_add_signed(dt);
        (ts, ts < self.last)
    }
}

fn run(ops: &[Op]) {
    let values = arg_values();
    let flows = [FlowId::new(), FlowId::new(), FlowId::new()];
    let buf = SharedBuf::default();
    let tgen = TraceGenerator::new(buf.clone());
    let group = tgen.create_group_with_track("group", "own");
    let tracks = [
        group.track().clone(),
        group.create_track("child"),
        group.create_group("nested").create_anonymous_track(),
    ];
    let counter = group.create_counter_track("counter");
    let mut models: Vec<TrackModel> = (0..=SLICE_TRACKS).map(|_| TrackModel::default()).collect();

    let extras = |args: Option<usize>, flow: Option<usize>| -> (Option<&Value>, Vec<FlowId>) {
        (
            args.map(|i| &values[i]),
            flow.map(|f| vec![flows[f]]).unwrap_or_default(),
        )
    };
    let decreasing = |r: Result<(), GeneratorError>, m: &TrackModel, ts: u64| match r {
        Err(GeneratorError::TimestampDecreased {
            previous,
            timestamp,
        }) => {
            assert_eq!((previous, timestamp), (m.last, ts));
        }
        other => panic!("expected TimestampDecreased, got {other:?}"),
    };
    for op in ops {
        match *op {
            Op::Open {
                track,
                dt,
                name,
                args,
                flow,
            }
            | Op::Instant {
                track,
                dt,
                name,
                args,
                flow,
            } => {
                let is_open = matches!(op, Op::Open { .. });
                let m = &mut models[track];
                let (ts, refused) = m.at(dt);
                let (args, flow_ids) = extras(args, flow);
                let mut x = Extras::new().flows(&flow_ids);
                if let Some(a) = args {
                    x = x.args(a);
                }
                let t = &tracks[track];
                let r = if is_open {
                    t.open_with(ts, NAMES[name], x)
                } else {
                    t.instant_with(ts, NAMES[name], x)
                };
                if refused {
                    decreasing(r, m, ts);
                    continue;
                }
                r.unwrap();
                m.last = ts;
                m.open += is_open as usize;
                m.events.push(Expected {
                    ts,
                    kind: if is_open {
                        EventKind::SliceBegin
                    } else {
                        EventKind::Instant
                    },
                    name: Some(NAMES[name]),
                    args: args.map(expected_args).unwrap_or_default(),
                    flows: flow_ids.iter().map(|f| f.raw()).collect(),
                });
            }
            Op::Close {
                track,
                dt,
                args,
                flow,
            } => {
                let m = &mut models[track];
                let (ts, refused) = m.at(dt);
                let (args, flow_ids) = extras(args, flow);
                let mut x = Extras::new().flows(&flow_ids);
                if let Some(a) = args {
                    x = x.args(a);
                }
                let r = tracks[track].close_with(ts, x);
                if refused {
                    decreasing(r, m, ts);
                    continue;
                }
                if m.open == 0 {
                    assert!(matches!(r, Err(GeneratorError::NoOpenSlice)), "{r:?}");
                    continue;
                }
                r.unwrap();
                m.last = ts;
                m.open -= 1;
                m.events.push(Expected {
                    ts,
                    kind: EventKind::SliceEnd,
                    name: None,
                    args: args.map(expected_args).unwrap_or_default(),
                    flows: flow_ids.iter().map(|f| f.raw()).collect(),
                });
            }
            Op::CountInt { dt, .. } | Op::CountDouble { dt, .. } => {
                let m = &mut models[SLICE_TRACKS];
                let (ts, refused) = m.at(dt);
                let (r, value) = match *op {
                    Op::CountInt { value, .. } => {
                        (counter.count(ts, value), CounterValue::Int(value))
                    }
                    Op::CountDouble { value, .. } => {
                        (counter.count(ts, value), CounterValue::Double(value))
                    }
                    _ => unreachable!(),
                };
                if refused {
                    decreasing(r, m, ts);
                    continue;
                }
                r.unwrap();
                m.last = ts;
                m.events.push(Expected {
                    ts,
                    kind: EventKind::Counter(value),
                    name: None,
                    args: vec![],
                    flows: vec![],
                });
            }
            Op::TooLarge { track } => {
                let ts = i64::MAX as u64 + 1;
                let r = tracks[track].instant(ts, "x");
                assert!(
                    matches!(r, Err(GeneratorError::TimestampTooLarge { timestamp }) if timestamp == ts),
                    "{r:?}"
                );
            }
        }
    }
    // Close what is still open, so the trace is complete.
    for (t, m) in tracks.iter().zip(&mut models) {
        while m.open > 0 {
            t.close(m.last).unwrap();
            m.open -= 1;
            m.events.push(Expected {
                ts: m.last,
                kind: EventKind::SliceEnd,
                name: None,
                args: vec![],
                flows: vec![],
            });
        }
    }
    tgen.finish().unwrap();

    let trace = tg4p_oracle::decode_bytes(&buf.bytes()).unwrap();
    trace.assert_valid();
    let uuids: Vec<u64> = tracks
        .iter()
        .map(|t| t.uuid())
        .chain([counter.uuid()])
        .collect();
    for (uuid, m) in uuids.iter().zip(&models) {
        let got: Vec<_> = trace.events_on(*uuid).collect();
        assert_eq!(got.len(), m.events.len(), "events on track {uuid}");
        for (g, e) in got.iter().zip(&m.events) {
            let kind_ok = match (g.kind, e.kind) {
                (
                    EventKind::Counter(CounterValue::Double(a)),
                    EventKind::Counter(CounterValue::Double(b)),
                ) => a.to_bits() == b.to_bits(),
                (a, b) => a == b,
            };
            assert!(
                kind_ok && g.ts == e.ts && g.name.as_deref() == e.name && g.flows == e.flows,
                "{g:?} vs {e:?}"
            );
            assert_eq!(g.args.len(), e.args.len());
            for ((k1, v1), (k2, v2)) in g.args.iter().zip(&e.args) {
                assert!(k1 == k2 && same_arg(v1, v2), "{k1}={v1:?} vs {k2}={v2:?}");
            }
        }
    }
    assert_eq!(
        trace.events.len(),
        models.iter().map(|m| m.events.len()).sum::<usize>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_call_sequences_match_the_model(ops in prop::collection::vec(op(), 0..200)) {
        run(&ops);
    }
}
