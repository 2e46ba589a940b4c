//! Reliability under faults (issue 5): unwritable paths, failing and panicking
//! writers, crashed processes, panics through traced code, `finish` while threads
//! record, and many sessions in one process. Traces are decoded by the independent
//! oracle.

#[path = "reliability_support/mod.rs"]
mod support;

use std::io::{self, BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use support::*;
use tg4p::Track;
use tg4p::{Overflow, Session, SessionError};
use tg4p_oracle::{DecodedTrace, Rule};

/// Runs `f` on a thread and fails the test if it takes longer than `secs`: a hang
/// is a failure, not a stuck CI job.
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what} hung (more than {secs} s)"))
}

fn slices_named(trace: &DecodedTrace, name: &str) -> usize {
    trace.slices_named(name).len()
}

// ---------------------------------------------------------------- bad paths

#[test]
fn unusable_paths_are_typed_errors_and_a_later_open_works() {
    let _s = serial();
    let dir = temp("paths");
    std::fs::create_dir_all(&dir).unwrap();
    let regular = dir.join("regular-file");
    std::fs::write(&regular, b"not a directory").unwrap();
    let cases = [
        ("missing directory", dir.join("no/such/dir/trace.pftrace")),
        (
            "path through a regular file (ENOTDIR)",
            regular.join("trace.pftrace"),
        ),
        ("a directory", dir.clone()),
    ];
    for (what, path) in cases {
        match tg4p::open(&path) {
            Err(SessionError::Create { path: p, source }) => {
                assert_eq!(p, path, "{what}");
                assert!(source.raw_os_error().is_some(), "{what}: {source}");
            }
            other => panic!("{what}: expected SessionError::Create, got {other:?}"),
        }
        leaf(); // instrumented code runs on, recording nothing
    }
    let good = dir.join("good.pftrace");
    let session = tg4p::open(&good).unwrap();
    leaf();
    session.finish().unwrap();
    let trace = tg4p_oracle::decode_file(&good).unwrap();
    trace.assert_valid();
    assert_eq!(slices_named(&trace, "leaf"), 1);
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------- failing writes

/// Records on two threads for a while; returns the events attempted.
fn record_on_two_threads(calls: u64) -> u64 {
    let threads: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || (0..calls).for_each(|_| top())))
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    2 * calls * 6
}

#[test]
fn dev_full_fails_finish_not_the_program() {
    let _s = serial();
    let session = tg4p::open("/dev/full").unwrap();
    record_on_two_threads(20_000);
    match within(30, "finish", move || session.finish()) {
        Err(SessionError::Write { path, source }) => {
            assert_eq!(path, std::path::Path::new("/dev/full"));
            assert_eq!(source.raw_os_error(), Some(libc_enospc()), "{source}");
        }
        other => panic!("expected a write error, got {other:?}"),
    }
    // The next session is unaffected.
    let path = temp("after-dev-full");
    let session = tg4p::open(&path).unwrap();
    leaf();
    session.finish().unwrap();
    assert_eq!(
        slices_named(&tg4p_oracle::decode_file(&path).unwrap(), "leaf"),
        1
    );
    std::fs::remove_file(&path).ok();
}

fn libc_enospc() -> i32 {
    28 // ENOSPC on Linux
}

/// Keeps what it was given in shared memory, and fails once it holds `limit` bytes
/// (after a short write, like a disk that fills up mid-write).
#[derive(Clone)]
struct FailAfter {
    bytes: Arc<Mutex<Vec<u8>>>,
    limit: usize,
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = self.bytes.lock().unwrap();
        let room = self.limit - bytes.len();
        if room == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = room.min(buf.len());
        bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn writes_failing_mid_trace_keep_what_was_written() {
    let _s = serial();
    let sink = FailAfter {
        bytes: Arc::default(),
        limit: 100_000,
    };
    let session = Session::builder().writer(sink.clone()).start().unwrap();
    record_on_two_threads(20_000);
    match within(30, "finish", move || session.finish()) {
        Err(SessionError::Write { source, .. }) => {
            assert_eq!(source.to_string(), "disk on fire")
        }
        other => panic!("expected a write error, got {other:?}"),
    }
    let bytes = sink.bytes.lock().unwrap().clone();
    assert_eq!(bytes.len(), 100_000);
    let trace = tg4p_oracle::decode_bytes(&bytes).unwrap();
    // Every complete packet decodes; only the cut one and the slices it left
    // open are missing.
    trace.assert_valid_except(&[Rule::Truncated, Rule::DidNotEnd]);
    assert!(
        slices_named(&trace, "leaf") > 1000,
        "what was written before the failure is there"
    );
}

/// Panics on its first write after `after` bytes.
struct PanicAfter {
    written: usize,
    after: usize,
}

impl Write for PanicAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written >= self.after {
            panic!("injected writer panic");
        }
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panicking_writer_is_reported_by_finish_never_a_hang() {
    let _s = serial();
    for overflow in [Overflow::Drop, Overflow::Block] {
        let session = Session::builder()
            .writer(PanicAfter {
                written: 0,
                after: 10_000,
            })
            // Few buffers: under Block, producers soon wait on the dead writer.
            .memory_limit(4 * tg4p::CHUNK_BYTES)
            .overflow(overflow)
            .start()
            .unwrap();
        within(60, "recording with a dead writer", || {
            record_on_two_threads(50_000)
        });
        match within(30, "finish", move || session.finish()) {
            Err(SessionError::WriterPanicked(msg)) => {
                assert!(msg.contains("injected writer panic"), "{msg}")
            }
            other => panic!("{overflow:?}: expected WriterPanicked, got {other:?}"),
        }
    }
    // A later session works.
    let path = temp("after-panic");
    let session = tg4p::open(&path).unwrap();
    leaf();
    session.finish().unwrap();
    tg4p_oracle::decode_file(&path).unwrap().assert_valid();
    std::fs::remove_file(&path).ok();
}

// ---------------------------------------------------------------- crashes

const PHASE1_CALLS: u64 = 5_000;

#[tg4p::trace]
fn after_last_drain() {
    std::thread::sleep(Duration::from_millis(1));
}

/// Child: a worker records `PHASE1_CALLS` top-level calls, then waits for more
/// than two drain intervals (so the writer drained and wrote them), says so on
/// stdout, and goes on recording until the process dies as `how` says.
fn crash_child(how: &str) {
    // Never finished: the process dies with the session open.
    let _session = tg4p::open(child_path()).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("crash-worker".into())
        .spawn(move || {
            (0..PHASE1_CALLS).for_each(|_| top());
            tx.send(()).unwrap();
            loop {
                after_last_drain();
            }
        })
        .unwrap();
    rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(350));
    println!("\nPHASE1_DONE");
    io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    match how {
        "exit" => std::process::exit(0),
        "abort" => {
            std::panic::set_hook(Box::new(|_| std::process::abort()));
            panic!("abort from the panic hook");
        }
        _ => loop {
            std::thread::sleep(Duration::from_secs(1)); // until SIGKILL
        },
    }
}

/// Runs the crash child `how`; returns its decoded trace.
fn crashed_trace(how: &str) -> (std::process::ExitStatus, DecodedTrace) {
    let path = temp(&format!("crash-{how}"));
    let mut child = child_command("child", how, &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut seen = false;
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("PHASE1_DONE") {
            seen = true;
            if how == "kill" {
                child.kill().unwrap(); // SIGKILL
            }
            break;
        }
    }
    assert!(seen, "child {how} never reached its marker");
    let status = within(30, "crashed child", move || child.wait().unwrap());
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    std::fs::remove_file(&path).ok();
    (status, trace)
}

fn assert_complete_up_to_last_drain(how: &str, trace: &DecodedTrace) {
    // Every complete packet decodes; the crash may cut the last one and leave
    // slices open, nothing else.
    trace.assert_valid_except(&[Rule::Truncated, Rule::DidNotEnd]);
    for name in ["top", "middle", "leaf"] {
        let slices = trace.slices_named(name);
        assert_eq!(slices.len() as u64, PHASE1_CALLS, "{how}: {name}");
        assert!(slices.iter().all(|s| s.end_ts.is_some()), "{how}: {name}");
    }
    let worker = trace.track_by_name("crash-worker");
    assert_eq!(worker.len(), 1, "{how}");
}

#[test]
fn sigkill_while_recording_keeps_everything_up_to_the_last_drain() {
    use std::os::unix::process::ExitStatusExt;
    let (status, trace) = crashed_trace("kill");
    assert_eq!(status.signal(), Some(9));
    assert_complete_up_to_last_drain("kill", &trace);
}

#[test]
fn process_exit_without_finish_keeps_everything_up_to_the_last_drain() {
    let (status, trace) = crashed_trace("exit");
    assert!(status.success());
    assert_complete_up_to_last_drain("exit", &trace);
}

#[test]
fn abort_from_a_panic_hook_keeps_everything_up_to_the_last_drain() {
    use std::os::unix::process::ExitStatusExt;
    let (status, trace) = crashed_trace("abort");
    assert_eq!(status.signal(), Some(6), "SIGABRT");
    assert_complete_up_to_last_drain("abort", &trace);
}

// ---------------------------------------------------------------- panics

static PANIC_TRACK: Track = Track::new("PANIC_TRACK");

#[tg4p::trace]
fn explode(depth: u32) {
    if depth == 0 {
        panic!("deep panic");
    }
    explode(depth - 1);
}

#[test]
fn panics_unwinding_through_traced_code_close_every_slice() {
    let _s = serial();
    let path = temp("unwind");
    let session = tg4p::open(&path).unwrap();
    // Caught on the thread.
    let caught = std::thread::Builder::new()
        .name("caught".into())
        .spawn(|| {
            let r = std::panic::catch_unwind(|| {
                let _outer = PANIC_TRACK.span("outer span");
                let _named = tg4p::span!("named span", n = 1);
                explode(4);
            });
            assert!(r.is_err());
            leaf(); // the thread records on after the panic
        })
        .unwrap();
    caught.join().unwrap();
    // Not caught: the thread dies of it.
    let died = std::thread::Builder::new()
        .name("died".into())
        .spawn(|| explode(2))
        .unwrap();
    assert!(died.join().is_err());
    session.finish().unwrap();
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    trace.assert_valid(); // in particular: no DidNotEnd
    let on = |thread: &str| {
        let track = trace.track_by_name(thread)[0].uuid;
        trace
            .slices_on(track)
            .into_iter()
            .map(|s| (s.name.clone().unwrap(), s.depth, s.end_ts.is_some()))
            .collect::<Vec<_>>()
    };
    let caught = on("caught");
    assert_eq!(caught.len(), 1 + 5 + 1, "{caught:?}");
    assert!(caught.iter().all(|s| s.2), "{caught:?}");
    assert_eq!(caught.last().unwrap(), &("leaf".into(), 0, true));
    let died = on("died");
    assert_eq!(died.len(), 3, "{died:?}");
    assert!(died.iter().all(|s| s.2), "{died:?}");
    let outer = trace.slices_named("outer span");
    assert!(outer[0].end_ts.is_some());
    std::fs::remove_file(&path).ok();
}

// ---------------------------------------------------------------- finish while recording

/// `finish` while 4 threads keep recording: no hang, no torn packet, and every
/// event recorded before `finish` began is in the file. Once with room to spare
/// (`Drop`), once with producers blocked on a full pool (`Block`).
#[test]
fn finish_while_threads_record() {
    let _s = serial();
    for (overflow, limit) in [
        (Overflow::Drop, tg4p::DEFAULT_MEMORY_LIMIT),
        (Overflow::Block, 2 * tg4p::CHUNK_BYTES),
    ] {
        let path = temp("finish-while-recording");
        let session = Session::builder()
            .path(&path)
            .memory_limit(limit)
            .overflow(overflow)
            .start()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let progress: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (stop, progress) = (stop.clone(), progress.clone());
                std::thread::Builder::new()
                    .name(format!("busy-{i}"))
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            top();
                            // Release: a snapshot that sees n sees n complete calls.
                            progress[i].fetch_add(1, Ordering::Release);
                        }
                    })
                    .unwrap()
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let before: Vec<u64> = progress.iter().map(|p| p.load(Ordering::Acquire)).collect();
        let report = within(30, "finish", move || session.finish()).unwrap();
        stop.store(true, Ordering::Relaxed);
        threads.into_iter().for_each(|t| t.join().unwrap());
        let trace = count(&path);
        // A slice open when the gate closed has no end; nothing else is wrong.
        trace.assert_valid_except(&[Rule::DidNotEnd]);
        // The work has no instants: any in the trace mark a loss (issue 14).
        let total = trace.counts.total();
        assert_eq!(total.events() - total.instants, report.events_written);
        assert!(
            total.instants == 0 || report.events_dropped > 0,
            "{report:?}"
        );
        for (i, &n) in before.iter().enumerate() {
            let Some(track) = trace
                .track_by_name(&format!("busy-{i}"))
                .first()
                .map(|t| t.uuid)
            else {
                assert_eq!(n, 0, "{overflow:?} busy-{i} recorded but has no track");
                continue;
            };
            let c = trace.counts.track(track);
            // Under `Drop` the writer (a debug build's, with four threads
            // recording on two cores) may fall behind until memory is full: the
            // events dropped then (counted, and marked) are all that may be
            // missing.
            let lost = match overflow {
                Overflow::Drop => report.events_dropped,
                _ => 0,
            };
            assert!(
                c.ends + lost >= 3 * n,
                "{overflow:?} busy-{i}: {} ends, {n} calls done before finish; {report:?}",
                c.ends
            );
        }
        std::fs::remove_file(&path).ok();
    }
}

// ---------------------------------------------------------------- restarts

/// 30 sessions in a row, with a long-lived thread recording in each: every file is
/// complete and holds exactly its own session's events.
#[test]
fn many_sessions_in_one_process_are_complete_and_independent() {
    let _s = serial();
    let (work_tx, work_rx) = mpsc::channel::<u64>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let helper = std::thread::Builder::new()
        .name("restart-helper".into())
        .spawn(move || {
            for k in work_rx {
                (0..=k).for_each(|_| leaf());
                done_tx.send(()).unwrap();
            }
        })
        .unwrap();
    let mut paths = Vec::new();
    for k in 0..30u64 {
        let path = temp(&format!("restart-{k}"));
        let session = tg4p::open(&path).unwrap();
        work_tx.send(k).unwrap();
        done_rx.recv().unwrap();
        tg4p::count!("restarts" = k);
        let _open = tg4p::span!("straddles the end of session");
        session.finish().unwrap();
        paths.push(path);
    }
    drop(work_tx);
    helper.join().unwrap();
    for (k, path) in paths.iter().enumerate() {
        let trace = tg4p_oracle::decode_file(path).unwrap();
        trace.assert_valid_except(&[Rule::DidNotEnd]);
        let helper = trace.track_by_name("restart-helper");
        assert_eq!(trace.slices_on(helper[0].uuid).len(), k + 1, "session {k}");
        let restarts = trace.track_by_name("restarts");
        let samples: Vec<_> = trace.events_on(restarts[0].uuid).map(|e| e.kind).collect();
        assert_eq!(
            samples,
            [tg4p_oracle::EventKind::Counter(
                tg4p_oracle::CounterValue::Int(k as i64)
            )]
        );
        assert_eq!(trace.slices_named("straddles the end of session").len(), 1);
        std::fs::remove_file(path).ok();
    }
}

/// Entry point of the child processes of this file (a no-op in a normal run).
#[test]
fn child() {
    match child_scenario().as_deref() {
        None => {}
        Some(how @ ("kill" | "exit" | "abort")) => crash_child(how),
        Some(other) => panic!("unknown scenario {other}"),
    }
}

/// `Block` with fewer buffers than threads (the minimum of two, four threads):
/// producers wait for each other but never for ever, and nothing is lost.
#[test]
fn block_policy_with_fewer_buffers_than_threads_never_stalls() {
    let _s = serial();
    let path = temp("block-starved");
    let session = Session::builder()
        .path(&path)
        .memory_limit(2 * tg4p::CHUNK_BYTES)
        .overflow(Overflow::Block)
        .start()
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            std::thread::Builder::new()
                .name(format!("starved-{i}"))
                .spawn(|| (0..20_000).for_each(|_| top()))
                .unwrap()
        })
        .collect();
    within(60, "producers under Block", move || {
        threads.into_iter().for_each(|t| t.join().unwrap())
    });
    let report = session.finish().unwrap();
    assert_eq!(
        (report.events_written, report.events_dropped),
        (4 * 20_000 * 6, 0)
    );
    let trace = count(&path);
    trace.assert_valid();
    for i in 0..4 {
        let track = trace.track_by_name(&format!("starved-{i}"))[0].uuid;
        assert_eq!(trace.counts.track(track).ends, 60_000);
    }
    std::fs::remove_file(&path).ok();
}
