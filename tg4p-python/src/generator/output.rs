//! The generator's file, written by a background thread so that no Python call
//! holds the GIL while the disk works.
//!
//! tg4p's generator hands its output over in chunks of 256 KiB; [`Output`] (its
//! `Write`) passes each chunk to the thread through a bounded channel. When the
//! disk falls [`QUEUED_CHUNKS`] chunks behind, the handing-over call waits with the
//! GIL released. A write error is kept and returned by the next write (the
//! generator then stops, as tg4p's generator does on any I/O error) and by
//! [`OutputThread::sync`] and [`OutputThread::close`].

use pyo3::prelude::*;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Chunks waiting for the disk before a producer waits: 16 x 256 KiB.
const QUEUED_CHUNKS: usize = 16;

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

/// What the generator writes to.
pub(crate) struct Output {
    tx: SyncSender<Msg>,
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
    let failure = Failure::default();
    let thread = std::thread::Builder::new()
        .name("tg4p-generator-writer".into())
        .spawn({
            let failure = failure.clone();
            move || write_loop(file, rx, failure)
        })?;
    let output = Output {
        tx: tx.clone(),
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

fn write_loop(mut file: File, rx: Receiver<Msg>, failure: Failure) {
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

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        failed(&self.failure)?;
        send(&self.tx, Msg::Data(buf.to_vec()))?;
        Ok(buf.len())
    }

    /// Does not wait for the disk: [`OutputThread::sync`] does, without the GIL.
    fn flush(&mut self) -> io::Result<()> {
        failed(&self.failure)
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
