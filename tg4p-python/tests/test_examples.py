"""The seed's live example, run unchanged: the figures the Rust example has."""

import subprocess
import sys

from conftest import EXAMPLES


def test_example_profile_has_the_expected_events(tmp_path, decoded):
    script = EXAMPLES / "example_profile.py"
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True,
                         capture_output=True, text=True)
    assert run.stdout.strip() == "Done"
    trace = decoded(tmp_path / "tg4p.perfetto-trace")

    # One process, 7 named threads under it, one TOP_TRACK without lanes.
    (process,) = [t for t in trace.tracks.values() if t.kind == "process"]
    threads = trace.threads()
    assert len(threads) == 7
    assert all(t.name and t.parent == process.uuid and t.tid > 0 for t in threads)
    assert sum(1 for t in threads if t.name.startswith("Thread-")) == 6
    top = trace.track_named("TOP_TRACK").uuid
    assert trace.children(top) == []

    thread_uuids = {t.uuid for t in threads}
    merge_sorts = trace.named_slices("merge_sort")
    assert len(merge_sorts) == 63 and all(s.track in thread_uuids for s in merge_sorts)
    assert all(s.begin.source[:2] == (str(script), "merge_sort") for s in merge_sorts)
    merges = trace.named_slices("merge")
    assert len(merges) == 31
    for m in merges:
        assert list(m.args) == ["x", "x1", "x2"]
        assert all(isinstance(v, list) and len(v) <= 513 for v in m.args.values())
        assert m.depth >= 1 and m.begin.source[1] == "merge"

    instants = lambda name: trace.of_kind("instant", name)
    assert len(instants("INVOKE_THREAD")) == 6
    assert len(instants("START_THREAD")) == 12
    assert sum(1 for e in instants("START_THREAD") if e.track == top) == 6
    (checking,) = instants("CHECKING")
    final = checking.args["final_result"]
    assert isinstance(final, list) and "more" in final[-1]

    counter = trace.track_named("num_active_threads")
    samples = trace.of_kind("counter")
    assert len(samples) == 12 and all(e.track == counter.uuid for e in samples)
    assert sorted(e.value for e in samples)[0] == 0 and max(e.value for e in samples) <= 6

    arrows = trace.arrows()
    assert len(arrows) == 13 and trace.dangling_flows() == []
    for a in arrows:
        if a.source.name == "INVOKE_THREAD":
            assert a.target.name == "START_THREAD"
        else:
            assert (a.source.kind, a.target.kind, a.source.track, a.target.track) == ("end", "end", top, top)
    (sort,), (validate,) = trace.named_slices("SORT"), trace.named_slices("VALIDATE")
    assert sort.track == top and sort.end.ts <= validate.begin.ts
    (v,) = trace.named_slices("validate")
    assert (v.track, v.depth) == (top, 1)
