"""An independent decoder for the traces the tests write.

It parses with the `perfetto` package's generated protos (Perfetto's own
`perfetto_trace.proto`), not with anything of tg4p, and resolves what
trace_processor resolves: packet sequences, incremental state, interned data,
packet defaults, sequence-scoped and incremental clocks, tracks, slices (per-track
nesting), counters, debug annotations (nested) and flows. `Trace.assert_valid()`
checks the import rules trace_processor enforces.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

SEQ_INCREMENTAL_STATE_CLEARED = 1
SEQ_NEEDS_INCREMENTAL_STATE = 2
BOOTTIME = 6

KINDS = {
    pb.TrackEvent.TYPE_SLICE_BEGIN: "begin",
    pb.TrackEvent.TYPE_SLICE_END: "end",
    pb.TrackEvent.TYPE_INSTANT: "instant",
    pb.TrackEvent.TYPE_COUNTER: "counter",
}


@dataclass
class Track:
    uuid: int
    index: int  # packet index of its descriptor
    parent: Optional[int]
    name: Optional[str]
    kind: str  # "process", "thread", "counter" or "plain"
    pid: Optional[int] = None
    tid: Optional[int] = None


@dataclass
class Event:
    index: int  # packet index
    seq: int
    ts: int
    kind: str  # "begin", "end", "instant", "counter"
    track: int
    name: Optional[str]
    args: dict
    flows: list
    terminating_flows: list
    source: Optional[tuple]  # (file, function, line)
    value: Any = None  # counter value (int or float)


@dataclass
class Slice:
    track: int
    name: Optional[str]
    begin: Event
    end: Optional[Event]
    depth: int

    @property
    def args(self):
        return self.begin.args


@dataclass
class Arrow:
    id: int
    source: Event
    target: Event


@dataclass
class _Clock:
    ref: int  # the clock's reading in the snapshot
    boot: int  # BOOTTIME's reading in the snapshot
    incremental: bool
    unit: int
    last: int


@dataclass
class _Sequence:
    cleared: bool = False
    names: dict = field(default_factory=dict)
    arg_names: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    categories: dict = field(default_factory=dict)
    strings: dict = field(default_factory=dict)
    default_track: Optional[int] = None
    default_clock: Optional[int] = None
    clocks: dict = field(default_factory=dict)


class Trace:
    def __init__(self):
        self.tracks = {}
        self.events = []
        self.problems = []
        self.dropped_marks = 0

    # --- queries ---

    def tracks_named(self, name):
        return [t for t in self.tracks.values() if t.name == name]

    def track_named(self, name):
        found = self.tracks_named(name)
        assert len(found) == 1, f"{len(found)} tracks named {name!r}"
        return found[0]

    def children(self, uuid):
        return [t for t in self.tracks.values() if t.parent == uuid]

    def threads(self):
        return [t for t in self.tracks.values() if t.kind == "thread"]

    def path(self, uuid):
        """Parents' names joined with '/'; unnamed tracks numbered '#1', '#2' among
        their siblings in declaration order."""
        t = self.tracks[uuid]
        own = t.name
        if own is None:
            siblings = sorted(
                (s for s in self.tracks.values() if s.parent == t.parent and s.name is None),
                key=lambda s: s.index,
            )
            own = f"#{siblings.index(t) + 1}"
        return own if t.parent is None else f"{self.path(t.parent)}/{own}"

    def of_kind(self, kind, name=None):
        return [e for e in self.events if e.kind == kind and (name is None or e.name == name)]

    def slices(self):
        """Slices per track, begins matched with ends by nesting."""
        out = []
        stacks = {}
        for e in self.ordered():
            if e.kind == "begin":
                stack = stacks.setdefault(e.track, [])
                s = Slice(e.track, e.name, e, None, len(stack))
                stack.append(s)
                out.append(s)
            elif e.kind == "end":
                stack = stacks.get(e.track)
                if stack:
                    stack.pop().end = e
        return out

    def named_slices(self, name):
        return [s for s in self.slices() if s.name == name]

    def ordered(self):
        """Events by timestamp, file order among equal ones (trace_processor's sort
        is stable within a sequence; these tests never tie across sequences in a
        way that matters)."""
        return sorted(self.events, key=lambda e: (e.ts, e.index))

    def arrows(self):
        """Flow arrows: an id links consecutive events naming it, until an event
        terminates it."""
        pending = {}
        arrows = []
        for e in self.ordered():
            for fid in e.flows:
                if fid in pending:
                    arrows.append(Arrow(fid, pending[fid], e))
                pending[fid] = e
            for fid in e.terminating_flows:
                if fid in pending:
                    arrows.append(Arrow(fid, pending.pop(fid), e))
        return arrows

    def dangling_flows(self):
        """Ids named by exactly one event and never terminated: no arrow drawn."""
        named = {}
        for e in self.events:
            for fid in list(e.flows) + list(e.terminating_flows):
                named[fid] = named.get(fid, 0) + 1
        return [fid for fid, n in named.items() if n == 1]

    # --- trace_processor's rules ---

    def assert_valid(self):
        problems = list(self.problems)
        for t in self.tracks.values():
            if t.parent is not None and t.parent not in self.tracks:
                problems.append(f"track {t.uuid}: parent {t.parent} not described")
            if t.kind == "thread" and (not t.pid or not t.tid):
                problems.append(f"thread track {t.uuid} without pid/tid")
        stacks = {}
        for e in self.events:
            t = self.tracks.get(e.track)
            if t is None:
                problems.append(f"event {e.index} on undescribed track {e.track}")
                continue
            if e.ts < 0:
                problems.append(f"event {e.index}: negative timestamp")
            if e.kind == "counter":
                if t.kind != "counter":
                    problems.append(f"counter sample {e.index} on non-counter track")
                if t.index > e.index:
                    problems.append(f"counter sample {e.index} before its descriptor")
                if e.value is None:
                    problems.append(f"counter sample {e.index} without value")
        for e in self.ordered():
            if e.kind == "begin":
                stacks.setdefault(e.track, []).append(e)
            elif e.kind == "end":
                if not stacks.get(e.track):
                    problems.append(f"end {e.index} on track {e.track} with no open slice")
                else:
                    stacks[e.track].pop()
        seen = set()
        for e in self.ordered():
            for fid in e.terminating_flows:
                if fid not in seen:
                    problems.append(f"flow {fid} terminated at event {e.index} without a source")
                seen.discard(fid)
            seen.update(e.flows)
        assert not problems, "\n".join(problems[:20])


def _annotation(a, seq, trace):
    which = a.WhichOneof("value")
    if which in ("bool_value", "uint_value", "int_value", "double_value", "string_value"):
        return getattr(a, which)
    if which == "string_value_iid":
        return seq.strings.get(a.string_value_iid)
    if which is not None:
        trace.problems.append(f"unexpected annotation value {which}")
        return None
    if len(a.dict_entries):
        return {_annotation_name(e, seq, trace): _annotation(e, seq, trace) for e in a.dict_entries}
    if len(a.array_values):
        return [_annotation(v, seq, trace) for v in a.array_values]
    trace.problems.append("annotation without a value (trace_processor drops it)")
    return None


def _annotation_name(a, seq, trace):
    if a.HasField("name"):
        return a.name
    if a.HasField("name_iid"):
        if a.name_iid not in seq.arg_names:
            trace.problems.append(f"annotation name iid {a.name_iid} not interned")
        return seq.arg_names.get(a.name_iid)
    trace.problems.append("annotation without a name")
    return None


def decode_bytes(data: bytes) -> Trace:
    raw = pb.Trace()
    raw.ParseFromString(data)
    trace = Trace()
    sequences = {}
    for index, pkt in enumerate(raw.packet):
        seq_id = pkt.trusted_packet_sequence_id
        seq = sequences.setdefault(seq_id, _Sequence())
        if pkt.sequence_flags & SEQ_INCREMENTAL_STATE_CLEARED:
            sequences[seq_id] = seq = _Sequence(cleared=True)
        if pkt.previous_packet_dropped:
            trace.dropped_marks += 1
        if pkt.HasField("trace_packet_defaults"):
            d = pkt.trace_packet_defaults
            if d.HasField("timestamp_clock_id"):
                seq.default_clock = d.timestamp_clock_id
            if d.HasField("track_event_defaults") and d.track_event_defaults.HasField("track_uuid"):
                seq.default_track = d.track_event_defaults.track_uuid
        if pkt.HasField("interned_data"):
            if not seq.cleared:
                trace.problems.append(f"packet {index}: interned data before the sequence was cleared")
            i = pkt.interned_data
            for table, entries, value in (
                (seq.names, i.event_names, lambda e: e.name),
                (seq.arg_names, i.debug_annotation_names, lambda e: e.name),
                (seq.categories, i.event_categories, lambda e: e.name),
                (seq.strings, i.debug_annotation_string_values, lambda e: e.str.decode()),
                (seq.sources, i.source_locations, lambda e: (e.file_name, e.function_name, e.line_number)),
            ):
                for e in entries:
                    if e.iid == 0:
                        trace.problems.append(f"packet {index}: interned iid 0")
                    if e.iid in table and table[e.iid] != value(e):
                        trace.problems.append(f"packet {index}: iid {e.iid} redefined")
                    table[e.iid] = value(e)
        if pkt.HasField("clock_snapshot"):
            boot = [c.timestamp for c in pkt.clock_snapshot.clocks if c.clock_id == BOOTTIME]
            for c in pkt.clock_snapshot.clocks:
                if 64 <= c.clock_id <= 127:
                    if not boot:
                        trace.problems.append(f"packet {index}: sequence clock without BOOTTIME")
                        continue
                    seq.clocks[c.clock_id] = _Clock(
                        ref=c.timestamp,
                        boot=boot[0],
                        incremental=c.is_incremental,
                        unit=c.unit_multiplier_ns or 1,
                        last=c.timestamp,
                    )
        if pkt.HasField("track_descriptor"):
            d = pkt.track_descriptor
            if d.uuid == 0:
                trace.problems.append(f"packet {index}: track uuid 0")
            if d.HasField("thread"):
                kind, pid, tid = "thread", d.thread.pid, d.thread.tid
                name = d.name if d.HasField("name") else (d.thread.thread_name or None)
            elif d.HasField("process"):
                kind, pid, tid = "process", d.process.pid, None
                name = d.name if d.HasField("name") else (d.process.process_name or None)
            else:
                kind, pid, tid = ("counter" if d.HasField("counter") else "plain"), None, None
                name = d.name if d.HasField("name") else None
            t = Track(d.uuid, index, d.parent_uuid if d.HasField("parent_uuid") else None, name, kind, pid, tid)
            old = trace.tracks.get(d.uuid)
            if old is not None and (old.parent, old.name, old.kind) != (t.parent, t.name, t.kind):
                trace.problems.append(f"packet {index}: track {d.uuid} described differently")
            if old is None:
                trace.tracks[d.uuid] = t
        if pkt.HasField("track_event"):
            if pkt.sequence_flags & SEQ_NEEDS_INCREMENTAL_STATE and not seq.cleared:
                trace.problems.append(f"packet {index}: needs incremental state, none (skipped)")
                continue
            clock = pkt.timestamp_clock_id if pkt.HasField("timestamp_clock_id") else (seq.default_clock or BOOTTIME)
            if clock == BOOTTIME:
                ts = pkt.timestamp
            elif clock in seq.clocks:
                c = seq.clocks[clock]
                if c.incremental:
                    c.last += pkt.timestamp
                    reading = c.last
                else:
                    reading = pkt.timestamp
                ts = c.boot + (reading - c.ref) * c.unit
            else:
                trace.problems.append(f"packet {index}: clock {clock} unknown")
                continue
            te = pkt.track_event
            kind = KINDS.get(te.type)
            if kind is None:
                trace.problems.append(f"packet {index}: event type {te.type}")
                continue
            track = te.track_uuid if te.HasField("track_uuid") else seq.default_track
            if te.HasField("name"):
                name = te.name
            elif te.HasField("name_iid"):
                if te.name_iid not in seq.names:
                    trace.problems.append(f"packet {index}: name iid {te.name_iid} not interned")
                name = seq.names.get(te.name_iid)
            else:
                name = None
            args = {}
            for a in te.debug_annotations:
                args[_annotation_name(a, seq, trace)] = _annotation(a, seq, trace)
            source = None
            if te.HasField("source_location_iid"):
                source = seq.sources.get(te.source_location_iid)
                if source is None:
                    trace.problems.append(f"packet {index}: source iid not interned")
            value = None
            if kind == "counter":
                if te.HasField("counter_value"):
                    value = te.counter_value
                elif te.HasField("double_counter_value"):
                    value = te.double_counter_value
            trace.events.append(
                Event(index, seq_id, ts, kind, track, name, args, list(te.flow_ids),
                      list(te.terminating_flow_ids), source, value)
            )
    return trace


def decode(path) -> Trace:
    with open(path, "rb") as f:
        return decode_bytes(f.read())
