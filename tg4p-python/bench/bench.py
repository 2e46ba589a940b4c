"""tg4perfetto on tg4p against the pure-Python original, in one run.

    python bench.py --original DIR [--calls N] [--events N] [--scale K] [--repeat R]

DIR holds the original package (`pip install --target DIR tg4perfetto`); it is
loaded under the name `tg4perfetto_original`, next to `tg4perfetto` (this
project's). Both run the same Python loops; every figure is the best of R runs
(the two implementations' runs interleaved), and each run writes a new file that is timed until it is complete on disk (the
original writes when its objects are collected, which is timed too). tg4p runs
K times as many calls (default 10), so that its fixed costs (starting the session's
writer thread, closing the file) weigh on its per-call figures as little as the
original's do on its own.

Reported per implementation:
- traced call: one call of an empty `@trace_func` function, in a session;
- traced call with args: `@trace_func_args` with three small ints;
- generator event: `track.open(ts, name)` / `track.close(ts)`, per event;
- bytes per event of each trace file;
- two floors, the same loops with nothing traced: `C floor` calls a C method per
  generator event (a builtin's) and the function itself per traced call; `pyo3
  floor` calls no-op methods of a pyo3 class shaped like ours
  (`tg4perfetto._tg4p._FloorTrack`, `_FloorFunction`: same signatures, same
  machinery, nothing recorded), what any tracer built like this one costs at least;
- cap: original / pyo3 floor, the ratio such a tracer could reach if its own work
  cost nothing.
The ratio is original / tg4p CPU time per call (how many times faster tg4p is).
Every run of every case (original, tg4p, the floors) is interleaved with the others.
"""

import argparse
import gc
import importlib.util
import os
import sys
import tempfile
import time


def load_original(path):
    pkg = os.path.join(path, "tg4perfetto")
    spec = importlib.util.spec_from_file_location(
        "tg4perfetto_original", os.path.join(pkg, "__init__.py"), submodule_search_locations=[pkg]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["tg4perfetto_original"] = module
    spec.loader.exec_module(module)
    return module


def timed(run):
    """(CPU seconds, wall seconds, bytes) of one run of `run(path)` on a new file.

    CPU time is the process's (all its threads: tg4p's writer threads count), so
    it measures the work done, unlike wall time, also on a machine whose other
    processes keep the cores busy."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.perfetto-trace")
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        run(path)
        gc.collect()  # the original writes its file when its objects go
        return time.process_time() - cpu, time.perf_counter() - wall, os.path.getsize(path)


def best_of_all(repeat, *runs):
    """The fastest of `repeat` runs of each, all interleaved so that a busy
    machine slows them alike."""
    results = [[] for _ in runs]
    for _ in range(repeat):
        for run, result in zip(runs, results):
            result.append(timed(run))
    return [min(r) for r in results]


def traced_calls(lib, n, with_args):
    decorate = lib.trace_func_args if with_args else lib.trace_func

    @decorate
    def f(a, b, c):
        return a

    def run(path):
        with lib.open(path):
            for i in range(n):
                f(i, 2, 3)

    return run


def generator_events(lib, n):
    def run(path):
        tgen = lib.TraceGenerator(path)
        track = tgen.create_group("bench", "track")
        for i in range(n):
            track.open(2 * i, "work")
            track.close(2 * i + 1)
        if hasattr(tgen, "close"):
            tgen.close()  # tg4p; the original finishes when collected
        else:
            tgen.flush()
        del tgen, track

    return run


class _Floor:
    """The loops of the cases with nothing traced: what any Python-called tracer
    costs at least (the loop, the call of `f`, a call into C per event)."""

    @staticmethod
    def trace_func(f):
        return f

    trace_func_args = trace_func

    class open:
        def __init__(self, path):
            self.path = path

        def __enter__(self):
            return None

        def __exit__(self, *exc):
            with open(self.path, "wb"):
                return False

    class TraceGenerator:
        def __init__(self, path):
            self.path = path

        def create_group(self, name, track_name=None):
            return {}.fromkeys(())  # a dict: .open/.close below are C calls

        def flush(self):
            with open(self.path, "wb"):
                pass


class _FloorTrack(dict):
    open = dict.get
    close = dict.get


_Floor.TraceGenerator.create_group = lambda self, name, track_name=None: _FloorTrack()


def pyo3_floor(native):
    """The loops on no-op pyo3 classes shaped like ours (see the module docs)."""

    class Pyo3Floor(_Floor):
        trace_func = native._FloorFunction
        trace_func_args = native._FloorFunction

        class TraceGenerator(_Floor.TraceGenerator):
            def create_group(self, name, track_name=None):
                return native._FloorTrack()

    return Pyo3Floor


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--original", required=True, help="directory the original tg4perfetto is installed in")
    parser.add_argument("--calls", type=int, default=20_000, help="traced calls of the original")
    parser.add_argument("--events", type=int, default=100_000, help="generator events of the original")
    parser.add_argument("--scale", type=int, default=10, help="tg4p runs this many times more calls")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import tg4perfetto as ours
    from tg4perfetto import _tg4p

    original = load_original(args.original)
    floor_pyo3 = pyo3_floor(_tg4p)
    # (name, events per call, run of n calls)
    cases = [
        ("traced call", 2, lambda lib, n: traced_calls(lib, n, False)),
        ("traced call with args", 2, lambda lib, n: traced_calls(lib, n, True)),
        ("generator event", 1, lambda lib, n: generator_events(lib, n // 2)),
    ]
    print(f"python {sys.version.split()[0]}, best of {args.repeat}; CPU time per call (wall time per call)")
    print(
        f"{'case':<24}{'original':>22}{'tg4p':>20}{'ratio':>9}{'orig B/ev':>11}{'tg4p B/ev':>11}"
        f"{'C floor':>10}{'pyo3 floor':>12}{'cap':>8}"
    )
    ratios = {}
    for name, events_per_call, make in cases:
        n_orig = args.events if name == "generator event" else args.calls
        n_ours = n_orig * args.scale
        (c_orig, w_orig, b_orig), (c_ours, w_ours, b_ours), (c_floor, _, _), (c_pyo3, _, _) = best_of_all(
            args.repeat,
            make(original, n_orig),
            make(ours, n_ours),
            make(_Floor, n_ours),
            make(floor_pyo3, n_ours),
        )
        ratio = (c_orig / n_orig) / (c_ours / n_ours)
        cap = (c_orig / n_orig) / (c_pyo3 / n_ours)
        ratios[name] = ratio
        ns = lambda t, n: f"{t / n * 1e9:.0f} ns"
        print(
            f"{name:<24}{ns(c_orig, n_orig):>10} ({ns(w_orig, n_orig):>9}){ns(c_ours, n_ours):>8} ({ns(w_ours, n_ours):>8})"
            f"{ratio:>8.1f}x{b_orig / (n_orig * events_per_call):>11.1f}{b_ours / (n_ours * events_per_call):>11.1f}"
            f"{ns(c_floor, n_ours):>10}{ns(c_pyo3, n_ours):>12}{cap:>7.1f}x"
        )
    print("C floor: nothing traced (a plain call; a builtin's C method per generator event)")
    print("pyo3 floor: no-op pyo3 classes shaped like ours; cap: original / pyo3 floor")
    return ratios


if __name__ == "__main__":
    main()
