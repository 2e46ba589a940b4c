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
- floor: the same loop with nothing traced, what any tracer called from Python
  per event costs at least.
The ratio is original / tg4p CPU time per call (how many times faster tg4p is).
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


def best_of_both(repeat, run_a, run_b):
    """The fastest of `repeat` runs of each, the two interleaved so that a busy
    machine slows both alike."""
    a, b = [], []
    for _ in range(repeat):
        a.append(timed(run_a))
        b.append(timed(run_b))
    return min(a), min(b)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--original", required=True, help="directory the original tg4perfetto is installed in")
    parser.add_argument("--calls", type=int, default=20_000, help="traced calls of the original")
    parser.add_argument("--events", type=int, default=100_000, help="generator events of the original")
    parser.add_argument("--scale", type=int, default=10, help="tg4p runs this many times more calls")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import tg4perfetto as ours

    original = load_original(args.original)
    # (name, events per call, run of n calls)
    cases = [
        ("traced call", 2, lambda lib, n: traced_calls(lib, n, False)),
        ("traced call with args", 2, lambda lib, n: traced_calls(lib, n, True)),
        ("generator event", 1, lambda lib, n: generator_events(lib, n // 2)),
    ]
    print(f"python {sys.version.split()[0]}, best of {args.repeat}; CPU time per call (wall time per call)")
    print(f"{'case':<24}{'original':>22}{'tg4p':>20}{'ratio':>9}{'orig B/ev':>11}{'tg4p B/ev':>11}{'floor':>10}")
    ratios = {}
    for name, events_per_call, make in cases:
        n_orig = args.events if name == "generator event" else args.calls
        n_ours = n_orig * args.scale
        (c_orig, w_orig, b_orig), (c_ours, w_ours, b_ours) = best_of_both(
            args.repeat, make(original, n_orig), make(ours, n_ours)
        )
        ratio = (c_orig / n_orig) / (c_ours / n_ours)
        ratios[name] = ratio
        floor = min(timed(make(_Floor, n_ours))[0] for _ in range(args.repeat))
        ns = lambda t, n: f"{t / n * 1e9:.0f} ns"
        print(
            f"{name:<24}{ns(c_orig, n_orig):>10} ({ns(w_orig, n_orig):>9}){ns(c_ours, n_ours):>8} ({ns(w_ours, n_ours):>8})"
            f"{ratio:>8.1f}x{b_orig / (n_orig * events_per_call):>11.1f}{b_ours / (n_ours * events_per_call):>11.1f}"
            f"{ns(floor, n_ours):>10}"
        )
    print("floor: the same loop with nothing traced (a plain call; a C method call per generator event)")
    return ratios


if __name__ == "__main__":
    main()
