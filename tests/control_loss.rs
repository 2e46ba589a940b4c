//! Loss a user can see (issue 14): a trace that lost events says so in
//! trace_processor's `stats` (a `trace_stats` packet at its end, read by the oracle
//! as trace_processor reads it) and marks where on each thread's timeline the
//! events were lost.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;
use tg4p::{Overflow, Report, Session};
use tg4p_oracle::{Arg, DecodedTrace, EventKind, TrackKind};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

#[tg4p::trace]
fn top() {
    middle();
}

#[tg4p::trace]
fn middle() {
    leaf();
}

#[tg4p::trace]
fn leaf() {
    std::hint::black_box(());
}

/// Bytes shared with the test.
type Bytes = Arc<Mutex<Vec<u8>>>;

/// A writer taking 1 ms per 4 KiB, far slower than the producers, first held until
/// `release` says go (or forever if `release` is `None`).
struct SlowWriter {
    release: Option<mpsc::Receiver<()>>,
    out: Bytes,
}

impl Write for SlowWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(r) = self.release.take() {
            let _ = r.recv();
        }
        let n = buf.len().min(4096);
        std::thread::sleep(Duration::from_millis(1));
        self.out.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A session with the default memory bound and overflow policy, writing into
/// `bytes` through a [`SlowWriter`] that is never held.
fn slow_session(bytes: &Bytes) -> Session {
    Session::builder()
        .writer(SlowWriter {
            release: None,
            out: bytes.clone(),
        })
        .start()
        .unwrap()
}

/// The loss markers of `trace`, checked to be instants on thread tracks.
fn loss_markers(trace: &DecodedTrace) -> Vec<(u64, u64)> {
    trace
        .events_named(tg4p::LOSS_MARKER)
        .map(|e| {
            assert_eq!(e.kind, EventKind::Instant, "{e:?}");
            let track = &trace.tracks[&e.track];
            assert!(
                matches!(track.kind, TrackKind::Thread { .. }),
                "marked on a thread's track: {track:?}"
            );
            let Some(&Arg::Uint(count)) = e.arg("count") else {
                panic!("a loss marker says how many: {e:?}");
            };
            assert!(count > 0, "{e:?}");
            (e.track, count)
        })
        .collect()
}

/// What every lossy trace must show: its markers add up to the report's drops,
/// its events are the report's, and trace_processor's data-loss stat equals them.
fn assert_loss_visible(trace: &DecodedTrace, report: &Report) {
    trace.assert_valid();
    let markers = loss_markers(trace);
    let marked: u64 = markers.iter().map(|&(_, c)| c).sum();
    assert_eq!(marked, report.events_dropped, "{report:?}");
    let user_events = trace
        .events
        .iter()
        .filter(|e| e.name.as_deref() != Some(tg4p::LOSS_MARKER))
        .count();
    assert_eq!(user_events as u64, report.events_written);
    assert_eq!(trace.loss.trace_stats_packets, 1);
    assert_stats_count_the_loss(trace, report);
}

/// The trace's `trace_stats` hold the loss the report counts, as a data-loss stat.
fn assert_stats_count_the_loss(trace: &DecodedTrace, report: &Report) {
    assert_eq!(
        trace.loss.trace_writer_packet_loss.get(&0),
        Some(&report.events_dropped),
        "{:?}",
        trace.loss
    );
    assert!(trace.loss.data_loss() >= report.events_dropped);
}

#[test]
fn overload_loss_is_a_data_loss_stat_and_marked_where_it_happened() {
    let _s = serial();
    let bytes = Bytes::default();
    let session = Session::builder()
        .writer(SlowWriter {
            release: None,
            out: bytes.clone(),
        })
        .memory_limit(4 * tg4p::CHUNK_BYTES)
        .overflow(Overflow::Drop)
        .drain_interval(Duration::from_millis(5))
        .start()
        .unwrap();
    const THREADS: u64 = 3;
    const CALLS: u64 = 30_000;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("busy-{t}"))
                .spawn(|| (0..CALLS).for_each(|_| top()))
                .unwrap()
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let report = session.finish().unwrap();
    assert!(report.events_dropped > 0, "meant to overload: {report:?}");
    assert_eq!(
        report.events_written + report.events_dropped,
        THREADS * CALLS * 6
    );
    let trace = tg4p_oracle::decode_bytes(&bytes.lock().unwrap()).unwrap();
    assert_loss_visible(&trace, &report);
    // Losses in mid-run restart their sequence with `previous_packet_dropped`,
    // which trace_processor counts per sequence named in the stats.
    assert!(trace.loss.sequence_packet_loss.get(&0).copied() > Some(0));
    // Each marker is on the track of a thread that lost events.
    for (track, _) in loss_markers(&trace) {
        let name = trace.tracks[&track].display_name().unwrap_or_default();
        assert!(name.starts_with("busy-"), "{name}");
    }
}

#[test]
fn loss_a_thread_never_announced_is_marked_after_its_last_event() {
    let _s = serial();
    // Held writer, two buffers: the thread fills them, then drops everything else
    // and exits without room to announce it.
    let (release, held) = mpsc::channel();
    let bytes = Bytes::default();
    let session = Session::builder()
        .writer(SlowWriter {
            release: Some(held),
            out: bytes.clone(),
        })
        .memory_limit(2 * tg4p::CHUNK_BYTES)
        .overflow(Overflow::Drop)
        .start()
        .unwrap();
    let calls = (2 * tg4p::CHUNK_BYTES / 32) as u64 * 2;
    std::thread::Builder::new()
        .name("filler".into())
        .spawn(move || (0..calls).for_each(|_| leaf()))
        .unwrap()
        .join()
        .unwrap();
    release.send(()).unwrap();
    let report = session.finish().unwrap();
    assert!(report.events_dropped > 0, "{report:?}");
    let trace = tg4p_oracle::decode_bytes(&bytes.lock().unwrap()).unwrap();
    assert_loss_visible(&trace, &report);
    let markers = loss_markers(&trace);
    assert_eq!(markers.len(), 1, "one loss, at the end");
    let (track, _) = markers[0];
    let on_track: Vec<_> = trace.events_on(track).collect();
    let [.., before, last] = on_track[..] else {
        panic!("events, then the marker: {on_track:?}");
    };
    assert_eq!(last.name.as_deref(), Some(tg4p::LOSS_MARKER));
    assert_ne!(before.name.as_deref(), Some(tg4p::LOSS_MARKER));
    assert!(before.ts <= last.ts);
}

#[test]
fn a_trace_without_loss_says_none_was_lost() {
    let _s = serial();
    let bytes = Bytes::default();
    let session = slow_session(&bytes);
    (0..100).for_each(|_| top());
    let report = session.finish().unwrap();
    assert_eq!(report.events_dropped, 0);
    let trace = tg4p_oracle::decode_bytes(&bytes.lock().unwrap()).unwrap();
    assert_loss_visible(&trace, &report);
    assert!(loss_markers(&trace).is_empty());
    assert_eq!(trace.loss.data_loss(), 0);
    assert_eq!(trace.events.len(), 600);
}

static EXIT_TRACK: tg4p::Track = tg4p::Track::new("exit track");

/// Records from its destructor, at thread exit: a thread-local registered before
/// tg4p's own thread state, so destroyed after it (thread-local destructors run in
/// reverse order of registration).
struct RecordsAtExit;

impl Drop for RecordsAtExit {
    fn drop(&mut self) {
        leaf();
        tg4p::instant!("at exit");
        let _on_track = tg4p::span!(EXIT_TRACK, "at exit on a track");
    }
}

thread_local! {
    static AT_EXIT: RecordsAtExit = const { RecordsAtExit };
}

#[test]
fn events_recorded_after_the_threads_state_is_gone_are_counted_as_lost() {
    let _s = serial();
    let bytes = Bytes::default();
    let session = slow_session(&bytes);
    std::thread::spawn(|| {
        AT_EXIT.with(|_| ()); // registered first: destroyed last
        top();
    })
    .join()
    .unwrap();
    let report = session.finish().unwrap();
    // The slice, the instant and the custom-track slice of the destructor: none
    // could be recorded, each counts.
    assert_eq!(report.events_dropped, 3, "{report:?}");
    let trace = tg4p_oracle::decode_bytes(&bytes.lock().unwrap()).unwrap();
    trace.assert_valid();
    assert_eq!(trace.events.len() as u64, report.events_written);
    assert_eq!(
        trace.events.len(),
        6,
        "top, middle and leaf, begun and ended"
    );
    assert_stats_count_the_loss(&trace, &report);
}
