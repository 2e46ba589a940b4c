//! A small async server on tokio's multi-thread runtime, traced with tg4p: what
//! each shape of async code looks like on the timeline.
//!
//! A dispatcher (a traced sync function) spawns one `handle` task per request, 16
//! at a time. Each request awaits two lookups in sequence (nested in its slice),
//! two fetches at once with `join!` (the second on a lane beneath it), a traced
//! async block, and holds an `async_span!` scope across an `.await`; it spawns an
//! `audit` task (linked to it by a flow arrow) and awaits it.
//!
//! ```text
//! cargo run --release -p tg4p-examples --features async --example async_server [-- PATH]
//! ```

use std::path::Path;
use std::time::Duration;
use tg4p::Traced;

/// Requests served, and how many run at once.
pub const REQUESTS: u32 = 200;
pub const CONCURRENCY: u32 = 16;

#[tg4p::trace_args(ret)]
async fn lookup(key: u32) -> u64 {
    tokio::task::yield_now().await;
    u64::from(key) * 31
}

#[tg4p::trace_args]
async fn fetch(part: u32) -> Vec<u8> {
    tokio::time::sleep(Duration::from_micros(50 * u64::from(part))).await;
    vec![0; part as usize * 64]
}

#[tg4p::trace_args]
async fn audit(request: u32, bytes: usize) {
    tokio::time::sleep(Duration::from_micros(100)).await;
    tg4p::instant!("audited", request = request, bytes = bytes);
}

/// Serves one request: its checksum.
#[tg4p::trace_args(ret)]
async fn handle(request: u32) -> usize {
    let user = lookup(request).await;
    let _account = lookup(request + 1).await;
    let (a, b) = tokio::join!(fetch(1), fetch(2));
    let checksum = async { a.len() + b.len() + user as usize }
        .traced("checksum")
        .ret()
        .await;
    let render = tg4p::async_span!("render", request = request, user = user);
    tokio::task::yield_now().await; // held across `.await`: still `Send`
    drop(render);
    // Another task (it may run on another thread), awaited here.
    tokio::spawn(audit(request, checksum))
        .await
        .expect("audit task");
    checksum
}

/// A synchronous dispatcher: the tasks it creates link back to it.
#[tg4p::trace_args]
fn dispatch(
    rt: &tokio::runtime::Handle,
    first: u32,
    count: u32,
) -> Vec<tokio::task::JoinHandle<usize>> {
    (first..first + count)
        .map(|r| rt.spawn(handle(r)))
        .collect()
}

/// Serves [`REQUESTS`] requests, [`CONCURRENCY`] at a time, recording to `path`.
pub fn run(path: &Path) -> Result<tg4p::Report, Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()?;
    let session = tg4p::open(path)?;
    for batch in 0..REQUESTS / CONCURRENCY + 1 {
        let first = batch * CONCURRENCY;
        let count = CONCURRENCY.min(REQUESTS - first);
        let tasks = dispatch(rt.handle(), first, count);
        rt.block_on(async {
            for t in tasks {
                t.await.expect("request task");
            }
        });
    }
    Ok(session.finish()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "async_server.perfetto-trace".into());
    let report = run(Path::new(&path))?;
    println!(
        "{path}: {} events written, {} dropped",
        report.events_written, report.events_dropped
    );
    Ok(())
}
