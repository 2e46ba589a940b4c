//! Throughput and size of `TraceGenerator` writing to a real file.
//!
//! Workload (issue 2): 4 tracks, 16 distinct names, timestamps from 10^12 ns in 1 us
//! steps (one step per event, tracks taken in turn), open/close pairs and instants.
//! Reports time per event next to one `Instant::now()` measured in the same run, and
//! bytes per event counted from the written file.
//!
//! `cargo bench --bench generator` (criterion's own figures, then a summary).

use criterion::Criterion;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tg4p::generator::{SliceTrack, TraceGenerator};

const TRACKS: usize = 4;
const START_NS: u64 = 1_000_000_000_000;
const STEP_NS: u64 = 1_000;

fn names() -> Vec<String> {
    (0..16).map(|i| format!("event_name_{i:02}")).collect()
}

/// Which events a run writes.
#[derive(Clone, Copy)]
enum Mix {
    /// On each track in turn: open, instant, close (two slice events, one instant).
    Mixed,
    /// Open/close pairs only.
    Slices,
    /// Instants only.
    Instants,
}

struct Workload {
    tracks: Vec<SliceTrack>,
    names: Vec<String>,
    mix: Mix,
    /// Events written so far (also the position in each track's cycle).
    n: u64,
}

impl Workload {
    fn new(tgen: &TraceGenerator, mix: Mix) -> Workload {
        let group = tgen.create_group("bench");
        let tracks = (0..TRACKS)
            .map(|i| group.create_track(&format!("track {i}")))
            .collect();
        Workload {
            tracks,
            names: names(),
            mix,
            n: 0,
        }
    }

    /// Writes `count` events.
    #[inline(never)]
    fn run(&mut self, count: u64) {
        for _ in 0..count {
            let n = self.n;
            let ts = START_NS + n * STEP_NS;
            let track = &self.tracks[n as usize % TRACKS];
            // The step of this track's own cycle, and a name that varies over 16.
            let round = n / TRACKS as u64;
            let name = &self.names[(round % 16) as usize];
            let result = match (self.mix, round % 3, round % 2) {
                (Mix::Mixed, 0, _) => track.open(ts, name),
                (Mix::Mixed, 1, _) => track.instant(ts, name),
                (Mix::Mixed, _, _) => track.close(ts),
                (Mix::Slices, _, 0) => track.open(ts, name),
                (Mix::Slices, _, _) => track.close(ts),
                (Mix::Instants, _, _) => track.instant(ts, name),
            };
            if let Err(e) = result {
                panic!("write failed: {e}");
            }
            self.n += 1;
        }
    }
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tg4p-bench-generator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes `events` events of `mix` to `path`; returns the elapsed time and file size.
fn write_file(path: &Path, mix: Mix, events: u64) -> (Duration, u64) {
    // Each run writes a new file. Creating it over the previous run's (truncating
    // ~140 MB) would time the file system freeing those blocks: 15 to 250 ms here, so
    // up to 25 ns per event, paid by every run but the first of a process.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("remove {path:?}: {e}"),
        _ => {}
    }
    let start = Instant::now();
    let tgen = TraceGenerator::create(path).expect("create trace file");
    let mut w = Workload::new(&tgen, mix);
    w.run(events);
    tgen.finish().expect("finish");
    let elapsed = start.elapsed();
    (elapsed, std::fs::metadata(path).expect("trace file").len())
}

fn ns_per_instant_now(calls: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        black_box(Instant::now());
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn main() {
    let dir = temp_dir();
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    c.bench_function("Instant::now", |b| b.iter(|| black_box(Instant::now())));
    let path = dir.join("criterion.pftrace");
    c.bench_function("generator event (mixed, to file)", |b| {
        b.iter_custom(|iters| {
            let tgen = TraceGenerator::create(&path).expect("create trace file");
            let mut w = Workload::new(&tgen, Mix::Mixed);
            let start = Instant::now();
            w.run(iters);
            tgen.finish().expect("finish");
            start.elapsed()
        })
    });
    c.final_summary();

    // Summary with the exact figures the issue asks for, from the same process.
    const EVENTS: u64 = 10_000_000;
    let now_ns = (0..3)
        .map(|_| ns_per_instant_now(EVENTS))
        .fold(f64::MAX, f64::min);
    println!(
        "\n== summary ({EVENTS} events per run, best of 3, file in {})",
        dir.display()
    );
    println!("Instant::now(): {now_ns:.1} ns per call");
    for (label, mix) in [
        ("mixed (open, instant, close)", Mix::Mixed),
        ("slices only (open/close)", Mix::Slices),
        ("instants only", Mix::Instants),
    ] {
        let path = dir.join("summary.pftrace");
        let (elapsed, bytes) = (0..3)
            .map(|_| write_file(&path, mix, EVENTS))
            .min_by_key(|(elapsed, _)| *elapsed)
            .expect("three runs");
        let ns = elapsed.as_nanos() as f64 / EVENTS as f64;
        println!(
            "{label}: {ns:.1} ns/event ({:.2} x Instant::now, {:.1} M events/s), {:.2} bytes/event",
            ns / now_ns,
            1e3 / ns,
            bytes as f64 / EVENTS as f64,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
