"""TraceGenerator: every call, each trace decoded independently."""

import gc
import subprocess
import sys

import pytest

from conftest import EXAMPLES
from tg4perfetto import CounterTrack, Group, GroupTrack, NormalTrack, TraceGenerator


def test_the_seed_example_event_for_event(tmp_path, decoded):
    out = tmp_path / "example.perfetto-trace"
    subprocess.run([sys.executable, str(EXAMPLES / "example.py"), str(out)], check=True)
    trace = decoded(out)

    tree = sorted((trace.path(t.uuid), t.kind) for t in trace.tracks.values())
    assert tree == [
        ("aaa", "process"), ("aaa/bbb", "counter"), ("aaa/ddd", "plain"),
        ("aaa/example_track", "plain"), ("abc.2", "process"), ("abc.2/XX", "plain"),
        ("abc.2/XX/#1", "plain"), ("abc.2/XX/#2", "plain"), ("bbb", "counter"),
        ("vvv", "process"), ("vvv/bbb2", "counter"), ("vvv/ddd2", "plain"), ("vvv/ddd3", "plain"),
    ]
    pids = {t.pid for t in trace.tracks.values() if t.kind == "process"}
    assert len(pids) == 3 and all(p > 0 for p in pids)

    abd = {"aaa": "bbb", "ccc": "ddd"}
    expected = [
        ("aaa/example_track", 100, "begin", "SOME_TRACK", {}, [], None),
        ("aaa/example_track", 250, "end", None, {}, [4], None),
        ("bbb", 0, "counter", None, {}, [], 3),
        ("bbb", 200, "counter", None, {}, [], 5),
        ("bbb", 400, "counter", None, {}, [], 7),
        ("bbb", 700, "counter", None, {}, [], 2),
        ("aaa/bbb", 0, "counter", None, {}, [], 2),
        ("aaa/bbb", 200, "counter", None, {}, [], 4),
        ("aaa/bbb", 400, "counter", None, {}, [], 5),
        ("aaa/bbb", 700, "counter", None, {}, [], 1),
        ("aaa/ddd", 100, "begin", "WXX", {}, [], None),
        ("aaa/ddd", 300, "end", None, {}, [3], None),
        ("vvv/bbb2", 0, "counter", None, {}, [], 2),
        ("vvv/bbb2", 300, "counter", None, {}, [], 400),
        ("vvv/bbb2", 400, "counter", None, {}, [], 500),
        ("vvv/bbb2", 700, "counter", None, {}, [], 1000),
        ("vvv/ddd3", 200, "instant", "WXYZ", {}, [], None),
        ("vvv/ddd2", 222, "begin", "XXX", {}, [], None),
        ("vvv/ddd3", 300, "begin", "WXX3", abd, [], None),
        ("vvv/ddd3", 300, "instant", "ABCDE", {"aaa": "bbb", "ccc": "xxx"}, [], None),
        ("vvv/ddd2", 333, "end", None, {}, [], None),
        ("vvv/ddd3", 400, "begin", "WXX4", abd, [3, 4], None),
        ("vvv/ddd3", 400, "instant", "ABCDE", {}, [], None),
        ("vvv/ddd3", 600, "instant", "ADE",
         {"aaa": "abc", "ccc": "xxx", "eee": {"aaa": "abc", "ccc": "ddd"}}, [], None),
        ("vvv/ddd3", 670, "end", None, {}, [2], None),
        ("vvv/ddd3", 700, "instant", "ADE2", {
            "aaa": "abc",
            "ccc": [1, 2, 3, 4, "a", "b", {"abcdef": "fdsa", "ggg": True}],
            "eee": {"aaa": "abc", "ccc": True, "eee": {"fff": "ggg", "hhh": 0x1234567}},
            "jjj": "kkk",
        }, [2], None),
        ("vvv/ddd3", 900, "end", None, {}, [1], None),
        ("vvv/ddd2", 900, "begin", "WXX2", abd, [1], None),
        ("vvv/ddd2", 1000, "end", None, {}, [], None),
        ("abc.2/XX/#1", 100, "begin", "X", {}, [], None),
        ("abc.2/XX/#2", 300, "begin", "Y", {}, [], None),
        ("abc.2/XX/#1", 500, "end", None, {}, [], None),
        ("abc.2/XX/#2", 600, "end", None, {}, [], None),
    ]
    got = [(trace.path(e.track), e.ts, e.kind, e.name, e.args, e.flows, e.value) for e in trace.events]
    assert got == expected
    # Typed exactly: ints stay ints, the nested array is not wrapped.
    (ade2,) = trace.of_kind("instant", "ADE2")
    assert type(ade2.args["ccc"][0]) is int and type(ade2.args["eee"]["ccc"]) is bool
    assert all(not e.terminating_flows for e in trace.events)

    arrows = sorted((a.id, f"{trace.path(a.source.track)} {a.source.ts} {a.source.kind}",
                     f"{trace.path(a.target.track)} {a.target.ts} {a.target.kind}") for a in trace.arrows())
    assert arrows == [
        (1, "vvv/ddd3 900 end", "vvv/ddd2 900 begin"),
        (2, "vvv/ddd3 670 end", "vvv/ddd3 700 instant"),
        (3, "aaa/ddd 300 end", "vvv/ddd3 400 begin"),
        (4, "aaa/example_track 250 end", "vvv/ddd3 400 begin"),
    ]
    slices = sorted((trace.path(s.track), s.name, s.begin.ts, s.end.ts, s.depth) for s in trace.slices())
    assert slices == [
        ("aaa/ddd", "WXX", 100, 300, 0),
        ("aaa/example_track", "SOME_TRACK", 100, 250, 0),
        ("abc.2/XX/#1", "X", 100, 500, 0),
        ("abc.2/XX/#2", "Y", 300, 600, 0),
        ("vvv/ddd2", "WXX2", 900, 1000, 0),
        ("vvv/ddd2", "XXX", 222, 333, 0),
        ("vvv/ddd3", "WXX3", 300, 900, 0),
        ("vvv/ddd3", "WXX4", 400, 670, 1),
    ]


class Opaque:
    def __repr__(self):
        return "<opaque>"


def test_arguments_are_typed_and_nested_exactly(trace_path, decoded):
    with TraceGenerator(trace_path) as tgen:
        t = tgen.create_track("t")
        t.instant(1, "values", {
            "int": -5, "big": 2**63, "float": 1.0, "bool": False, "str": "s", "none": None,
            "nested": [[1, 2], [3, [4]]], "tuple": (1, "a"), "empty_list": [], "empty_dict": {},
            "obj": Opaque(), "keys": {1: "one", (2, 3): "tuple"}, "huge": 2**70,
            "long": [*range(1000)],
        })
    trace = decoded(trace_path)
    (e,) = trace.events
    assert e.args == {
        "int": -5, "big": 2**63, "float": 1.0, "bool": False, "str": "s", "none": "None",
        "nested": [[1, 2], [3, [4]]], "tuple": [1, "a"], "empty_list": "[]", "empty_dict": "{}",
        "obj": "<opaque>", "keys": {"1": "one", "(2, 3)": "tuple"}, "huge": str(2**70),
        "long": list(range(1000)),
    }
    assert type(e.args["float"]) is float and type(e.args["int"]) is int


def test_groups_nest_and_carry_events(trace_path, decoded):
    tgen = TraceGenerator(trace_path)
    g = tgen.create_group("proc")
    assert isinstance(g, Group) and GroupTrack is Group
    inner = g.create_group("inner")
    deeper = inner.create_group("deeper")
    named = deeper.create_track("leaf")
    anon = deeper.create_track()
    top = tgen.create_track("top")
    assert isinstance(named, NormalTrack)
    g.open(10, "on process")
    g.close(20)
    inner.instant(15, "on inner")
    assert named.open(1, "a").open(2, "b").close(3).close(4) is named
    anon.instant(5, "anon")
    top.instant(6, "top")
    tgen.close()
    trace = decoded(trace_path)
    events = {(trace.path(e.track), e.name) for e in trace.events if e.name}
    assert events == {
        ("proc", "on process"), ("proc/inner", "on inner"), ("proc/inner/deeper/leaf", "a"),
        ("proc/inner/deeper/leaf", "b"), ("proc/inner/deeper/#1", "anon"), ("top", "top"),
    }
    assert [(s.name, s.depth) for s in trace.slices() if trace.path(s.track).endswith("leaf")] == [("a", 0), ("b", 1)]


def test_counters_take_ints_and_floats(trace_path, decoded):
    with TraceGenerator(trace_path) as tgen:
        c = tgen.create_counter_track("load")
        assert isinstance(c, CounterTrack)
        assert c.count(0, 3).count(10, 2.5).count(20, True) is c
        with pytest.raises(TypeError):
            c.count(30, "x")
    trace = decoded(trace_path)
    values = [e.value for e in trace.events]
    assert values == [3, 2.5, 1] and [type(v) for v in values] == [int, float, int]


def test_errors_are_raised_and_leave_the_trace_valid(trace_path, decoded, tmp_path):
    tgen = TraceGenerator(trace_path)
    t = tgen.create_track("t")
    t.open(100, "x")
    with pytest.raises(ValueError, match="before the previous event"):
        t.instant(50, "late")
    with pytest.raises(ValueError, match="must be a dict"):
        t.instant(200, "bad args", [1, 2])
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested more than 64"):
        t.instant(200, "loop", {"l": loop})
    with pytest.raises(OverflowError):
        t.instant(-1, "negative")
    t.close(300)
    with pytest.raises(ValueError, match="no open slice"):
        t.close(400)
    tgen.close()
    with pytest.raises(RuntimeError, match="finished"):
        t.instant(500, "after close")
    with pytest.raises(RuntimeError, match="finished"):
        tgen.create_track("late")
    tgen.close()  # twice is fine
    trace = decoded(trace_path)
    assert [(e.ts, e.kind) for e in trace.events] == [(100, "begin"), (300, "end")]
    with pytest.raises(FileNotFoundError):
        TraceGenerator(tmp_path / "no" / "such" / "dir.trace")


def test_flush_writes_what_came_before(trace_path, decoded):
    tgen = TraceGenerator(trace_path)
    t = tgen.create_track("t")
    t.instant(1, "first")
    tgen.flush()
    assert [e.name for e in decoded(trace_path).events] == ["first"]
    t.instant(2, "second")
    del tgen, t
    gc.collect()
    # Dropping the generator (and its handles) finishes the trace.
    assert [e.name for e in decoded(trace_path).events] == ["first", "second"]


def test_many_events_cross_the_chunk_boundary(trace_path, decoded):
    n = 15_000
    with TraceGenerator(trace_path) as tgen:
        t = tgen.create_track("t")
        c = tgen.create_counter_track("c")
        for i in range(n):
            t.open(2 * i, "work")
            t.close(2 * i + 1)
            c.count(2 * i, i)
    assert trace_path.stat().st_size > 256 * 1024  # more than one of the generator's chunks
    trace = decoded(trace_path)
    assert len(trace.events) == 3 * n
    slices = trace.slices()
    assert len(slices) == n and slices[-1].begin.ts == 2 * (n - 1) and slices[-1].end.ts == 2 * n - 1
    assert [e.value for e in trace.of_kind("counter")][-3:] == [n - 3, n - 2, n - 1]


def test_a_generator_belongs_to_its_thread(trace_path, decoded):
    import threading

    tgen = TraceGenerator(trace_path)
    caught = []

    def other():
        try:
            tgen.create_track("x")
        except RuntimeError as e:
            caught.append(e)

        try:
            track.instant(1, "x")
        except RuntimeError as e:
            caught.append(e)
        try:
            tgen.close()
        except RuntimeError as e:
            caught.append(e)

    track = tgen.create_track("t")
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(caught) == 3 and all("thread that created them" in str(e) for e in caught)
    track.instant(2, "here")
    tgen.close()
    assert [e.name for e in decoded(trace_path).events] == ["here"]


def test_event_names_from_any_string_object(trace_path, decoded):
    # Names are found by their string object while it stays the same one; equal
    # text in other objects, str subclasses, freed and remade strings, more names
    # than a track caches and non-ASCII names all name their events by their text.
    class Name(str):
        pass

    tgen = TraceGenerator(trace_path)
    track = tgen.create_track("t")
    group = tgen.create_group("g")
    expected = []
    for i in range(60):
        name = [
            "literal",
            "".join(["lit", "eral"]),
            Name("subclass"),
            f"made {i % 7}",
            "naïve ✓",
            f"cycle {i % 5}",
        ][i % 6]
        track.open(2 * i, name).close(2 * i + 1)
        track.instant(2 * i + 1, name)
        group.instant(i, name)
        expected.append(str(name))
    tgen.close()
    trace = decoded(trace_path)
    t = trace.track_named("t").uuid
    assert [(s.name, s.begin.ts, s.end.ts) for s in trace.slices()] == [
        (name, 2 * i, 2 * i + 1) for i, name in enumerate(expected)
    ]
    instants = [e for e in trace.ordered() if e.kind == "instant"]
    assert [e.name for e in instants if e.track == t] == expected
    assert [e.name for e in instants if e.track != t] == expected


def test_handles_freed_on_another_thread_go_back_to_their_own(trace_path, decoded, tmp_path):
    # A track or a whole generator whose last reference goes on another thread is
    # freed by its own thread (a generator's trace finished then): on its next
    # TraceGenerator call.
    import threading

    def free_on_another_thread(box):
        t = threading.Thread(target=box.clear)
        t.start()
        t.join()

    tgen = TraceGenerator(trace_path)
    box = [tgen.create_track("t")]
    box[0].instant(1, "before")
    free_on_another_thread(box)

    second_path = str(tmp_path / "second.pftrace")
    second = TraceGenerator(second_path)
    second.create_track("u").instant(5, "in the second trace")
    box = [second]
    del second
    free_on_another_thread(box)

    tgen.create_track("t2").instant(2, "after")  # here the second trace is finished
    assert [e.name for e in decoded(second_path).events] == ["in the second trace"]
    tgen.close()
    assert [e.name for e in decoded(trace_path).events] == ["before", "after"]

    # A generator whose thread has ended is finished when its last reference goes.
    third_path = str(tmp_path / "third.pftrace")
    made = []

    def make():
        third = TraceGenerator(third_path)
        third.create_track("v").instant(7, "from an ended thread")
        made.append(third)

    t = threading.Thread(target=make)
    t.start()
    t.join()
    with pytest.raises(RuntimeError, match="thread that created them"):
        made[0].create_track("w")
    made.clear()
    # Python's join returns just before the thread's very end, where a value freed
    # meanwhile is dropped: wait for that (the trace is complete either way).
    import os
    import time

    deadline = time.monotonic() + 10
    while os.path.getsize(third_path) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e.name for e in decoded(third_path).events] == ["from an ended thread"]
