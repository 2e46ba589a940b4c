//! `tg4p stats FILE`: what a trace holds, gathered in one streaming pass
//! (the oracle's counting mode plus an observer), so memory stays bounded.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use serde_json::{Value, json};
use tg4p_oracle::{
    Arg, DecodedTrace, EventKind, Model, ModelOptions, Observed, PacketReader, Track, TrackKind,
};

use crate::error::CliError;
use crate::input;

/// The marker tg4p writes for a value not recorded for lack of memory.
const TG4P_DROPPED_VALUE: &str = "<not recorded: memory limit reached>";

/// How many distinct flow ids are remembered for the flow count; past that
/// only flow events are counted (keeps memory bounded).
const MAX_FLOW_IDS: usize = 1 << 20;

#[derive(Default)]
struct SliceStat {
    count: u64,
    total_ns: u64,
    max_ns: u64,
}

#[derive(Default)]
struct CounterStat {
    samples: u64,
    min: f64,
    max: f64,
    last: f64,
}

/// What the observer accumulates.
#[derive(Default)]
struct Acc {
    slices: HashMap<String, SliceStat>,
    instants: HashMap<String, u64>,
    counters: BTreeMap<u64, CounterStat>,
    flow_ids: HashSet<u64>,
    flow_ids_capped: bool,
    flow_events: u64,
    dropped_values: u64,
}

impl Acc {
    fn observe(&mut self, o: Observed<'_>) {
        match o {
            Observed::Event(e) => {
                match e.kind {
                    EventKind::Instant => {
                        *self
                            .instants
                            .entry(e.name.clone().unwrap_or_default())
                            .or_default() += 1
                    }
                    EventKind::Counter(v) => {
                        let v = v.as_f64();
                        let c = self.counters.entry(e.track).or_insert(CounterStat {
                            min: v,
                            max: v,
                            ..CounterStat::default()
                        });
                        c.samples += 1;
                        c.min = c.min.min(v);
                        c.max = c.max.max(v);
                        c.last = v;
                    }
                    _ => {}
                }
                if !e.flows.is_empty() || !e.terminating_flows.is_empty() {
                    self.flow_events += 1;
                    for &id in e.flows.iter().chain(&e.terminating_flows) {
                        if self.flow_ids.len() < MAX_FLOW_IDS {
                            self.flow_ids.insert(id);
                        } else {
                            self.flow_ids_capped = true;
                        }
                    }
                }
                self.dropped_values += e
                    .args
                    .iter()
                    .filter(|(_, v)| matches!(v, Arg::Str(s) if s == TG4P_DROPPED_VALUE))
                    .count() as u64;
            }
            Observed::SliceClosed {
                name,
                begin_ts,
                end_ts,
                ..
            } => {
                let s = self
                    .slices
                    .entry(name.unwrap_or_default().to_string())
                    .or_default();
                let d = end_ts.saturating_sub(begin_ts);
                s.count += 1;
                s.total_ns += d;
                s.max_ns = s.max_ns.max(d);
            }
        }
    }
}

/// Runs `stats` on one file and prints a table (or JSON).
pub fn run(path: &Path, top: usize, as_json: bool) -> Result<(), CliError> {
    let (reader, len) = input::open_tracked(path, "reading")?;
    let acc = Rc::new(RefCell::new(Acc::default()));
    let mut model = Model::new(ModelOptions { keep_events: false });
    let sink = acc.clone();
    model.observe(move |o| sink.borrow_mut().observe(o));
    let mut packets = PacketReader::new(reader);
    while let Some(item) = packets.next_raw() {
        match item {
            Ok(raw) => model.push_raw(&raw.bytes),
            Err(e) => model.record_error(e).map_err(|e| CliError::NotATrace {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?,
        }
    }
    drop(packets);
    let trace = model.finish();
    let corrupt = trace
        .violation_totals
        .get(&tg4p_oracle::Rule::CorruptPacket)
        .copied()
        .unwrap_or(0);
    if trace.packets <= corrupt {
        return Err(CliError::NotATrace {
            path: path.to_path_buf(),
            reason: trace
                .violations
                .first()
                .map(|v| v.detail.clone())
                .unwrap_or_else(|| "the file is empty".into()),
        });
    }
    let acc = acc.take();
    let report = Report {
        trace: &trace,
        acc: &acc,
        bytes: len,
        top,
    };
    if as_json {
        let doc = report.json(path);
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        report.print(path);
    }
    Ok(())
}

struct Report<'a> {
    trace: &'a DecodedTrace,
    acc: &'a Acc,
    bytes: u64,
    top: usize,
}

impl Report<'_> {
    fn top_slices(&self) -> Vec<(&String, &SliceStat)> {
        let mut v: Vec<_> = self.acc.slices.iter().collect();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        v.truncate(self.top);
        v
    }

    fn top_by_duration(&self) -> Vec<(&String, &SliceStat)> {
        let mut v: Vec<_> = self.acc.slices.iter().collect();
        v.sort_by(|a, b| b.1.total_ns.cmp(&a.1.total_ns).then(a.0.cmp(b.0)));
        v.truncate(self.top);
        v
    }

    fn roots(&self) -> Vec<&Track> {
        let t = &self.trace.tracks;
        t.values()
            .filter(|x| x.parent.is_none_or(|p| !t.contains_key(&p)))
            .collect()
    }

    fn events_on(&self, uuid: u64) -> u64 {
        self.trace.counts.track(uuid).events()
    }

    fn track_label(t: &Track) -> String {
        let name = t.display_name().unwrap_or("(unnamed)");
        match &t.kind {
            TrackKind::Process { pid, .. } => format!("process {pid} \"{name}\""),
            TrackKind::Thread { pid, tid, .. } => format!("thread {tid} (pid {pid}) \"{name}\""),
            TrackKind::Counter => format!("counter \"{name}\""),
            TrackKind::Plain => format!("track \"{name}\""),
        }
    }

    fn print_tree(&self, t: &Track, depth: usize) {
        println!(
            "  {}{}  [{} events]",
            "  ".repeat(depth),
            Self::track_label(t),
            self.events_on(t.uuid)
        );
        if depth < 32 {
            for c in self.trace.children(t.uuid) {
                self.print_tree(c, depth + 1);
            }
        }
    }

    fn print(&self, path: &Path) {
        let t = self.trace;
        let total = t.counts.total();
        let events = total.events();
        println!("{}", path.display());
        println!("  packets            {}", t.packets);
        println!("  bytes              {}", self.bytes);
        println!(
            "  events             {events} ({} begins, {} ends, {} instants, {} counter samples)",
            total.begins, total.ends, total.instants, total.counters
        );
        if events > 0 {
            println!(
                "  bytes per event    {:.1}",
                self.bytes as f64 / events as f64
            );
        }
        if let (Some(a), Some(b)) = (total.first_ts, total.last_ts) {
            println!(
                "  time span          {a} .. {b} ns ({:.6} s)",
                (b - a) as f64 / 1e9
            );
        }
        let processes = self.count_kind(|k| matches!(k, TrackKind::Process { .. }));
        let threads = self.count_kind(|k| matches!(k, TrackKind::Thread { .. }));
        println!(
            "  tracks             {} ({processes} processes, {threads} threads)",
            t.tracks.len()
        );
        println!(
            "  flows              {} ids on {} events{}",
            self.acc.flow_ids.len(),
            self.acc.flow_events,
            if self.acc.flow_ids_capped {
                " (ids counted up to 2^20)"
            } else {
                ""
            }
        );
        println!(
            "  loss               {} packets marked previous_packet_dropped, {} values not \
             recorded by tg4p",
            t.dropped_markers, self.acc.dropped_values
        );
        let findings: usize = t.violation_totals.values().sum();
        println!("  rule findings      {findings} (see `tg4p check`)");
        println!("\ntrack tree:");
        for r in self.roots() {
            self.print_tree(r, 0);
        }
        println!("\nslices by count (top {}):", self.top);
        println!(
            "  {:>10} {:>16} {:>14}  name",
            "count", "total ns", "max ns"
        );
        for (name, s) in self.top_slices() {
            println!(
                "  {:>10} {:>16} {:>14}  {name}",
                s.count, s.total_ns, s.max_ns
            );
        }
        println!("\nslices by total duration (top {}):", self.top);
        for (name, s) in self.top_by_duration() {
            println!(
                "  {:>10} {:>16} {:>14}  {name}",
                s.count, s.total_ns, s.max_ns
            );
        }
        if !self.acc.instants.is_empty() {
            println!("\ninstants by count (top {}):", self.top);
            let mut v: Vec<_> = self.acc.instants.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (name, n) in v.into_iter().take(self.top) {
                println!("  {n:>10}  {name}");
            }
        }
        if !self.acc.counters.is_empty() {
            println!("\ncounters:");
            for (uuid, c) in &self.acc.counters {
                let name = t
                    .tracks
                    .get(uuid)
                    .and_then(|x| x.display_name())
                    .unwrap_or("?");
                println!(
                    "  {name}: {} samples, min {}, max {}, last {}",
                    c.samples, c.min, c.max, c.last
                );
            }
        }
    }

    fn count_kind(&self, f: impl Fn(&TrackKind) -> bool) -> usize {
        self.trace.tracks.values().filter(|t| f(&t.kind)).count()
    }

    fn track_json(&self, t: &Track, depth: usize) -> Value {
        let mut v = json!({
            "uuid": t.uuid,
            "name": t.display_name(),
            "events": self.events_on(t.uuid),
        });
        match &t.kind {
            TrackKind::Process { pid, .. } => {
                v["kind"] = json!("process");
                v["pid"] = json!(pid);
            }
            TrackKind::Thread { pid, tid, .. } => {
                v["kind"] = json!("thread");
                v["pid"] = json!(pid);
                v["tid"] = json!(tid);
            }
            TrackKind::Counter => v["kind"] = json!("counter"),
            TrackKind::Plain => v["kind"] = json!("track"),
        }
        if depth < 32 {
            let children: Vec<Value> = self
                .trace
                .children(t.uuid)
                .into_iter()
                .map(|c| self.track_json(c, depth + 1))
                .collect();
            v["children"] = json!(children);
        }
        v
    }

    fn json(&self, path: &Path) -> Value {
        let t = self.trace;
        let total = t.counts.total();
        let events = total.events();
        let slices = |v: Vec<(&String, &SliceStat)>| -> Vec<Value> {
            v.into_iter()
                .map(|(n, s)| {
                    json!({"name": n, "count": s.count, "total_ns": s.total_ns,
                                     "max_ns": s.max_ns})
                })
                .collect()
        };
        let counters: Vec<Value> = self
            .acc
            .counters
            .iter()
            .map(|(uuid, c)| {
                json!({"uuid": uuid,
                    "name": t.tracks.get(uuid).and_then(|x| x.display_name()),
                    "samples": c.samples, "min": c.min, "max": c.max, "last": c.last})
            })
            .collect();
        let mut instants: Vec<_> = self.acc.instants.iter().collect();
        instants.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let instants: Vec<Value> = instants
            .into_iter()
            .take(self.top)
            .map(|(n, c)| json!({"name": n, "count": c}))
            .collect();
        json!({
            "file": input::shown(path),
            "packets": t.packets,
            "bytes": self.bytes,
            "events": {"total": events, "slice_begin": total.begins, "slice_end": total.ends,
                       "instant": total.instants, "counter": total.counters},
            "bytes_per_event": if events > 0 { json!(self.bytes as f64 / events as f64) }
                               else { Value::Null },
            "time_span_ns": {"first": total.first_ts, "last": total.last_ts},
            "processes": self.count_kind(|k| matches!(k, TrackKind::Process { .. })),
            "threads": self.count_kind(|k| matches!(k, TrackKind::Thread { .. })),
            "track_count": t.tracks.len(),
            "tracks": self.roots().into_iter().map(|r| self.track_json(r, 0))
                          .collect::<Vec<_>>(),
            "slices_by_count": slices(self.top_slices()),
            "slices_by_duration": slices(self.top_by_duration()),
            "instants_by_count": instants,
            "counters": counters,
            "flows": {"ids": self.acc.flow_ids.len(), "events": self.acc.flow_events,
                      "ids_capped": self.acc.flow_ids_capped},
            "loss": {"previous_packet_dropped": t.dropped_markers,
                     "tg4p_values_not_recorded": self.acc.dropped_values},
            "rule_findings": t.violation_totals.values().sum::<usize>(),
        })
    }
}
