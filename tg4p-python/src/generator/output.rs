//! The generator's file, written by a background thread so that no Python call
//! holds the GIL while the disk works.
//!
//! tg4p's generator hands its output over in whole chunks of 256 KiB
//! (`TraceGenerator::with_chunks`); [`Output::send`] passes each one to the thread
//! through a bounded channel, without a copy, and takes back a buffer the thread
//! has written out (or a new one). When the disk falls [`QUEUED_CHUNKS`] chunks
//! behind, the handing-over call waits with the GIL released. A write error is kept
//! and returned by the next hand-over (the generator then stops, as tg4p's
//! generator does on any I/O error) and by [`OutputThread::sync`] and
//! [`OutputThread::close`].

use pyo3::prelude::*;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Chunks waiting for the disk before a producer waits: 16 x 256 KiB.
const QUEUED_CHUNKS: usize = 16;

/// Written-out buffers kept for the generator to fill again.
const SPARE_CHUNKS: usize = 2;

enum Msg {
    Data(Vec<u8>),
    /// Flush the file, then answer.
    Sync(mpsc::Sender<()>),
    /// Flush the file, answer and stop.
    Close(mpsc::Sender<()>),
}

/// The first write error, as kind and text (`io::Error` is not `Clone`).
type Failure = Arc<Mutex<Option<(io::ErrorKind, String)>>>;

fn failed(failure: &Failure) -> io::Result<()> {
    match &*failure.lock().unwrap_or_else(|p| p.into_inner()) {
        Some((kind, text)) => Err(io::Error::new(*kind, text.clone())),
        None => Ok(()),
    }
}

/// What the generator hands its chunks to.
pub(crate) struct Output {
    tx: SyncSender<Msg>,
    /// Buffers the thread has written out.
    spare: Receiver<Vec<u8>>,
    failure: Failure,
}

/// The writing thread, owned by the Python `TraceGenerator`.
pub(crate) struct OutputThread {
    tx: SyncSender<Msg>,
    failure: Failure,
    thread: Option<JoinHandle<()>>,
}

/// Creates `path` (errors are raised at once) and starts its writing thread.
pub(crate) fn create(path: &Path) -> io::Result<(Output, OutputThread)> {
    let file = File::create(path)?;
    let (tx, rx) = mpsc::sync_channel(QUEUED_CHUNKS);
    let (spare_tx, spare) = mpsc::sync_channel(SPARE_CHUNKS);
    let failure = Failure::default();
    let thread = std::thread::Builder::new()
        .name("tg4p-generator-writer".into())
        .spawn({
            let failure = failure.clone();
            move || write_loop(file, rx, spare_tx, failure)
        })?;
    let output = Output {
        tx: tx.clone(),
        spare,
        failure: failure.clone(),
    };
    Ok((
        output,
        OutputThread {
            tx,
            failure,
            thread: Some(thread),
        },
    ))
}

fn write_loop(mut file: File, rx: Receiver<Msg>, spare: SyncSender<Vec<u8>>, failure: Failure) {
    let fail = |e: io::Error| {
        let mut f = failure.lock().unwrap_or_else(|p| p.into_inner());
        f.get_or_insert((e.kind(), e.to_string()));
    };
    for msg in rx {
        match msg {
            Msg::Data(bytes) => {
                if failed(&failure).is_ok()
                    && let Err(e) = file.write_all(&bytes)
                {
                    fail(e);
                }
                // Kept for the generator if it has not enough spares, else freed.
                let _ = spare.try_send(bytes);
            }
            Msg::Sync(done) => {
                if let Err(e) = file.flush() {
                    fail(e);
                }
                let _ = done.send(());
            }
            Msg::Close(done) => {
                if let Err(e) = file.flush() {
                    fail(e);
                }
                let _ = done.send(());
                return;
            }
        }
    }
}

/// Sends `msg`, waiting with the GIL released if the queue is full.
fn send(tx: &SyncSender<Msg>, msg: Msg) -> io::Result<()> {
    let closed = || io::Error::new(io::ErrorKind::BrokenPipe, "the trace file was closed");
    match tx.try_send(msg) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(msg)) => {
            Python::attach(|py| py.detach(|| tx.send(msg))).map_err(|_| closed())
        }
        Err(TrySendError::Disconnected(_)) => Err(closed()),
    }
}

impl Output {
    /// Hands `chunk` to the thread; returns an empty buffer to fill next.
    pub(crate) fn send(&mut self, chunk: Vec<u8>) -> io::Result<Vec<u8>> {
        failed(&self.failure)?;
        send(&self.tx, Msg::Data(chunk))?;
        match self.spare.try_recv() {
            Ok(buffer) => Ok(buffer),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Ok(Vec::new()),
        }
    }
}

impl OutputThread {
    /// Waits until everything handed over so far is written and flushed. Call it
    /// with the GIL released.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let (done, wait) = mpsc::channel();
        if self.tx.send(Msg::Sync(done)).is_ok() {
            let _ = wait.recv();
        }
        failed(&self.failure)
    }

    /// Writes everything handed over, closes the file and ends the thread. Call it
    /// with the GIL released.
    pub(crate) fn close(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.take() else {
            return failed(&self.failure);
        };
        let (done, wait) = mpsc::channel();
        if self.tx.send(Msg::Close(done)).is_ok() {
            let _ = wait.recv();
        }
        let _ = thread.join();
        failed(&self.failure)
    }
}
