//! Reliability under load (issue 5): many threads, thread churn, and overload.
//! Every trace is decoded by the independent oracle in counting mode, packet by
//! packet, so the test's memory stays flat however many events there are.
//!
//! Sizes: `TG4P_LOAD_CALLS` (default 10000 top-level calls per thread) shrinks the
//! 64-thread test for a quick local run; CI runs the full size.

#[path = "reliability_support/mod.rs"]
mod support;

use std::io::{self, Write};
use std::time::Duration;
use support::*;
use tg4p::{Overflow, Session};
use tg4p_oracle::{Rule, TrackCounts, TrackKind};

/// The thread track named `name` and its counts.
fn thread_counts(trace: &tg4p_oracle::DecodedTrace, name: &str) -> TrackCounts {
    let tracks = trace.track_by_name(name);
    assert_eq!(tracks.len(), 1, "one track named {name}");
    assert!(
        matches!(tracks[0].kind, TrackKind::Thread { .. }),
        "{name} is a thread track"
    );
    trace.counts.track(tracks[0].uuid)
}

/// 64 threads x 10000 top-level calls nesting 2 more (about 4 million events),
/// plus instants and counters, under `Block` with a memory limit small enough that
/// producers do wait: every event is in the file, every slice balanced, each
/// thread on its own named track.
#[test]
fn block_policy_keeps_every_event_of_64_threads() {
    let _s = serial();
    const THREADS: u64 = 64;
    let calls = size("TG4P_LOAD_CALLS", 10_000);
    let path = temp("load64");
    let session = Session::builder()
        .path(&path)
        // 3 buffers per thread: each holds one, so producers regularly wait.
        .memory_limit(3 * THREADS as usize * tg4p::CHUNK_BYTES)
        .overflow(Overflow::Block)
        .start()
        .unwrap();
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("load-{t}"))
                .spawn(move || {
                    for i in 0..calls {
                        top();
                        if i % 10 == 0 {
                            tg4p::instant!("tick");
                            tg4p::count!("load_ticks" += 1);
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let recorded_at = std::time::Instant::now();
    let report = session.finish().unwrap();
    eprintln!(
        "recording {:?}, finish {:?}",
        started.elapsed(),
        recorded_at.elapsed()
    );
    let ticks = calls.div_ceil(10);
    let per_thread = calls * 6 + ticks;
    let expected = THREADS * (per_thread + ticks);
    assert_eq!(report.events_dropped, 0, "{report:?}");
    assert_eq!(report.events_written, expected, "{report:?}");
    assert_eq!(report.threads, THREADS);

    let decode_start = std::time::Instant::now();
    let trace = count(&path);
    eprintln!("decode {:?}", decode_start.elapsed());
    trace.assert_valid(); // also: no slice unbalanced, no packet corrupt
    assert_eq!(trace.counts.total().events(), expected);
    for t in 0..THREADS {
        let c = thread_counts(&trace, &format!("load-{t}"));
        assert_eq!((c.begins, c.ends), (3 * calls, 3 * calls), "load-{t}");
        assert_eq!(c.instants, ticks, "load-{t}");
        assert_eq!((c.max_depth, c.unmatched_ends, c.open_at_end), (3, 0, 0));
    }
    let counter = trace.track_by_name("load_ticks");
    assert_eq!(
        trace.counts.track(counter[0].uuid).counters,
        THREADS * ticks
    );
    std::fs::remove_file(&path).ok();
}

/// 1000 short-lived threads, 20 at a time, under `Block` with room for 64 buffers:
/// all their events are there, and the buffers of exited threads are recycled
/// (without recycling, thread 65 would wait for ever).
#[test]
fn thread_churn_loses_nothing_and_recycles_buffers() {
    let _s = serial();
    const THREADS: usize = 1000;
    const WAVE: usize = 20;
    let path = temp("churn");
    let session = Session::builder()
        .path(&path)
        .memory_limit(64 * tg4p::CHUNK_BYTES)
        .overflow(Overflow::Block)
        .start()
        .unwrap();
    for wave in 0..THREADS / WAVE {
        let threads: Vec<_> = (0..WAVE)
            .map(|k| {
                std::thread::Builder::new()
                    .name(format!("churn-{}", wave * WAVE + k))
                    .spawn(|| {
                        for _ in 0..5 {
                            top();
                        }
                        tg4p::instant!("bye");
                    })
                    .unwrap()
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
    }
    let report = session.finish().unwrap();
    assert_eq!(report.threads, THREADS as u64);
    assert_eq!(report.events_written, THREADS as u64 * 31);
    assert!(report.buffers_allocated <= 64, "{report:?}");
    let trace = count(&path);
    trace.assert_valid();
    for t in 0..THREADS {
        let c = thread_counts(&trace, &format!("churn-{t}"));
        assert_eq!((c.begins, c.ends, c.instants), (15, 15, 1), "churn-{t}");
    }
    std::fs::remove_file(&path).ok();
}

/// An `io::Write` that takes 2 ms per 4 KiB (2 MB/s): far slower than producers.
struct SlowWriter(std::fs::File);

impl Write for SlowWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(4096);
        std::thread::sleep(Duration::from_millis(2));
        self.0.write(&buf[..n])
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

const OVERLOAD_LIMIT: usize = 32 * tg4p::CHUNK_BYTES; // 2 MiB
const OVERLOAD_THREADS: u64 = 4;
const OVERLOAD_CALLS: u64 = 50_000;

/// Child: producers far faster than a slow writer, `Drop` policy. Prints the
/// report and the growth of its peak RSS while the session ran.
fn overload_child() {
    // Touch what the session will need anyway (clock calibration, thread
    // machinery) before the baseline is taken.
    std::thread::spawn(|| ()).join().unwrap();
    let baseline = peak_rss();
    let file = std::fs::File::create(child_path()).unwrap();
    let session = Session::builder()
        .writer(SlowWriter(file))
        .memory_limit(OVERLOAD_LIMIT)
        .overflow(Overflow::Drop)
        .start()
        .unwrap();
    let threads: Vec<_> = (0..OVERLOAD_THREADS)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("producer-{t}"))
                .spawn(|| (0..OVERLOAD_CALLS).for_each(|_| top()))
                .unwrap()
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let report = session.finish().unwrap();
    println!("written={}", report.events_written);
    println!("dropped={}", report.events_dropped);
    println!("buffers={}", report.buffers_allocated);
    println!("peak_growth={}", peak_rss().saturating_sub(baseline));
}

/// Overload under `Drop`, in a child process so that the harness's own memory does
/// not count: memory stays under the documented bound, the trace stays valid,
/// recorded == written + dropped, loss is marked, every written slice is balanced.
#[test]
fn drop_policy_under_overload_bounds_memory_and_marks_loss() {
    let path = temp("overload");
    let out = child_command("child", "overload", &path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = reported(&stdout, "written");
    let dropped = reported(&stdout, "dropped");
    let buffers = reported(&stdout, "buffers");
    let growth = reported(&stdout, "peak_growth");
    let recorded = OVERLOAD_THREADS * OVERLOAD_CALLS * 6;
    assert_eq!(written + dropped, recorded, "{stdout}");
    assert!(dropped > 0, "the writer was meant to fall behind: {stdout}");
    assert!(buffers as usize <= OVERLOAD_LIMIT / tg4p::CHUNK_BYTES);
    // The documented bound (RELIABILITY.md): the memory limit, plus the writer's
    // output (at most about the limit again while it encodes a backlog, plus its
    // 1 MiB write buffer), plus a few MiB for threads' stacks and the allocator.
    let bound = 2 * OVERLOAD_LIMIT as u64 + (1 << 20) + (4 << 20);
    assert!(
        growth <= bound,
        "peak RSS grew by {growth} bytes, bound {bound}"
    );
    let trace = count(&path);
    trace.assert_valid(); // every written slice balanced, nothing corrupt
    assert_eq!(trace.counts.total().events(), written);
    assert!(trace.dropped_markers > 0, "loss is marked in the trace");
    assert!(!trace.has_violation(Rule::UnbalancedEnd));
    std::fs::remove_file(&path).ok();
}

/// Entry point of the child processes of this file (a no-op in a normal run).
#[test]
fn child() {
    match child_scenario().as_deref() {
        None => {}
        Some("overload") => overload_child(),
        Some(other) => panic!("unknown scenario {other}"),
    }
}
