//! `tg4p merge OUT IN..`: several traces into one, packet by packet.
//!
//! Two passes over each input, both streaming. The first collects the ids the
//! input uses and its wall-clock anchor; the second rewrites and writes.
//!
//! What is rewritten (Perfetto field numbers in brackets):
//! - `TracePacket.trusted_packet_sequence_id` [10]: interned data, defaults and
//!   incremental clocks are scoped by it, so a sequence id used by an earlier input
//!   gets a fresh number;
//! - track uuids: `TrackDescriptor.uuid` [1] / `parent_uuid` [5],
//!   `TrackEvent.track_uuid` [11], `extra_(double_)counter_track_uuids` [31, 45], the
//!   same in `TrackEventDefaults` [11, 31, 45]; flow ids: `TrackEvent.flow_ids` [47],
//!   `terminating_flow_ids` [48] and their old forms [36, 42]. An id already used by
//!   an earlier input gets a fresh value; others are kept;
//! - machines (default): `TracePacket.machine_id` [98] tags every packet of input
//!   N ≥ 1 with its own machine (ids an input already carries are renumbered per
//!   input), so trace_processor keeps each input's processes, threads and clocks
//!   apart. Input 0 stays the host;
//! - clocks: each input is shifted so that its `ClockSnapshot` [6] REALTIME (1) to
//!   BOOTTIME (6) relation matches input 0's: BOOTTIME readings in snapshots and
//!   packet timestamps in BOOTTIME (explicit, default, or per-sequence
//!   `TracePacketDefaults.timestamp_clock_id` [58]) move by the same amount, so
//!   sequence-scoped and other clocks follow through the snapshots. `--offset`
//!   adds to that shift (and moves REALTIME readings by the same amount, so a
//!   trace_processor that aligns machines by REALTIME agrees). No input moves
//!   back in time: if one would, all move forward by as much;
//! - `--same-machine`: no machine ids and no alignment; a pid or tid number used by
//!   an earlier input (`ProcessDescriptor.pid`, `ThreadDescriptor.pid/tid`) is
//!   renumbered above Linux's pid_max, so two inputs' processes stay apart.
//!
//! Packets that need no change are copied byte for byte.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use protobuf::Message;
use tg4p_oracle::perfetto_protos::clock_snapshot::ClockSnapshot;
use tg4p_oracle::perfetto_protos::trace_packet::TracePacket;
use tg4p_oracle::perfetto_protos::trace_packet::trace_packet::Data;
use tg4p_oracle::{OracleError, PacketReader};

use crate::error::CliError;
use crate::input;

const REALTIME: u32 = 1;
const BOOTTIME: u32 = 6;
const SEQ_INCREMENTAL_STATE_CLEARED: u32 = 1;
/// Renumbered pids start above Linux's largest pid_max (2^22).
const FIRST_SYNTHETIC_PID: i32 = 1 << 22;

/// What to do with an input that has no REALTIME snapshot when merging machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoRealtime {
    /// Refuse, naming the input.
    Fail,
    /// Take its BOOTTIME as the reference's (plus any `--offset`).
    Zero,
}

/// How to merge.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// One machine: no machine ids, no alignment, clashing pids renumbered.
    pub same_machine: bool,
    /// Extra shift per input index, ns.
    pub offsets: Vec<(usize, i64)>,
    /// Inputs without a REALTIME snapshot.
    pub no_realtime: NoRealtime,
}

/// Parses `INDEX=NS` for `--offset`.
pub fn parse_offset(s: &str) -> Result<(usize, i64), String> {
    let (i, ns) = s
        .split_once('=')
        .ok_or_else(|| format!("expected INDEX=NS, got {s:?}"))?;
    let i = i
        .trim()
        .parse()
        .map_err(|_| format!("input index {i:?} is not a number"))?;
    let ns = ns
        .trim()
        .parse()
        .map_err(|_| format!("offset {ns:?} is not a whole number of nanoseconds"))?;
    Ok((i, ns))
}

/// What the first pass learns about one input.
#[derive(Default)]
struct Scan {
    packets: u64,
    sequences: HashSet<u32>,
    uuids: HashSet<u64>,
    flows: HashSet<u64>,
    /// Numbers used as pid or tid.
    pids: HashSet<i32>,
    machines: HashSet<u32>,
    /// REALTIME − BOOTTIME (ns) from the first snapshot holding both.
    realtime_offset: Option<i64>,
}

/// `trusted_packet_sequence_id`, if set and not 0 (0 is no sequence).
fn sequence_id(pkt: &TracePacket) -> Option<u32> {
    pkt.has_trusted_packet_sequence_id()
        .then(|| pkt.trusted_packet_sequence_id())
        .filter(|&q| q != 0)
}

fn each_uuid(pkt: &TracePacket, f: &mut dyn FnMut(u64)) {
    if let Some(d) = pkt
        .trace_packet_defaults
        .as_ref()
        .and_then(|d| d.track_event_defaults.as_ref())
    {
        d.track_uuid.into_iter().for_each(&mut *f);
        d.extra_counter_track_uuids
            .iter()
            .copied()
            .for_each(&mut *f);
        d.extra_double_counter_track_uuids
            .iter()
            .copied()
            .for_each(&mut *f);
    }
    match &pkt.data {
        Some(Data::TrackDescriptor(td)) => {
            td.uuid.into_iter().for_each(&mut *f);
            td.parent_uuid.into_iter().for_each(&mut *f);
        }
        Some(Data::TrackEvent(te)) => {
            te.track_uuid.into_iter().for_each(&mut *f);
            te.extra_counter_track_uuids
                .iter()
                .copied()
                .for_each(&mut *f);
            te.extra_double_counter_track_uuids
                .iter()
                .copied()
                .for_each(&mut *f);
        }
        _ => {}
    }
}

fn snapshot_offset(cs: &ClockSnapshot) -> Option<i64> {
    let ns = |id: u32| {
        cs.clocks.iter().find(|c| c.clock_id() == id).and_then(|c| {
            let unit = i64::try_from(c.unit_multiplier_ns().max(1)).ok()?;
            i64::try_from(c.timestamp()).ok()?.checked_mul(unit)
        })
    };
    ns(REALTIME)?.checked_sub(ns(BOOTTIME)?)
}

fn scan(index: usize, path: &Path) -> Result<Scan, CliError> {
    let (reader, _) = input::open_tracked(path, &format!("scanning input {index}"))?;
    let mut s = Scan::default();
    let mut packets = PacketReader::new(reader);
    let mut first_error = None;
    while let Some(item) = packets.next_raw() {
        let raw = match item {
            Ok(raw) => raw,
            Err(OracleError::Io(e)) => return Err(CliError::io(path, e)),
            Err(e) => {
                first_error.get_or_insert(e.to_string());
                continue;
            }
        };
        let Ok(pkt) = TracePacket::parse_from_bytes(&raw.bytes) else {
            first_error.get_or_insert(format!("corrupt packet at byte {}", raw.offset));
            continue;
        };
        s.packets += 1;
        if let Some(q) = sequence_id(&pkt) {
            s.sequences.insert(q);
        }
        if let Some(m) = pkt.machine_id.filter(|&m| m != 0) {
            s.machines.insert(m);
        }
        each_uuid(&pkt, &mut |u| {
            s.uuids.insert(u);
        });
        match &pkt.data {
            Some(Data::TrackEvent(te)) => {
                for &id in te
                    .flow_ids
                    .iter()
                    .chain(&te.terminating_flow_ids)
                    .chain(&te.flow_ids_old)
                    .chain(&te.terminating_flow_ids_old)
                {
                    s.flows.insert(id);
                }
            }
            Some(Data::TrackDescriptor(td)) => {
                if let Some(pid) = td.process.as_ref().and_then(|p| p.pid) {
                    s.pids.insert(pid);
                }
                if let Some(t) = td.thread.as_ref() {
                    s.pids.extend(t.pid);
                    s.pids.extend(t.tid);
                }
            }
            Some(Data::ClockSnapshot(cs)) if s.realtime_offset.is_none() => {
                s.realtime_offset = snapshot_offset(cs);
            }
            _ => {}
        }
    }
    if s.packets == 0 {
        return Err(CliError::NotATrace {
            path: path.to_path_buf(),
            reason: first_error.unwrap_or_else(|| "the file is empty".into()),
        });
    }
    Ok(s)
}

/// Per-input renumbering of one kind of id: an id an earlier input used gets a
/// fresh one that no input uses.
struct Renumber<T> {
    /// Every id of every input, plus every fresh one handed out.
    taken: HashSet<T>,
    /// Ids of the inputs already planned.
    earlier: HashSet<T>,
}

impl<T: Copy + Eq + Hash> Renumber<T> {
    fn new<'a>(all: impl Iterator<Item = &'a HashSet<T>>) -> Self
    where
        T: 'a,
    {
        let mut taken = HashSet::new();
        for s in all {
            taken.extend(s.iter().copied());
        }
        Renumber {
            taken,
            earlier: HashSet::new(),
        }
    }

    fn plan(&mut self, ids: &HashSet<T>, mut fresh: impl FnMut(&HashSet<T>) -> T) -> HashMap<T, T> {
        let mut map = HashMap::new();
        for &id in ids {
            if self.earlier.contains(&id) {
                let new = fresh(&self.taken);
                self.taken.insert(new);
                map.insert(id, new);
            }
        }
        self.earlier.extend(ids.iter().copied());
        self.earlier.extend(map.values().copied());
        map
    }
}

/// splitmix64: spreads a counter over 64 bits (fresh uuids and flow ids).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// How one input is rewritten.
#[derive(Default)]
struct Plan {
    sequences: HashMap<u32, u32>,
    uuids: HashMap<u64, u64>,
    flows: HashMap<u64, u64>,
    pids: HashMap<i32, i32>,
    /// Machine id for packets without one (None: host).
    machine: Option<u32>,
    /// Machine ids the input carries, renumbered.
    machines: HashMap<u32, u32>,
    /// Added to BOOTTIME readings, ns.
    shift: i64,
    /// Added to REALTIME readings (the user's `--offset`), ns.
    realtime_shift: i64,
    /// Where the shift came from, for the summary.
    shift_source: &'static str,
}

fn plan(paths: &[PathBuf], scans: &[Scan], opts: &MergeOptions) -> Result<Vec<Plan>, CliError> {
    for &(i, _) in &opts.offsets {
        if i >= paths.len() {
            return Err(CliError::Usage(format!(
                "--offset {i}=..: there are only {} inputs (numbered from 0)",
                paths.len()
            )));
        }
    }
    let user_offset = |i: usize| {
        opts.offsets
            .iter()
            .filter(|(j, _)| *j == i)
            .map(|(_, ns)| *ns)
            .sum::<i64>()
    };
    let has_offset = |i: usize| opts.offsets.iter().any(|(j, _)| *j == i);

    let mut seqs = Renumber::new(scans.iter().map(|s| &s.sequences));
    let mut uuids = Renumber::new(scans.iter().map(|s| &s.uuids));
    let mut flows = Renumber::new(scans.iter().map(|s| &s.flows));
    let mut pids = Renumber::new(scans.iter().map(|s| &s.pids));
    let mut machines = Renumber::new(scans.iter().map(|s| &s.machines));
    let mut counter = 0u64;
    let mut next_u64 = |taken: &HashSet<u64>| loop {
        counter += 1;
        let v = splitmix(counter);
        if v != 0 && !taken.contains(&v) {
            return v;
        }
    };
    let first_free_u32 = |taken: &HashSet<u32>| (1..=u32::MAX).find(|v| !taken.contains(v));

    let mut plans = Vec::with_capacity(scans.len());
    for (i, s) in scans.iter().enumerate() {
        let mut p = Plan {
            sequences: seqs.plan(&s.sequences, |t| first_free_u32(t).unwrap_or(u32::MAX)),
            uuids: uuids.plan(&s.uuids, &mut next_u64),
            flows: flows.plan(&s.flows, &mut next_u64),
            ..Plan::default()
        };
        let user = user_offset(i);
        if opts.same_machine {
            p.pids = pids.plan(&s.pids, |t| {
                (FIRST_SYNTHETIC_PID..=i32::MAX)
                    .find(|v| !t.contains(v))
                    .unwrap_or(i32::MAX)
            });
            p.shift = user;
            p.shift_source = if has_offset(i) { "--offset" } else { "none" };
        } else {
            if i == 0 {
                // The host keeps its own machine ids (usually none).
                machines.plan(&s.machines, |_| 0);
            } else {
                let own = first_free_u32(&machines.taken).unwrap_or(u32::MAX);
                machines.taken.insert(own);
                p.machine = Some(own);
                p.machines = s
                    .machines
                    .iter()
                    .map(|&m| {
                        let new = first_free_u32(&machines.taken).unwrap_or(u32::MAX);
                        machines.taken.insert(new);
                        (m, new)
                    })
                    .collect();
            }
            let aligned = match (scans[0].realtime_offset, s.realtime_offset) {
                (Some(r0), Some(ri)) => Some(ri - r0),
                _ => None,
            };
            match aligned {
                Some(a) => {
                    p.shift = a + user;
                    p.realtime_shift = user;
                    p.shift_source = "REALTIME snapshot";
                }
                None if i == 0 || has_offset(i) || opts.no_realtime == NoRealtime::Zero => {
                    p.shift = user;
                    p.realtime_shift = user;
                    p.shift_source = if has_offset(i) { "--offset" } else { "none" };
                }
                None => {
                    let which = if scans[0].realtime_offset.is_none() {
                        format!("input 0 ({})", paths[0].display())
                    } else {
                        format!("input {i} ({})", paths[i].display())
                    };
                    return Err(CliError::Usage(format!(
                        "{which} has no ClockSnapshot relating REALTIME to BOOTTIME, so input \
                         {i} cannot be placed on input 0's timeline by wall clock. Give its \
                         offset (--offset {i}=NS), take BOOTTIMEs as equal (--no-realtime zero), \
                         or treat the inputs as one machine (--same-machine)"
                    )));
                }
            }
        }
        plans.push(p);
    }
    // Perfetto's clock readings are unsigned and tg4p's generator anchors its
    // clocks at BOOTTIME 0, so no input may move back: when some shift is
    // negative, every input moves forward by as much (REALTIME readings too, so
    // wall-clock alignment is unchanged).
    let lift = plans.iter().map(|p| p.shift).min().unwrap_or(0).min(0);
    for p in &mut plans {
        p.shift = p.shift.checked_sub(lift).ok_or_else(|| {
            CliError::Usage("the inputs' clocks are too far apart to share one timeline".into())
        })?;
        p.realtime_shift -= lift;
    }
    Ok(plans)
}

/// Rewrites one packet; returns whether anything changed.
struct Rewriter<'a> {
    plan: &'a Plan,
    /// Per-sequence default clock (from TracePacketDefaults), by the input's ids.
    default_clock: HashMap<u32, Option<u32>>,
}

fn remap<T: Copy + Eq + Hash>(map: &HashMap<T, T>, v: &mut T) -> bool {
    match map.get(v) {
        Some(&n) => {
            *v = n;
            true
        }
        None => false,
    }
}

fn remap_opt<T: Copy + Eq + Hash>(map: &HashMap<T, T>, v: &mut Option<T>) -> bool {
    v.as_mut().is_some_and(|x| remap(map, x))
}

fn remap_all<T: Copy + Eq + Hash>(map: &HashMap<T, T>, v: &mut [T]) -> bool {
    v.iter_mut().fold(false, |acc, x| remap(map, x) | acc)
}

fn shifted(value: u64, by: i64) -> Option<u64> {
    i64::try_from(value)
        .ok()?
        .checked_add(by)
        .filter(|&v| v >= 0)
        .map(|v| v as u64)
}

impl Rewriter<'_> {
    fn rewrite(&mut self, pkt: &mut TracePacket) -> Result<bool, String> {
        let p = self.plan;
        let mut changed = false;
        let seq = sequence_id(pkt);

        // Which clock this packet's timestamp is in (before any rewriting).
        if let Some(q) = seq {
            let cleared = pkt.incremental_state_cleared()
                || pkt.sequence_flags() & SEQ_INCREMENTAL_STATE_CLEARED != 0;
            if cleared {
                self.default_clock.insert(q, None);
            }
            if let Some(d) = pkt.trace_packet_defaults.as_ref() {
                self.default_clock
                    .insert(q, d.timestamp_clock_id.filter(|&c| c != 0));
            }
        }
        let clock = pkt
            .timestamp_clock_id
            .filter(|&c| c != 0)
            .or_else(|| seq.and_then(|q| self.default_clock.get(&q).copied().flatten()))
            .unwrap_or(BOOTTIME);
        if p.shift != 0
            && clock == BOOTTIME
            && let Some(ts) = pkt.timestamp
        {
            pkt.timestamp = Some(shifted(ts, p.shift).ok_or_else(|| {
                format!(
                    "shifting timestamp {ts} by {} ns leaves the valid range",
                    p.shift
                )
            })?);
            changed = true;
        }

        if let Some(&n) = seq.and_then(|q| p.sequences.get(&q)) {
            pkt.set_trusted_packet_sequence_id(n);
            changed = true;
        }
        match pkt.machine_id.filter(|&m| m != 0) {
            Some(m) => {
                if let Some(&n) = p.machines.get(&m) {
                    pkt.machine_id = Some(n);
                    changed = true;
                }
            }
            None => {
                if let Some(m) = p.machine {
                    pkt.machine_id = Some(m);
                    changed = true;
                }
            }
        }
        if let Some(d) = pkt
            .trace_packet_defaults
            .as_mut()
            .and_then(|d| d.track_event_defaults.as_mut())
        {
            changed |= remap_opt(&p.uuids, &mut d.track_uuid);
            changed |= remap_all(&p.uuids, &mut d.extra_counter_track_uuids);
            changed |= remap_all(&p.uuids, &mut d.extra_double_counter_track_uuids);
        }
        match pkt.data.as_mut() {
            Some(Data::TrackDescriptor(td)) => {
                changed |= remap_opt(&p.uuids, &mut td.uuid);
                changed |= remap_opt(&p.uuids, &mut td.parent_uuid);
                if let Some(pr) = td.process.as_mut() {
                    changed |= remap_opt(&p.pids, &mut pr.pid);
                }
                if let Some(t) = td.thread.as_mut() {
                    changed |= remap_opt(&p.pids, &mut t.pid);
                    changed |= remap_opt(&p.pids, &mut t.tid);
                }
            }
            Some(Data::TrackEvent(te)) => {
                changed |= remap_opt(&p.uuids, &mut te.track_uuid);
                changed |= remap_all(&p.uuids, &mut te.extra_counter_track_uuids);
                changed |= remap_all(&p.uuids, &mut te.extra_double_counter_track_uuids);
                changed |= remap_all(&p.flows, &mut te.flow_ids);
                changed |= remap_all(&p.flows, &mut te.terminating_flow_ids);
                changed |= remap_all(&p.flows, &mut te.flow_ids_old);
                changed |= remap_all(&p.flows, &mut te.terminating_flow_ids_old);
            }
            Some(Data::ClockSnapshot(cs)) => changed |= shift_snapshot(cs, p)?,
            _ => {}
        }
        Ok(changed)
    }
}

/// Moves a snapshot's BOOTTIME reading by the plan's shift and its REALTIME
/// reading by the plan's REALTIME shift.
fn shift_snapshot(cs: &mut ClockSnapshot, p: &Plan) -> Result<bool, String> {
    let mut changed = false;
    for c in cs.clocks.iter_mut() {
        let id = c.clock_id();
        let unit = i64::try_from(c.unit_multiplier_ns().max(1)).unwrap_or(i64::MAX);
        let by = match id {
            BOOTTIME => p.shift,
            REALTIME => p.realtime_shift / unit,
            _ => 0,
        };
        if by != 0 {
            let ts = c.timestamp();
            c.timestamp = Some(shifted(ts, by).ok_or_else(|| {
                format!("shifting clock {id} reading {ts} by {by} ns leaves the valid range")
            })?);
            changed = true;
        }
    }
    Ok(changed)
}

fn write_packet(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let mut head = [0u8; 11];
    head[0] = 0x0a; // Trace.packet: field 1, length-delimited
    let mut n = 1;
    let mut len = bytes.len() as u64;
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            head[n] = b;
            n += 1;
            break;
        }
        head[n] = b | 0x80;
        n += 1;
    }
    out.write_all(&head[..n])?;
    out.write_all(bytes)
}

/// Merges `inputs` into `output`.
pub fn run(output: &Path, inputs: &[PathBuf], opts: &MergeOptions) -> Result<(), CliError> {
    if inputs
        .iter()
        .any(|i| std::fs::canonicalize(i).ok() == std::fs::canonicalize(output).ok())
    {
        return Err(CliError::Usage(format!(
            "{}: the output is also an input",
            output.display()
        )));
    }
    let scans = inputs
        .iter()
        .enumerate()
        .map(|(i, p)| scan(i, p))
        .collect::<Result<Vec<_>, _>>()?;
    let plans = plan(inputs, &scans, opts)?;

    let file = std::fs::File::create(output).map_err(|e| CliError::io(output, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for (i, (path, plan)) in inputs.iter().zip(&plans).enumerate() {
        let (reader, _) = input::open_tracked(path, &format!("merging input {i}"))?;
        let mut rw = Rewriter {
            plan,
            default_clock: HashMap::new(),
        };
        let (mut written, mut dropped) = (0u64, 0u64);
        let mut packets = PacketReader::new(reader);
        while let Some(item) = packets.next_raw() {
            let raw = match item {
                Ok(raw) => raw,
                Err(OracleError::Io(e)) => return Err(CliError::io(path, e)),
                Err(e) => {
                    eprintln!("tg4p: warning: input {i} ({}): {e}", path.display());
                    continue;
                }
            };
            let Ok(mut pkt) = TracePacket::parse_from_bytes(&raw.bytes) else {
                dropped += 1;
                continue;
            };
            let changed = rw
                .rewrite(&mut pkt)
                .map_err(|m| CliError::bad(path, format!("packet at byte {}", raw.offset), m))?;
            let result = if changed {
                let bytes = pkt.write_to_bytes().map_err(|e| {
                    CliError::bad(
                        path,
                        format!("packet at byte {}", raw.offset),
                        e.to_string(),
                    )
                })?;
                write_packet(&mut out, &bytes)
            } else {
                write_packet(&mut out, &raw.bytes)
            };
            result.map_err(|e| CliError::io(output, e))?;
            written += 1;
        }
        eprintln!(
            "tg4p: input {i} ({}): {written} packets{}; machine {}; shifted {} ns ({}); \
             renumbered {} sequence(s), {} track uuid(s), {} flow id(s), {} pid/tid(s)",
            path.display(),
            if dropped > 0 {
                format!(" ({dropped} corrupt packets dropped)")
            } else {
                String::new()
            },
            plan.machine
                .map_or_else(|| "host".to_string(), |m| m.to_string()),
            plan.shift,
            plan.shift_source,
            plan.sequences.len(),
            plan.uuids.len(),
            plan.flows.len(),
            plan.pids.len(),
        );
    }
    out.flush().map_err(|e| CliError::io(output, e))?;
    Ok(())
}
