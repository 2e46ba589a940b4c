//! Tracing switched on from outside the program: [`init_from_env`] opens a session
//! when [`TRACE_ENV`] names a file, and finishes it when its [`TraceGuard`] drops
//! or the process exits.

use super::session::{Report, Session, SessionError};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, Once};

/// The environment variable [`init_from_env`] reads: the path of the trace file to
/// write. Unset or empty: no session.
pub const TRACE_ENV: &str = "TG4P_TRACE";

/// The environment variable [`init_from_env`] reads for the categories to record:
/// a pattern as [`SessionBuilder::categories`](super::SessionBuilder::categories)
/// takes (`db,net*,-noisy`). Unset or empty: every category.
pub const CATEGORIES_ENV: &str = "TG4P_CATEGORIES";

/// The session [`init_from_env`] opened, until its guard or the process's exit
/// finishes it (whichever comes first).
static ENV_SESSION: Mutex<Option<Session>> = Mutex::new(None);

fn env_session() -> MutexGuard<'static, Option<Session>> {
    ENV_SESSION.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes `message` to stderr, ignoring a failure to (there is nowhere else to
/// say it, and it must not panic: it also runs at exit).
fn say(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "tg4p: {message}");
}

/// Finishes the session [`init_from_env`] opened, if it is still open.
fn finish_env_session() -> Option<Result<Report, SessionError>> {
    let session = env_session().take()?;
    let result = session.finish();
    if let Err(e) = &result {
        say(format_args!("{e}"));
    }
    Some(result)
}

/// Run by the C library when the process exits (also by `std::process::exit`):
/// finishes the session if its guard did not.
extern "C" fn finish_at_exit() {
    // A panic must not unwind into the C library.
    let _ = std::panic::catch_unwind(finish_env_session);
}

/// Opens a session writing to the file named by the `TG4P_TRACE` environment
/// variable ([`TRACE_ENV`]), with the default options and the categories named by
/// `TG4P_CATEGORIES` ([`CATEGORIES_ENV`]); returns `Ok(None)` and records nothing
/// when `TG4P_TRACE` is unset or empty. Put it first in `main`:
///
/// ```
/// let _trace = tg4p_core::runtime::init_from_env();
/// ```
///
/// The session finishes when the returned [`TraceGuard`] drops (at the end of
/// `main`), or at the latest when the process exits (`std::process::exit`
/// included; an abort or a signal still leaves a trace that decodes, holding what
/// was written up to the last drain). An error is returned, and also written to
/// stderr so that a discarded result does not hide it: a path that cannot be
/// created, a category pattern that cannot be read, or another session already
/// open. Errors when finishing go to stderr
/// too ([`TraceGuard::finish`] returns them instead).
///
/// ```
/// // Off: nothing is recorded, nothing is written.
/// # // SAFETY: the doc test's own process, one thread.
/// unsafe { std::env::remove_var("TG4P_TRACE") };
/// assert!(tg4p_core::runtime::init_from_env()?.is_none());
/// assert!(!tg4p_core::runtime::enabled());
///
/// // On: a session writes the file until the guard drops.
/// let path = std::env::temp_dir().join("init-from-env-doc.perfetto-trace");
/// # // SAFETY: as above.
/// unsafe { std::env::set_var("TG4P_TRACE", &path) };
/// let trace = tg4p_core::runtime::init_from_env()?.expect("TG4P_TRACE is set");
/// assert!(tg4p_core::runtime::enabled());
/// let report = trace.finish()?;
/// assert_eq!(report.path, path);
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
pub fn init_from_env() -> Result<Option<TraceGuard>, SessionError> {
    let path = match std::env::var_os(TRACE_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => return Ok(None),
    };
    let categories = std::env::var_os(CATEGORIES_ENV).unwrap_or_default();
    let session = match Session::builder()
        .path(&path)
        .categories(categories.to_string_lossy())
        .start()
    {
        Ok(s) => s,
        Err(e @ SessionError::Categories(_)) => {
            say(format_args!("{CATEGORIES_ENV}={categories:?}: {e}"));
            return Err(e);
        }
        Err(e) => {
            say(format_args!("{TRACE_ENV}={}: {e}", path.display()));
            return Err(e);
        }
    };
    *env_session() = Some(session);
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: registers a plain function with no captured state; it only
        // locks a mutex and finishes the session, and never unwinds.
        if unsafe { libc::atexit(finish_at_exit) } != 0 {
            say(format_args!(
                "cannot finish the trace at exit; drop the guard of init_from_env() instead"
            ));
        }
    });
    Ok(Some(TraceGuard { path }))
}

/// The session [`init_from_env`] opened: it finishes when this drops (errors then
/// go to stderr), or at exit; [`finish`](TraceGuard::finish) finishes it now and
/// returns the [`Report`].
///
/// ```
/// let path = std::env::temp_dir().join("trace-guard-doc.perfetto-trace");
/// # // SAFETY: the doc test's own process, one thread.
/// unsafe { std::env::set_var("TG4P_TRACE", &path) };
/// let trace = tg4p_core::runtime::init_from_env()?.expect("TG4P_TRACE is set");
/// assert_eq!(trace.path(), path);
/// drop(trace); // finishes the session
/// assert!(!tg4p_core::runtime::enabled());
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[derive(Debug)]
#[must_use = "the session finishes when the guard drops: bind it, `let _trace = ...`"]
pub struct TraceGuard {
    path: PathBuf,
}

impl TraceGuard {
    /// The trace file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Finishes the session now and says what it wrote (see [`Session::finish`]).
    pub fn finish(self) -> Result<Report, SessionError> {
        // `None`: the process is exiting and the exit handler finished it. The
        // guard's drop then finds nothing left to finish.
        let session = env_session().take();
        session.map_or_else(|| Ok(Report::default()), Session::finish)
    }
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        let _ = finish_env_session();
    }
}
