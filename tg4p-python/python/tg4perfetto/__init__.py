"""tg4perfetto on tg4p: the API of the pure-Python tg4perfetto library, with
tg4p's Rust engine writing the Perfetto trace.

Live tracing:  open, stop, trace, instant, trace_func, trace_func_args, track, count
Traces from data:  TraceGenerator (create_group, create_track, create_counter_track,
flush, close) and its handles Group, NormalTrack, CounterTrack.
"""

from ._tg4p import (
    CounterTrack,
    Group,
    NormalTrack,
    TraceGenerator,
    count,
    instant,
    open,
    stop,
    trace,
    trace_func,
    trace_func_args,
    track,
)

# The original's name for a nested group (ours has the whole Group API).
GroupTrack = Group

__all__ = [
    "CounterTrack",
    "Group",
    "GroupTrack",
    "NormalTrack",
    "TraceGenerator",
    "count",
    "instant",
    "open",
    "stop",
    "trace",
    "trace_func",
    "trace_func_args",
    "track",
]
