//! Slices (begin/end pairs matched per track) and flows (arrows between
//! events), computed the way trace_processor does after sorting by timestamp.

use std::collections::{BTreeMap, HashMap};

use crate::events::{Arg, Event, EventKind, SourceLocation};
use crate::rules::Rule;

/// trace_processor's `SliceTracker::kMaxDepth`.
pub(crate) const MAX_DEPTH: usize = 512;

/// A slice: a SLICE_BEGIN and the SLICE_END that closed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// Track uuid.
    pub track: u64,
    /// Name of the begin event.
    pub name: Option<String>,
    /// Categories of the begin event.
    pub categories: Vec<String>,
    /// Timestamp of the begin event (BOOTTIME ns).
    pub begin_ts: u64,
    /// Timestamp of the end event; `None` if the slice did not end.
    pub end_ts: Option<u64>,
    /// Nesting depth on its track (0 = top level).
    pub depth: u32,
    /// Args of the begin event followed by those of the end event (trace_processor merges them).
    pub args: Vec<(String, Arg)>,
    /// `flow_ids` of the begin and end events.
    pub flows_out: Vec<u64>,
    /// `terminating_flow_ids` of the begin and end events.
    pub flows_terminating: Vec<u64>,
    /// Index in [`crate::DecodedTrace::events`] of the begin event.
    pub begin_event: usize,
    /// Index of the end event.
    pub end_event: Option<usize>,
    /// Source location of the begin event.
    pub source: Option<SourceLocation>,
}

impl Slice {
    /// `end_ts - begin_ts`, if the slice ended.
    pub fn duration(&self) -> Option<u64> {
        self.end_ts.map(|e| e - self.begin_ts)
    }

    /// Looks up an arg by name.
    pub fn arg(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// A flow arrow from one event to the next event carrying the same flow id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowArrow {
    /// The flow id.
    pub id: u64,
    /// Index in [`crate::DecodedTrace::events`] of the earlier event.
    pub from_event: usize,
    /// Index of the later event.
    pub to_event: usize,
}

/// A flow id occurrence that never got connected: the start of a chain that
/// no later event continues, or a termination with no chain to end.
/// trace_processor tolerates it, but it draws no arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DanglingFlow {
    /// The flow id.
    pub id: u64,
    /// Index in [`crate::DecodedTrace::events`] of the event.
    pub event: usize,
}

/// An open slice on a track's stack.
#[derive(Debug, Clone)]
pub(crate) struct Open<T> {
    pub ts: u64,
    pub name: Option<String>,
    /// Categories joined with ",", as trace_processor compares them.
    pub category: String,
    pub packet_index: usize,
    pub payload: T,
}

/// The begin/end matcher of one track; `T` is what a slice remembers about
/// its begin (the event index in full mode, nothing in counting mode).
#[derive(Debug)]
pub(crate) struct TrackStack<T> {
    pub open: Vec<Open<T>>,
    pub max_depth: u32,
    pub unmatched_ends: u64,
}

impl<T> Default for TrackStack<T> {
    fn default() -> Self {
        TrackStack {
            open: Vec::new(),
            max_depth: 0,
            unmatched_ends: 0,
        }
    }
}

/// Result of feeding a SLICE_END.
pub(crate) enum Ended<T> {
    /// Closed this slice.
    Closed(Open<T>),
    /// Nothing was open.
    Unbalanced,
}

impl<T> TrackStack<T> {
    /// Opens a slice; returns its depth, or `None` if too deep (dropped like
    /// trace_processor does).
    pub fn begin(
        &mut self,
        open: Open<T>,
        report: &mut dyn FnMut(Rule, usize, String),
    ) -> Option<u32> {
        if self.open.len() >= MAX_DEPTH {
            report(
                Rule::MaxDepth,
                open.packet_index,
                format!(
                    "slice {:?} would be nested deeper than {MAX_DEPTH}",
                    open.name
                ),
            );
            return None;
        }
        let depth = self.open.len() as u32;
        self.max_depth = self.max_depth.max(depth + 1);
        self.open.push(open);
        Some(depth)
    }

    /// Closes the most recent open slice.
    pub fn end(
        &mut self,
        name: Option<&str>,
        category: &str,
        packet_index: usize,
        report: &mut dyn FnMut(Rule, usize, String),
    ) -> Ended<T> {
        let Some(open) = self.open.pop() else {
            self.unmatched_ends += 1;
            report(
                Rule::UnbalancedEnd,
                packet_index,
                "SLICE_END with no open slice on its track".into(),
            );
            return Ended::Unbalanced;
        };
        // trace_processor only closes a slice whose name and category match
        // those the END carries (if any); otherwise it searches deeper.
        let name_differs = matches!((name, &open.name), (Some(a), Some(b)) if a != b);
        let category_differs = !category.is_empty() && category != open.category;
        if name_differs || category_differs {
            report(
                Rule::EndMismatch,
                packet_index,
                format!(
                    "SLICE_END {name:?} [{category}] closes slice {:?} [{}]",
                    open.name, open.category
                ),
            );
        }
        Ended::Closed(open)
    }

    /// Reports the slices still open.
    pub fn report_open(&self, track: u64, report: &mut dyn FnMut(Rule, usize, String)) {
        for o in &self.open {
            report(
                Rule::DidNotEnd,
                o.packet_index,
                format!(
                    "slice {:?} on track {track} begun at {} did not end",
                    o.name, o.ts
                ),
            );
        }
    }
}

/// Slices of all tracks, plus per-track matcher statistics.
pub(crate) struct SliceResult {
    pub slices: Vec<Slice>,
    /// Per track: (max depth, unmatched ends, open at end).
    pub stats: BTreeMap<u64, (u32, u64, u64)>,
    /// Events that took part in a slice (flows are only imported for those).
    pub in_slice: Vec<bool>,
}

/// Matches begins and ends per track, after ordering each track's events by
/// (timestamp, file order).
pub(crate) fn build_slices(
    events: &[Event],
    report: &mut dyn FnMut(Rule, usize, String),
) -> SliceResult {
    let mut per_track: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if e.is_slice_event() {
            per_track.entry(e.track).or_default().push(i);
        }
    }
    let mut slices = Vec::new();
    let mut stats = BTreeMap::new();
    let mut in_slice = vec![false; events.len()];
    for (track, mut idx) in per_track {
        idx.sort_by_key(|&i| (events[i].ts, i));
        let mut stack: TrackStack<usize> = TrackStack::default();
        for i in idx {
            let e = &events[i];
            match e.kind {
                EventKind::SliceBegin => {
                    let open = Open {
                        ts: e.ts,
                        name: e.name.clone(),
                        category: e.categories.join(","),
                        packet_index: e.packet_index,
                        payload: slices.len(),
                    };
                    if let Some(depth) = stack.begin(open, report) {
                        in_slice[i] = true;
                        slices.push(Slice {
                            track,
                            name: e.name.clone(),
                            categories: e.categories.clone(),
                            begin_ts: e.ts,
                            end_ts: None,
                            depth,
                            args: e.args.clone(),
                            flows_out: e.flows.clone(),
                            flows_terminating: e.terminating_flows.clone(),
                            begin_event: i,
                            end_event: None,
                            source: e.source.clone(),
                        });
                    }
                }
                EventKind::SliceEnd => {
                    let category = e.categories.join(",");
                    if let Ended::Closed(open) =
                        stack.end(e.name.as_deref(), &category, e.packet_index, report)
                    {
                        in_slice[i] = true;
                        let s = &mut slices[open.payload];
                        s.end_ts = Some(e.ts);
                        s.end_event = Some(i);
                        s.args.extend(e.args.iter().cloned());
                        s.flows_out.extend(&e.flows);
                        s.flows_terminating.extend(&e.terminating_flows);
                    }
                }
                EventKind::Instant => in_slice[i] = stack.open.len() < MAX_DEPTH,
                EventKind::Counter(_) => {}
            }
        }
        stack.report_open(track, report);
        stats.insert(
            track,
            (
                stack.max_depth,
                stack.unmatched_ends,
                stack.open.len() as u64,
            ),
        );
    }
    SliceResult {
        slices,
        stats,
        in_slice,
    }
}

/// Links events that share a flow id, in (timestamp, file order) order, like
/// trace_processor's FlowTracker: `flow_ids` start or continue a chain,
/// `terminating_flow_ids` continue and end it (and are ignored with no chain).
pub(crate) fn build_flows(
    events: &[Event],
    in_slice: &[bool],
) -> (Vec<FlowArrow>, Vec<DanglingFlow>) {
    let mut order: Vec<usize> = (0..events.len())
        .filter(|&i| {
            in_slice[i] && !(events[i].flows.is_empty() && events[i].terminating_flows.is_empty())
        })
        .collect();
    order.sort_by_key(|&i| (events[i].ts, i));
    // Active chains: id -> (last event, whether the chain has an arrow yet).
    let mut active: HashMap<u64, (usize, bool)> = HashMap::new();
    let mut arrows = Vec::new();
    let mut dangling = Vec::new();
    for i in order {
        for &id in &events[i].flows {
            match active.get_mut(&id) {
                Some((last, linked)) => {
                    arrows.push(FlowArrow {
                        id,
                        from_event: *last,
                        to_event: i,
                    });
                    *last = i;
                    *linked = true;
                }
                None => {
                    active.insert(id, (i, false));
                }
            }
        }
        for &id in &events[i].terminating_flows {
            match active.remove(&id) {
                Some((last, _)) => arrows.push(FlowArrow {
                    id,
                    from_event: last,
                    to_event: i,
                }),
                None => dangling.push(DanglingFlow { id, event: i }),
            }
        }
    }
    for (id, (last, linked)) in active {
        if !linked {
            dangling.push(DanglingFlow { id, event: last });
        }
    }
    dangling.sort_by_key(|d| (d.event, d.id));
    (arrows, dangling)
}
