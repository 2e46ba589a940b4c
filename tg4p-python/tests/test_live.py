"""Live tracing: every call of the API, each trace decoded independently."""

import functools
import sys
import threading

import pytest

import tg4perfetto


def line_of(func):
    return func.__code__.co_firstlineno


@tg4perfetto.trace_func
def fib(n):
    """The n-th Fibonacci number."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def test_trace_func_records_each_call_nested_with_its_location(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        assert fib(5) == 5
    trace = decoded(trace_path)
    slices = trace.named_slices("fib")
    assert len(slices) == 15  # calls of fib(5)
    assert max(s.depth for s in slices) == 4
    assert all(s.end is not None and s.end.ts >= s.begin.ts for s in slices)
    (thread,) = {s.track for s in slices}
    assert trace.tracks[thread].kind == "thread"
    file, function, line = slices[0].begin.source
    assert file == __file__ and function == "fib" and line == line_of(fib.__wrapped__)


def test_trace_func_keeps_the_function_metadata():
    assert fib.__name__ == "fib"
    assert fib.__doc__ == "The n-th Fibonacci number."
    assert fib.__wrapped__(7) == 13
    assert fib.__module__ == __name__


class Boom(Exception):
    pass


@tg4perfetto.trace_func
def raises(depth):
    if depth == 0:
        raise Boom("deep")
    raises(depth - 1)


def test_an_exception_ends_the_slices_and_propagates(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        with pytest.raises(Boom, match="deep"):
            raises(3)
        fib(1)  # after the unwinding, slices start at depth 0 again
    trace = decoded(trace_path)
    slices = trace.named_slices("raises")
    assert len(slices) == 4 and all(s.end is not None for s in slices)
    assert sorted(s.depth for s in slices) == [0, 1, 2, 3]
    assert [s.depth for s in trace.named_slices("fib")] == [0]


TOP = tg4perfetto.track("TOP_TRACK")


@tg4perfetto.trace_func(TOP)
def on_top(x):
    return x * 2


def test_trace_func_on_a_track(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        assert on_top(21) == 42
    trace = decoded(trace_path)
    (s,) = trace.named_slices("on_top")
    assert s.track == trace.track_named("TOP_TRACK").uuid
    assert s.begin.source[1] == "on_top"


@tg4perfetto.trace_func_args
def with_args(x, n, *rest, label="none", **extra):
    return n


def test_trace_func_args_names_the_arguments_by_parameter(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        with_args([1, 2, 3], 5, "r1", 2.5, label="abc", flag=True)
        with_args({"k": None}, -1)
    trace = decoded(trace_path)
    first, second = trace.named_slices("with_args")
    # Scalars typed; lists and dicts nested, their leaves typed.
    assert first.args == {
        "x": [1, 2, 3],
        "n": 5,
        "rest": ["r1", 2.5],
        "label": "abc",
        "flag": True,
    }
    assert type(first.args["n"]) is int and type(first.args["flag"]) is bool
    assert second.args == {"x": {"k": "None"}, "n": -1}


def test_trace_func_args_bounds_big_values(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        with_args(list(range(100_000)), "x" * 5000)
    trace = decoded(trace_path)
    (s,) = trace.named_slices("with_args")
    x, n = s.args["x"], s.args["n"]
    # At most 512 values of a list, then a marker saying how many more.
    assert x[:3] == [0, 1, 2] and len(x) <= 513 and x[-1].startswith("…[") and "more" in x[-1]
    assert n.startswith("xxx") and n.endswith("…[truncated, 5000 bytes]") and len(n.encode()) <= 1024


class Counter:
    def __init__(self):
        self.n = 0

    @tg4perfetto.trace_func_args
    def bump(self, by):
        self.n += by
        return self.n


def test_methods_bind_their_instance(trace_path, decoded):
    c = Counter()
    with tg4perfetto.open(trace_path):
        assert c.bump(2) == 2
        assert Counter.bump(c, 3) == 5
    trace = decoded(trace_path)
    slices = trace.named_slices("bump")
    assert [s.args["by"] for s in slices] == [2, 3]
    assert all(s.args["self"].startswith("<test_live.Counter object") for s in slices)
    assert slices[0].begin.source[1] == "Counter.bump"


def test_instant_flows_between_threads_and_tracks(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        ids = tg4perfetto.instant("INVOKE", num_outgoing_flow_ids=2)
        assert len(ids) == 2 and ids[0] != ids[1] and all(isinstance(i, int) for i in ids)

        def worker():
            tg4perfetto.instant("START", incoming_flow_ids=[ids[0]])
            back = TOP.instant("START", incoming_flow_ids=[ids[1]], num_outgoing_flow_ids=1)
            tg4perfetto.instant("DONE", incoming_flow_ids=back)

        t = threading.Thread(target=worker, name="flow-worker")
        t.start()
        t.join()
        assert tg4perfetto.instant("NOTHING") == []
    trace = decoded(trace_path)
    arrows = sorted((a.source.name, a.target.name, trace.tracks[a.target.track].name) for a in trace.arrows())
    assert arrows == [
        ("INVOKE", "START", "TOP_TRACK"),
        ("INVOKE", "START", "flow-worker"),
        ("START", "DONE", "flow-worker"),
    ]
    assert trace.dangling_flows() == []
    (invoke,) = trace.of_kind("instant", "INVOKE")
    assert invoke.flows == ids and invoke.source[0] == __file__


def test_instant_rejects_too_many_outgoing_flows():
    with pytest.raises(ValueError, match="at most 16"):
        tg4perfetto.instant("X", num_outgoing_flow_ids=17)


def test_instant_description_becomes_args(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        tg4perfetto.instant("CHECK", {"final_result": [3, 1], "ok": True, "ratio": 0.5, "name": "n"})
        TOP.instant("PLAIN", "just text")
    trace = decoded(trace_path)
    (check,) = trace.of_kind("instant", "CHECK")
    assert check.args == {"final_result": [3, 1], "ok": True, "ratio": 0.5, "name": "n"}
    assert type(check.args["ratio"]) is float
    (plain,) = trace.of_kind("instant", "PLAIN")
    assert plain.args == {"description": "just text"}
    assert plain.track == trace.track_named("TOP_TRACK").uuid


def test_trace_blocks_with_flows_and_nesting(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        with TOP.trace("SORT").get_outgoing_flow_ids(1) as out:
            on_top(1)
            p = out[0]
        with TOP.trace("VALIDATE").set_incoming_flow_ids([p]) as none_out:
            assert none_out == []
            on_top(2)
    trace = decoded(trace_path)
    top = trace.track_named("TOP_TRACK").uuid
    (sort,), (validate,) = trace.named_slices("SORT"), trace.named_slices("VALIDATE")
    assert sort.track == validate.track == top
    assert sort.end.ts <= validate.begin.ts
    assert [(s.depth, s.track) for s in trace.named_slices("on_top")] == [(1, top), (1, top)]
    (arrow,) = trace.arrows()
    assert (arrow.id, arrow.source, arrow.target) == (p, sort.end, validate.end)
    assert sort.begin.source == (__file__, "test_trace_blocks_with_flows_and_nesting", sort.begin.source[2])


def test_module_trace_block_on_the_thread_track_with_args(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        with tg4perfetto.trace("step", 1, "two", k={"a": [1]}):
            pass
        with pytest.raises(Boom):
            with tg4perfetto.trace("failing"):
                raise Boom()
    trace = decoded(trace_path)
    (step,) = trace.named_slices("step")
    assert trace.tracks[step.track].kind == "thread"
    assert step.args == {"args": [1, "two"], "k": {"a": [1]}}
    (failing,) = trace.named_slices("failing")
    assert failing.end is not None


def test_set_caller_overrides_the_location(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        with tg4perfetto.trace("a").set_caller(("made_up.py", 42, "somewhere")):
            pass
        with TOP.trace("b").set_caller(fib.__wrapped__):
            pass
    trace = decoded(trace_path)
    assert trace.named_slices("a")[0].begin.source == ("made_up.py", "somewhere", 42)
    assert trace.named_slices("b")[0].begin.source == (__file__, "fib", line_of(fib.__wrapped__))


def test_count_increment_and_set_ints_and_floats(trace_path, decoded):
    c = tg4perfetto.count("active")
    same = tg4perfetto.count("active")
    with tg4perfetto.open(trace_path):
        c.count(0)
        c.increment(2)
        same.increment(-1)
        c.set(10)
        c.decrement()
        c.increment(0.5)
        with pytest.raises(TypeError):
            c.increment("x")
    assert c.value == 9.5 and same.value == 9.5 and c.name == "active"
    trace = decoded(trace_path)
    counter = trace.track_named("active")
    assert counter.kind == "counter"
    samples = trace.of_kind("counter")
    assert all(e.track == counter.uuid for e in samples)
    values = [e.value for e in samples]
    assert values == [0, 2, 1, 10, 9, 9.5]
    assert [type(v) for v in values] == [int] * 5 + [float]


def test_python_threads_get_named_thread_tracks(trace_path, decoded):
    names = ["worker-a", "worker-b", "a-very-long-thread-name"]
    with tg4perfetto.open(trace_path):
        fib(2)
        threads = [threading.Thread(target=fib, args=(3,), name=n) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    trace = decoded(trace_path)
    tracks = trace.threads()
    assert len(tracks) == 4
    assert len({t.tid for t in tracks}) == 4
    by_name = {t.name: t for t in tracks}
    # Python's names, in full (not Linux's 15 bytes), the main thread's too.
    assert set(by_name) == {"MainThread", *names}
    for n in names:
        assert sum(1 for s in trace.named_slices("fib") if s.track == by_name[n].uuid) == 5
    process = [t for t in trace.tracks.values() if t.kind == "process"]
    assert len(process) == 1 and all(t.parent == process[0].uuid for t in tracks)


def test_many_threads_at_once_lose_nothing(trace_path, decoded):
    @tg4perfetto.trace_func
    def work(i):
        return i

    def run():
        for i in range(2000):
            work(i)
        with TOP.trace("on top"):
            pass

    with tg4perfetto.open(trace_path):
        threads = [threading.Thread(target=run) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report = tg4perfetto.stop()
    assert report["events_dropped"] == 0
    trace = decoded(trace_path)
    assert report["events_written"] == len(trace.events)
    slices = trace.named_slices("work")
    assert len(slices) == 16000 and all(s.end is not None for s in slices)
    assert len({s.track for s in slices}) == 8
    assert len(trace.named_slices("on top")) == 8


def test_stop_open_twice_and_untraced_calls(trace_path, decoded, tmp_path):
    assert tg4perfetto.stop() is None  # nothing open
    # Without a session, traced code runs and records nothing; ids are still made.
    assert fib(3) == 2
    assert len(tg4perfetto.instant("X", num_outgoing_flow_ids=3)) == 3
    with TOP.trace("quiet").get_outgoing_flow_ids(2) as out:
        assert len(out) == 2
    with tg4perfetto.open(trace_path):
        with pytest.raises(RuntimeError, match="already open"):
            with tg4perfetto.open(tmp_path / "second.perfetto-trace"):
                pass
        fib(1)
        report = tg4perfetto.stop()
        fib(1)  # after stop: not recorded
    assert report["path"] == str(trace_path) and report["events_written"] == 2
    trace = decoded(trace_path)
    assert len(trace.named_slices("fib")) == 1
    with pytest.raises(OSError):
        with tg4perfetto.open(tmp_path / "no" / "such" / "dir.trace"):
            pass


def test_a_thread_whose_first_event_is_a_count_is_named(trace_path, decoded):
    c = tg4perfetto.count("first")

    def run():
        c.increment(1)
        fib(1)

    with tg4perfetto.open(trace_path):
        t = threading.Thread(target=run, name="counting")
        t.start()
        t.join()
    trace = decoded(trace_path)
    (s,) = trace.named_slices("fib")
    assert trace.tracks[s.track].name == "counting"


class BadStr:
    def __str__(self):
        raise RuntimeError("no str for you")

    __repr__ = __str__


def test_arguments_that_cannot_be_converted_do_not_break_the_call(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        assert with_args({BadStr(): 1}, BadStr()) is not None
    trace = decoded(trace_path)
    (s,) = trace.named_slices("with_args")
    assert s.args["x"].startswith("<not recorded: RuntimeError: no str for you")
    assert s.args["n"].startswith("<repr failed: RuntimeError: no str for you")


@tg4perfetto.trace_func_args(TOP)
def args_on_top(a, b=2):
    return a + b


def test_trace_func_args_on_a_track(trace_path, decoded):
    with tg4perfetto.open(trace_path):
        assert args_on_top(1) == 3
        assert args_on_top(1, b=5) == 6
    trace = decoded(trace_path)
    first, second = trace.named_slices("args_on_top")
    top = trace.track_named("TOP_TRACK").uuid
    assert first.track == second.track == top
    assert (first.args, second.args) == ({"a": 1}, {"a": 1, "b": 5})
    assert TOP.name == "TOP_TRACK" and repr(TOP) == 'track("TOP_TRACK")'


def test_a_traced_closure_that_calls_itself_is_collected():
    import gc
    import weakref

    def make():
        @tg4perfetto.trace_func
        def countdown(n):
            return n if n == 0 else countdown(n - 1)

        return countdown

    f = make()
    assert f(3) == 0
    gone = weakref.ref(f.__wrapped__)
    del f
    gc.collect()
    assert gone() is None


def test_new_names_per_event_are_not_kept(trace_path, decoded):
    # Instants, `with` blocks and keyword arguments named anew on every event keep
    # nothing per name (no name or callsite table grows), and each event still
    # carries its own names.
    from tg4perfetto._tg4p import _kept_names

    @tg4perfetto.trace_func_args
    def keywords(**kw):
        pass

    def events(first, n):
        for i in range(first, first + n):
            tg4perfetto.instant(f"step {i}", {f"key {i}": i})
            TOP.instant(f"top {i}")
            with tg4perfetto.trace(f"block {i}", **{f"kw {i}": i}):
                keywords(**{f"arg {i}": i})

    with tg4perfetto.open(trace_path):
        events(0, 10)  # names, callsites and tracks of these places made here
        kept = _kept_names()
        events(10, 500)
        assert _kept_names() == kept
    trace = decoded(trace_path)
    steps = trace.of_kind("instant")
    assert [e.name for e in steps if e.name.startswith("step")] == [f"step {i}" for i in range(510)]
    assert [e.args for e in steps if e.name.startswith("step")] == [{f"key {i}": i} for i in range(510)]
    assert len([e for e in steps if e.name.startswith("top")]) == 510
    blocks = [s for s in trace.slices() if s.name.startswith("block")]
    assert [(s.name, s.args) for s in blocks] == [(f"block {i}", {f"kw {i}": i}) for i in range(510)]
    calls = trace.named_slices("keywords")
    assert [s.args for s in calls] == [{f"arg {i}": i} for i in range(510)]


def test_every_way_of_calling_a_traced_function(trace_path, decoded):
    # Python's vectorcall (plain, keywords, bound methods, partials, unpacking) and
    # tp_call (`type(f).__call__`, `operator.call`) record the same slices and
    # pass the arguments, the result and exceptions through unchanged.
    import operator

    @tg4perfetto.trace_func_args
    def add(a, b=10, *more, scale=1, **rest):
        if a == "boom":
            raise Boom(b)
        return (a + b + sum(more)) * scale, rest

    class Box:
        @tg4perfetto.trace_func_args
        def get(self, k):
            return k

    box = Box()
    tp_call = type(add).__call__
    with tg4perfetto.open(trace_path):
        results = [
            add(1, 2),
            add(1),
            add(1, 2, 3, 4),
            add(1, b=5, scale=2),
            add(*[1, 2], **{"scale": 3, "tag": "t"}),
            functools.partial(add, 7)(b=1),
            tp_call(add, 1, 2, scale=2),
            operator.call(add, 2, 2) if hasattr(operator, "call") else add(2, 2),
            box.get(5),
        ]
        with pytest.raises(Boom):
            add("boom", "why")
    assert results == [
        (3, {}), (11, {}), (10, {}), (12, {}), (9, {"tag": "t"}), (8, {}), (6, {}), (4, {}), 5,
    ]
    trace = decoded(trace_path)
    assert [s.args for s in trace.named_slices("add")] == [
        {"a": 1, "b": 2},
        {"a": 1},
        {"a": 1, "b": 2, "more": [3, 4]},
        {"a": 1, "b": 5, "scale": 2},
        {"a": 1, "b": 2, "scale": 3, "tag": "t"},
        {"a": 7, "b": 1},
        {"a": 1, "b": 2, "scale": 2},
        {"a": 2, "b": 2},
        {"a": "boom", "b": "why"},
    ]
    (get,) = trace.named_slices("Box.get") or trace.named_slices("get")
    assert get.args["k"] == 5
    assert all(s.end is not None for s in trace.slices())
    # Untraced, the same calls still pass everything through.
    assert add(1, b=2, scale=2, x=1) == (6, {"x": 1})
    with pytest.raises(Boom):
        add("boom")
