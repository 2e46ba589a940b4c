//! Why a command failed (as opposed to what `check` found in a trace).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A failure that stops a command. Each variant names the file at fault and
/// says what to do where there is something to do.
#[derive(Debug)]
pub enum CliError {
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        err: io::Error,
    },
    /// The path names something that is not a regular file.
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead ("a directory").
        what: &'static str,
    },
    /// The file holds no Perfetto trace packet at all.
    NotATrace {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// An input of `convert` is not what its format requires.
    BadInput {
        /// The file.
        path: PathBuf,
        /// Where (e.g. "line 3" or "traceEvents[12]").
        at: String,
        /// What is wrong.
        message: String,
    },
    /// The arguments contradict each other or the inputs.
    Usage(String),
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, err: io::Error) -> CliError {
        CliError::Io {
            path: path.to_path_buf(),
            err,
        }
    }

    /// A malformed input at `at`.
    pub fn bad(path: &Path, at: impl Into<String>, message: impl Into<String>) -> CliError {
        CliError::BadInput {
            path: path.to_path_buf(),
            at: at.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Io { path, err } if err.kind() == io::ErrorKind::NotFound => {
                write!(f, "{}: no such file", path.display())
            }
            CliError::Io { path, err } => write!(f, "{}: {err}", path.display()),
            CliError::NotAFile { path, what } => {
                write!(f, "{}: is {what}, not a trace file", path.display())
            }
            CliError::NotATrace { path, reason } => write!(
                f,
                "{}: not a Perfetto trace (no packet could be decoded): {reason}",
                path.display()
            ),
            CliError::BadInput { path, at, message } => {
                write!(f, "{}: {at}: {message}", path.display())
            }
            CliError::Usage(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Io { err, .. } => Some(err),
            _ => None,
        }
    }
}
