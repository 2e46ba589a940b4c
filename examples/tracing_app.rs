//! A program instrumented with `tracing` only (plus one `log` record and one
//! `#[tg4p::trace]` function), written to Perfetto by `tg4p::TracingLayer`.
//!
//! ```sh
//! cargo run --release --example tracing_app -- tracing_app.perfetto-trace
//! ```
//!
//! Open the file at <https://ui.perfetto.dev>: each worker thread's track shows the
//! polls of the `handle_request` futures with `parse` and `checksum` nested in them;
//! the `handle_request` tracks under the process show one slice per request, from
//! its first poll to its end, with `status` recorded on its end; a flow arrow goes
//! from the `accept` span to the `batch` span that follows from it.

use std::time::Duration;
use tracing::{Instrument, debug, info, info_span, instrument, warn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// A sync function under `#[instrument]`: a slice nested where it is called.
#[instrument(skip(body), fields(len = body.len()))]
fn parse(id: u64, body: &str) -> Vec<u64> {
    let words: Vec<u64> = body.split(' ').map(|w| w.len() as u64).collect();
    debug!(words = words.len(), "parsed");
    words
}

/// tg4p's own attribute, next to `tracing`'s: the same track, the same file.
#[tg4p::trace]
fn checksum(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(17, |h, w| h.wrapping_mul(31).wrapping_add(*w))
}

/// An async function under `#[instrument]`: polled on tokio's workers, suspended
/// at each `.await`. `status` is recorded when the request is done.
#[instrument(fields(status = tracing::field::Empty))]
async fn handle_request(id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(1 + id % 3)).await;
    let words = parse(id, "the quick brown fox jumps over the lazy dog");
    tokio::task::yield_now().await;
    let sum = checksum(&words);
    if id % 4 == 3 {
        warn!(id, sum, "slow request");
    }
    tracing::Span::current().record("status", if id % 4 == 3 { "slow" } else { "ok" });
    sum
}

/// The set-up: the layer in a registry (as the global default, so that tokio's
/// workers use it too), and `log` records bridged into `tracing`.
pub fn install() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::registry()
        .with(tg4p::TracingLayer::new())
        .try_init()?;
    tracing_log::LogTracer::init()?;
    Ok(())
}

/// Records the app into `path`.
pub fn run(path: &std::path::Path) -> Result<tg4p::Report, Box<dyn std::error::Error>> {
    let session = tg4p::open(path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("worker")
        .enable_time()
        .build()?;
    runtime.block_on(app())?;
    drop(runtime);
    Ok(session.finish()?)
}

async fn app() -> Result<(), tokio::task::JoinError> {
    log::info!("starting: a log record, through tracing-log");
    let accept = info_span!("accept", requests = 8);
    accept.in_scope(|| info!(port = 8080, ready = true, load = 0.25, "listening"));

    let batch = info_span!("batch", size = tracing::field::Empty);
    batch.follows_from(&accept);
    let tasks: Vec<_> = (0..8)
        .map(|id| tokio::spawn(handle_request(id).instrument(info_span!("request_task", id))))
        .collect();
    let mut total = 0u64;
    async {
        for t in tasks {
            total = total.wrapping_add(t.await?);
        }
        Ok::<(), tokio::task::JoinError>(())
    }
    .instrument(batch.clone())
    .await?;
    batch.record("size", 8);
    drop(batch);
    drop(accept);
    info!(total, "all requests done");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tracing_app.perfetto-trace".into());
    install()?;
    let report = run(path.as_ref())?;
    println!(
        "{}: {} events, {} dropped, {} bytes",
        report.path.display(),
        report.events_written,
        report.events_dropped,
        report.bytes_written
    );
    Ok(())
}
