//! Clock domains and their conversion to BOOTTIME, modelled on
//! trace_processor's `ClockSynchronizer`.
//!
//! Each ClockSnapshot adds one sample per clock it lists and an edge between
//! every pair of its clocks. A timestamp is converted along the shortest path
//! of edges to BOOTTIME; at each hop the closest snapshot at or before the
//! value (or the first one) gives the offset. Sequence-scoped clocks (64-127)
//! are keyed by sequence. An incremental clock's values are deltas, in units
//! of `unit_multiplier_ns`, added to the last value (reset by each snapshot).
//!
//! One deliberate difference: trace_processor defers packets whose clock is
//! not yet related to BOOTTIME until the end of the file; the oracle requires
//! the snapshot to come first, as tg4p always writes it first.

use std::collections::{HashMap, HashSet, VecDeque};

/// Clock id of BOOTTIME, the trace clock.
pub(crate) const BOOTTIME: u32 = 6;

/// Whether `id` is a sequence-scoped clock id.
pub(crate) fn is_sequence_clock(id: u32) -> bool {
    (64..128).contains(&id)
}

/// A clock domain: global clocks have `seq == 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ClockKey {
    pub seq: u32,
    pub id: u32,
}

impl ClockKey {
    /// The domain of clock `id` as seen from sequence `seq`.
    pub fn new(id: u32, seq: u32) -> Self {
        ClockKey {
            seq: if is_sequence_clock(id) { seq } else { 0 },
            id,
        }
    }

    const BOOTTIME: ClockKey = ClockKey {
        seq: 0,
        id: BOOTTIME,
    };
}

impl std::fmt::Display for ClockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.seq == 0 {
            write!(f, "clock {}", self.id)
        } else {
            write!(f, "clock {} of sequence {}", self.id, self.seq)
        }
    }
}

/// One clock of a snapshot, already validated for sequence scoping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SnapshotClock {
    pub key: ClockKey,
    pub timestamp: u64,
    pub unit_ns: i64,
    pub incremental: bool,
}

/// Samples of one clock in snapshots that contain the same set of clocks.
#[derive(Debug, Default)]
struct Series {
    snapshot_ids: Vec<u32>,
    ts_ns: Vec<i64>,
}

#[derive(Debug)]
struct Domain {
    unit_ns: i64,
    incremental: bool,
    /// Last absolute value (ns) of an incremental clock.
    last_ns: i64,
    /// Samples by snapshot kind (the set of clocks in the snapshot).
    series: HashMap<u32, Series>,
}

/// An edge: `from` can be converted to `to` through snapshots of `kind`.
type Edge = (ClockKey, ClockKey, u32);

/// All clock domains of a trace.
#[derive(Debug, Default)]
pub(crate) struct Clocks {
    domains: HashMap<ClockKey, Domain>,
    kinds: HashMap<Vec<ClockKey>, u32>,
    edges: HashMap<ClockKey, Vec<(ClockKey, u32)>>,
    edge_set: HashSet<Edge>,
    non_monotonic: HashSet<ClockKey>,
    next_snapshot: u32,
    /// Path cache, invalidated by every snapshot.
    paths: HashMap<ClockKey, Option<Vec<Edge>>>,
}

impl Clocks {
    /// Whether `key` was declared incremental by a snapshot.
    pub fn is_incremental(&self, key: ClockKey) -> bool {
        self.domains.get(&key).is_some_and(|d| d.incremental)
    }

    /// Adds a snapshot, or explains why trace_processor would reject it.
    pub fn add_snapshot(&mut self, clocks: &[SnapshotClock]) -> Result<(), String> {
        // Validate everything first so that a rejected snapshot changes nothing.
        for (i, c) in clocks.iter().enumerate() {
            if clocks[..i].iter().any(|o| o.key == c.key) {
                return Err(format!("{} appears twice in one snapshot", c.key));
            }
            match self.domains.get(&c.key) {
                Some(d) if d.unit_ns != c.unit_ns || d.incremental != c.incremental => {
                    return Err(format!(
                        "{} was registered with unit {} ns, incremental={}; now unit {} ns, \
                         incremental={}",
                        c.key, d.unit_ns, d.incremental, c.unit_ns, c.incremental
                    ));
                }
                Some(_) => {}
                None if c.incremental && c.key.seq == 0 => {
                    return Err(format!(
                        "{} is global and cannot be incremental (only clocks 64-127 can)",
                        c.key
                    ));
                }
                None => {}
            }
            if c.key == ClockKey::BOOTTIME && c.unit_ns != 1 {
                return Err("BOOTTIME (the trace clock) must use a unit of 1 ns".into());
            }
            if c.key == ClockKey::BOOTTIME && c.incremental {
                return Err("BOOTTIME cannot be incremental".into());
            }
            if ts_ns(c).is_none() {
                return Err(format!("{} value overflows when converted to ns", c.key));
            }
        }
        let mut set: Vec<ClockKey> = clocks.iter().map(|c| c.key).collect();
        set.sort();
        let next_kind = self.kinds.len() as u32;
        let kind = *self.kinds.entry(set).or_insert(next_kind);
        if let Some(series) = self
            .domains
            .get(&ClockKey::BOOTTIME)
            .and_then(|d| d.series.get(&kind))
        {
            let new = clocks.iter().find(|c| c.key == ClockKey::BOOTTIME);
            if let (Some(new), Some(&last)) = (new, series.ts_ns.last()) {
                let new = ts_ns(new).unwrap_or(i64::MAX);
                if new < last {
                    return Err(format!("BOOTTIME goes back from {last} to {new}"));
                }
            }
        }

        let id = self.next_snapshot;
        self.next_snapshot += 1;
        self.paths.clear();
        for c in clocks {
            let ts = ts_ns(c).unwrap_or_default();
            let domain = self.domains.entry(c.key).or_insert_with(|| Domain {
                unit_ns: c.unit_ns,
                incremental: c.incremental,
                last_ns: 0,
                series: HashMap::new(),
            });
            domain.last_ns = ts;
            let series = domain.series.entry(kind).or_default();
            if series.ts_ns.last().is_some_and(|&last| ts < last) {
                // Like trace_processor: a clock that goes back can still be a
                // conversion target but no longer a source.
                self.non_monotonic.insert(c.key);
                self.edges.remove(&c.key);
                self.edge_set.retain(|e| e.0 != c.key);
            }
            series.snapshot_ids.push(id);
            series.ts_ns.push(ts);
        }
        for a in clocks {
            for b in clocks {
                if a.key != b.key && !self.non_monotonic.contains(&a.key) {
                    let edge = (a.key, b.key, kind);
                    if self.edge_set.insert(edge) {
                        self.edges.entry(a.key).or_default().push((b.key, kind));
                    }
                }
            }
        }
        Ok(())
    }

    /// Converts a raw timestamp of clock `key` to BOOTTIME ns. For an
    /// incremental clock, `raw` is a delta and advances the clock.
    pub fn convert_to_boottime(&mut self, key: ClockKey, raw: u64) -> Result<i64, String> {
        if key == ClockKey::BOOTTIME {
            return Ok(raw as i64); // unit is always 1 ns; a huge value becomes negative
        }
        if !self.domains.contains_key(&key) {
            return Err(format!(
                "{key} is not declared by any earlier ClockSnapshot"
            ));
        }
        // Disjoint field borrows: the cached path stays borrowed while the
        // domains are updated.
        let edges = &self.edges;
        let path = self
            .paths
            .entry(key)
            .or_insert_with(|| find_path(edges, key));
        let Some(path) = path else {
            return Err(format!(
                "no earlier ClockSnapshot relates {key} to BOOTTIME"
            ));
        };
        let domain = self.domains.get_mut(&key).expect("checked above");
        let delta = (raw as i64)
            .checked_mul(domain.unit_ns)
            .ok_or_else(|| format!("{key} value {raw} overflows when converted to ns"))?;
        let mut ns = if domain.incremental {
            domain.last_ns = domain
                .last_ns
                .checked_add(delta)
                .ok_or_else(|| format!("{key} overflows after adding delta {raw}"))?;
            domain.last_ns
        } else {
            delta
        };
        for &(from, to, kind) in path.iter() {
            let src = &self.domains[&from].series[&kind];
            // Closest snapshot at or before `ns`, else the first one.
            let idx = src.ts_ns.partition_point(|&t| t <= ns).saturating_sub(1);
            let snapshot = src.snapshot_ids[idx];
            let dst = &self.domains[&to].series[&kind];
            let pos = dst
                .snapshot_ids
                .binary_search(&snapshot)
                .map_err(|_| format!("internal: snapshot {snapshot} missing for {to}"))?;
            ns = ns
                .checked_sub(src.ts_ns[idx])
                .and_then(|v| v.checked_add(dst.ts_ns[pos]))
                .ok_or_else(|| format!("{key} value {raw} overflows on conversion"))?;
        }
        Ok(ns)
    }
}

/// Breadth-first search for the shortest chain of snapshots to BOOTTIME.
fn find_path(edges: &HashMap<ClockKey, Vec<(ClockKey, u32)>>, from: ClockKey) -> Option<Vec<Edge>> {
    let mut prev: HashMap<ClockKey, Edge> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    let mut visited = HashSet::from([from]);
    while let Some(cur) = queue.pop_front() {
        if cur == ClockKey::BOOTTIME {
            let mut path = Vec::new();
            let mut at = cur;
            while at != from {
                let edge = prev[&at];
                path.push(edge);
                at = edge.0;
            }
            path.reverse();
            return Some(path);
        }
        for &(next, kind) in edges.get(&cur).into_iter().flatten() {
            if visited.insert(next) {
                prev.insert(next, (cur, next, kind));
                queue.push_back(next);
            }
        }
    }
    None
}

fn ts_ns(c: &SnapshotClock) -> Option<i64> {
    (c.timestamp as i64).checked_mul(c.unit_ns)
}
