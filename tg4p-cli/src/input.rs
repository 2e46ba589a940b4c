//! Opening input files: clear errors for missing files and directories, and a
//! progress bar over the bytes read.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::CliError;

/// Opens `path` for reading, refusing directories and other non-files with a
/// message that names the path.
pub fn open(path: &Path) -> Result<(File, u64), CliError> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
    if meta.is_dir() {
        return Err(CliError::NotAFile {
            path: path.to_path_buf(),
            what: "a directory",
        });
    }
    let file = File::open(path).map_err(|e| CliError::io(path, e))?;
    Ok((file, meta.len()))
}

/// A progress bar over `len` bytes of `path`, drawn on stderr only when it is a
/// terminal (indicatif hides it otherwise, so scripts and tests see nothing).
pub fn progress(path: &Path, len: u64, verb: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("{verb} {}", path.display()));
    bar
}

/// A reader that advances a progress bar by the bytes it hands out.
pub struct Tracked<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Tracked<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, bar: ProgressBar) -> Self {
        Tracked { inner, bar }
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

impl<R> Drop for Tracked<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Opens `path` and wraps it with a progress bar.
pub fn open_tracked(path: &Path, verb: &str) -> Result<(Tracked<File>, u64), CliError> {
    let (file, len) = open(path)?;
    Ok((Tracked::new(file, progress(path, len, verb)), len))
}

/// A display form of a path for messages and JSON.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}
