//! The decoded trace and its query helpers.

use std::collections::BTreeMap;

use crate::events::Event;
use crate::rules::{Rule, Violation};
use crate::slices::{DanglingFlow, FlowArrow, Slice};
use crate::stats::LossStats;
use crate::tracks::{Track, TrackKind};

/// Event statistics of one track. Kept in both model modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackCounts {
    /// SLICE_BEGIN events.
    pub begins: u64,
    /// SLICE_END events.
    pub ends: u64,
    /// INSTANT events.
    pub instants: u64,
    /// COUNTER samples.
    pub counters: u64,
    /// Deepest nesting reached (1 = only top-level slices).
    pub max_depth: u32,
    /// SLICE_ENDs that found no open slice.
    pub unmatched_ends: u64,
    /// Slices still open at the end of the trace.
    pub open_at_end: u64,
    /// Events whose timestamp is lower than the previous event's on the same
    /// track in file order. trace_processor sorts, so this is not an error;
    /// but in counting mode slices are matched in file order, which is only
    /// exact when this is 0.
    pub out_of_order: u64,
    /// Timestamp of the earliest event.
    pub first_ts: Option<u64>,
    /// Timestamp of the latest event.
    pub last_ts: Option<u64>,
    /// Packet index of the first event (for reporting).
    pub first_packet: usize,
}

impl TrackCounts {
    /// All events: begins + ends + instants + counters.
    pub fn events(&self) -> u64 {
        self.begins + self.ends + self.instants + self.counters
    }
}

/// Per-track counts, by track uuid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Counts of each track that has events.
    pub tracks: BTreeMap<u64, TrackCounts>,
}

impl Counts {
    /// Counts of one track (all zero if it has no events).
    pub fn track(&self, uuid: u64) -> TrackCounts {
        self.tracks.get(&uuid).copied().unwrap_or_default()
    }

    /// Sums over all tracks (depth is the maximum; timestamps the extremes).
    pub fn total(&self) -> TrackCounts {
        let mut t = TrackCounts::default();
        for c in self.tracks.values() {
            t.begins += c.begins;
            t.ends += c.ends;
            t.instants += c.instants;
            t.counters += c.counters;
            t.max_depth = t.max_depth.max(c.max_depth);
            t.unmatched_ends += c.unmatched_ends;
            t.open_at_end += c.open_at_end;
            t.out_of_order += c.out_of_order;
            t.first_ts = min_opt(t.first_ts, c.first_ts);
            t.last_ts = t.last_ts.max(c.last_ts);
        }
        t
    }
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Everything the oracle learned from a trace.
#[derive(Debug, Clone)]
pub struct DecodedTrace {
    /// Number of packets (non-empty `Trace.packet` fields, corrupt ones included).
    pub packets: usize,
    /// Described tracks, by uuid.
    pub tracks: BTreeMap<u64, Track>,
    /// Imported TrackEvents in file order (empty in counting mode).
    pub events: Vec<Event>,
    /// Broken rules (at most 1000 per rule; see `violation_totals`). Empty for
    /// a correct trace.
    pub violations: Vec<Violation>,
    /// Number of violations of each rule, including those not kept.
    pub violation_totals: BTreeMap<Rule, usize>,
    /// Packets with `previous_packet_dropped = true`.
    pub dropped_markers: usize,
    /// The data-loss stats trace_processor imports from the trace's
    /// `trace_stats` and loss markers.
    pub loss: LossStats,
    /// Per-track event counts (kept in both modes).
    pub counts: Counts,
    /// Byte offset of the trailing partial packet, if the file was cut.
    pub truncated_at: Option<u64>,
    /// Whether events were kept (false in counting mode).
    pub keeps_events: bool,
    pub(crate) slices: Vec<Slice>,
    pub(crate) flows: Vec<FlowArrow>,
    pub(crate) dangling: Vec<DanglingFlow>,
}

impl DecodedTrace {
    /// Slices (begin/end pairs; instants are not included), grouped by track
    /// in uuid order, and by begin order within a track. Empty in counting mode.
    pub fn slices(&self) -> Vec<Slice> {
        self.slices.clone()
    }

    /// Slices on one track.
    pub fn slices_on(&self, uuid: u64) -> Vec<&Slice> {
        self.slices.iter().filter(|s| s.track == uuid).collect()
    }

    /// Slices with a given name, on any track.
    pub fn slices_named(&self, name: &str) -> Vec<&Slice> {
        self.slices
            .iter()
            .filter(|s| s.name.as_deref() == Some(name))
            .collect()
    }

    /// Flow arrows between events, in the order trace_processor creates them.
    /// Empty in counting mode.
    pub fn flows(&self) -> Vec<FlowArrow> {
        self.flows.clone()
    }

    /// Flow id occurrences that never got connected (not a violation).
    pub fn dangling_flows(&self) -> Vec<DanglingFlow> {
        self.dangling.clone()
    }

    /// Tracks whose display name (track name, else process/thread name) is `name`.
    pub fn track_by_name(&self, name: &str) -> Vec<&Track> {
        self.tracks
            .values()
            .filter(|t| t.display_name() == Some(name))
            .collect()
    }

    /// Tracks whose parent is `uuid`.
    pub fn children(&self, uuid: u64) -> Vec<&Track> {
        self.tracks
            .values()
            .filter(|t| t.parent == Some(uuid))
            .collect()
    }

    /// The thread track of `tid`, if described.
    pub fn thread_track(&self, tid: i32) -> Option<&Track> {
        self.tracks
            .values()
            .find(|t| matches!(t.kind, TrackKind::Thread { tid: t2, .. } if t2 == tid))
    }

    /// The process track of `pid`, if described.
    pub fn process_track(&self, pid: i32) -> Option<&Track> {
        self.tracks
            .values()
            .find(|t| matches!(t.kind, TrackKind::Process { pid: p, .. } if p == pid))
    }

    /// Events on one track, in file order.
    pub fn events_on(&self, uuid: u64) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(move |e| e.track == uuid)
    }

    /// Events with a given name, in file order.
    pub fn events_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Event> {
        self.events
            .iter()
            .filter(move |e| e.name.as_deref() == Some(name))
    }

    /// Sibling tracks (same parent) with the same name, which the UI merges
    /// into one row unless told otherwise: `(parent, name, uuids)`.
    pub fn merged_siblings(&self) -> Vec<(Option<u64>, String, Vec<u64>)> {
        let mut groups: BTreeMap<(Option<u64>, String), Vec<u64>> = BTreeMap::new();
        for t in self.tracks.values() {
            if let (Some(name), TrackKind::Plain | TrackKind::Counter) = (&t.name, &t.kind) {
                groups
                    .entry((t.parent, name.clone()))
                    .or_default()
                    .push(t.uuid);
            }
        }
        groups
            .into_iter()
            .filter(|(_, uuids)| uuids.len() > 1)
            .map(|((parent, name), uuids)| (parent, name, uuids))
            .collect()
    }

    /// Violations of one rule.
    pub fn violations_of(&self, rule: Rule) -> Vec<&Violation> {
        self.violations.iter().filter(|v| v.rule == rule).collect()
    }

    /// Whether some violation of `rule` was found.
    pub fn has_violation(&self, rule: Rule) -> bool {
        self.violation_totals.get(&rule).is_some_and(|&n| n > 0)
    }

    /// Panics listing every violation, if there is any.
    pub fn assert_valid(&self) {
        self.assert_valid_except(&[]);
    }

    /// Panics listing every violation of a rule not in `allowed` (e.g.
    /// `&[Rule::Truncated, Rule::DidNotEnd]` for a trace cut by a crash).
    pub fn assert_valid_except(&self, allowed: &[Rule]) {
        let bad: Vec<&Violation> = self
            .violations
            .iter()
            .filter(|v| !allowed.contains(&v.rule))
            .collect();
        if bad.is_empty() {
            return;
        }
        let mut msg = format!("trace breaks {} rule(s):\n", bad.len());
        for v in &bad {
            msg.push_str(&format!("  {v}\n"));
        }
        for (rule, &n) in &self.violation_totals {
            let kept = self.violations.iter().filter(|v| v.rule == *rule).count();
            if n > kept && !allowed.contains(rule) {
                msg.push_str(&format!("  ... and {} more {rule} violations\n", n - kept));
            }
        }
        panic!("{msg}");
    }
}
