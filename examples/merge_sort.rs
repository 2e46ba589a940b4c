//! The seed's `example_profile.py` in Rust: a threaded merge sort, traced.
//!
//! ```text
//! cargo run --release --example merge_sort -- OUT.pftrace
//! ```
//! (default path `tg4p.perfetto-trace`), then open the file in <https://ui.perfetto.dev>.
//!
//! The trace holds: 63 `merge_sort` slices on thread tracks, 31 `merge` slices with
//! their 3 arguments, 6 `INVOKE_THREAD` and 12 `START_THREAD` instants (6 on
//! TOP_TRACK), 12 samples of `num_active_threads`, 13 flows, 7 named thread tracks
//! and one TOP_TRACK.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// A counter: integers or floats over time.
static ACTIVE: tg4p::Counter = tg4p::Counter::new("num_active_threads");

/// A custom track. Events go to their thread's track unless given one.
static TOP: tg4p::Track = tg4p::Track::new("TOP_TRACK");

/// A slice per call on the thread's track, with each argument's `Debug` text
/// (bounded to 1 KiB per value).
#[tg4p::trace_args]
fn merge(x: &mut [u32], a: &[u32], b: &[u32]) {
    let (mut i, mut j) = (0, 0);
    for slot in x.iter_mut() {
        if j >= b.len() || (i < a.len() && a[i] <= b[j]) {
            *slot = a[i];
            i += 1;
        } else {
            *slot = b[j];
            j += 1;
        }
    }
}

fn merge_sort_threaded(x: Vec<u32>) -> JoinHandle<Vec<u32>> {
    static WORKERS: AtomicUsize = AtomicUsize::new(0);
    // An instant with two new flows, each ending at one of the START_THREADs below.
    let [to_thread, to_top] = tg4p::instant!("INVOKE_THREAD", outgoing = 2);
    let n = WORKERS.fetch_add(1, Ordering::Relaxed) + 1;
    std::thread::Builder::new()
        .name(format!("sort-worker-{n}"))
        .spawn(move || {
            tg4p::instant!("START_THREAD", incoming = [to_thread]);
            tg4p::instant!(TOP, "START_THREAD", incoming = [to_top]);
            merge_sort(x)
        })
        .expect("spawn a sort worker")
}

/// A slice per call on the thread's track.
#[tg4p::trace]
fn merge_sort(mut x: Vec<u32>) -> Vec<u32> {
    let l = x.len();
    if l < 4096 {
        x.sort_unstable();
        return x;
    }
    let (a, b) = if l < 40000 {
        (
            merge_sort(x[..l / 2].to_vec()),
            merge_sort(x[l / 2..].to_vec()),
        )
    } else {
        tg4p::count!(ACTIVE += 1);
        let t1 = merge_sort_threaded(x[..l / 2].to_vec());
        tg4p::count!(ACTIVE += 1);
        let t2 = merge_sort_threaded(x[l / 2..].to_vec());
        let a = t1.join().expect("sort worker panicked");
        tg4p::count!(ACTIVE -= 1);
        let b = t2.join().expect("sort worker panicked");
        tg4p::count!(ACTIVE -= 1);
        (a, b)
    };
    merge(&mut x, &a, &b);
    x
}

/// A slice per call on TOP_TRACK.
#[tg4p::trace(track = TOP)]
fn validate(x: &[u32]) {
    assert!(x.windows(2).all(|w| w[0] <= w[1]), "not sorted");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tg4p.perfetto-trace".into());
    let report = run(std::path::Path::new(&path))?;
    println!(
        "wrote {} events ({} dropped), {} bytes to {}",
        report.events_written,
        report.events_dropped,
        report.bytes_written,
        report.path.display()
    );
    Ok(())
}

/// Sorts and validates, tracing into `path`. (The end-to-end test calls this too.)
pub fn run(path: &std::path::Path) -> Result<tg4p::Report, tg4p::SessionError> {
    // Recording starts here and stops at `finish` (or when `session` drops).
    let session = tg4p::open(path)?;

    let (sorted, sort_to_validate) = {
        let sort = tg4p::span!(TOP, "SORT");
        let x: Vec<u32> = (0..100_000).map(|x| (17 * x + 8) % 100).collect();
        let sorted = merge_sort(x);
        // A flow leaving SORT (the arrow starts where the slice ends).
        let flow = sort.outgoing(1)[0];
        (sorted, flow)
    };
    {
        let _validate = tg4p::span!(TOP, "VALIDATE").incoming(&[sort_to_validate]);
        tg4p::instant!("CHECKING", final_result = &sorted);
        validate(&sorted);
        println!("Done");
    }

    session.finish()
}
