//! `tg4p`: check, inspect, convert and merge Perfetto traces.
//!
//! ```text
//! tg4p check trace.pftrace            # trace_processor's import rules; exit 0/1/2
//! tg4p stats trace.pftrace            # processes, threads, tracks, top slices, loss
//! tg4p convert chrome.json out.pftrace  # Chrome JSON or tg4p JSON lines -> protobuf
//! tg4p merge all.pftrace a.pftrace b.pftrace  # one timeline, one machine per input
//! ```
//!
//! Exit status: `check` returns 0 (clean), 1 (rules broken) or 2 (a file is
//! unreadable or not a trace); the other commands 0 on success and 1 on
//! failure; wrong arguments give 2.

mod check;
mod convert;
mod error;
mod input;
mod merge;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tg4p",
    version,
    about = "Check, inspect, convert and merge Perfetto traces"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check traces against the rules trace_processor enforces when importing.
    ///
    /// Prints one line per finding, with the index of the packet at fault. Exit
    /// status: 0 clean, 1 rules broken, 2 a file could not be read or holds no
    /// Perfetto packet. Files above 16 MiB are streamed in bounded memory.
    Check {
        /// Trace files (Perfetto protobuf).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print a JSON document instead of lines.
        #[arg(long)]
        json: bool,
        /// Stream every file (bounded memory; slices matched in file order, flows not followed).
        #[arg(long, conflicts_with = "full")]
        stream: bool,
        /// Keep every event even for big files (exact slice matching and flows; memory grows
        /// with the trace).
        #[arg(long)]
        full: bool,
        /// Also count fields the checker does not model (unknown field numbers, legacy
        /// fields) as violations, as tg4p's own tests do.
        #[arg(long)]
        strict: bool,
    },
    /// Summarize a trace: processes, threads and tracks, events by type, top slices,
    /// counters, flows, bytes per event, time span and loss.
    Stats {
        /// Trace file (Perfetto protobuf).
        file: PathBuf,
        /// How many slice and instant names to list.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Convert Chrome JSON (Trace Event Format) or tg4p JSON lines to a Perfetto trace.
    Convert {
        /// Input file.
        input: PathBuf,
        /// Output trace file (created or truncated).
        output: PathBuf,
        /// Input format; by default guessed from the content.
        #[arg(long, value_enum)]
        from: Option<convert::Format>,
    },
    /// Merge traces of several processes or machines into one trace.
    ///
    /// By default each input is its own machine (TracePacket.machine_id) and inputs are
    /// aligned on the wall clock, by the REALTIME/BOOTTIME pair of their ClockSnapshots.
    /// An input without one needs `--offset` (or use `--same-machine`).
    Merge {
        /// Output trace file (created or truncated).
        output: PathBuf,
        /// Input trace files; the first is the reference timeline.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// All inputs come from one machine: no machine ids, no clock alignment (they
        /// share BOOTTIME); pids that clash between inputs are renumbered.
        #[arg(long)]
        same_machine: bool,
        /// Shift input number INDEX (0-based) by NS nanoseconds (later on the timeline if
        /// positive), on top of any wall-clock alignment. Repeatable.
        #[arg(long = "offset", value_name = "INDEX=NS", value_parser = merge::parse_offset)]
        offsets: Vec<(usize, i64)>,
        /// How to place inputs that carry no REALTIME clock in merge-by-machine mode.
        #[arg(long, value_enum, default_value_t = merge::NoRealtime::Fail)]
        no_realtime: merge::NoRealtime,
    },
}

/// With `TG4P_PEAK_RSS` set, prints the process's peak resident memory (Linux's
/// `VmHWM`) on stderr at exit: how the tests check that streaming stays bounded.
fn report_peak_rss() {
    if std::env::var_os("TG4P_PEAK_RSS").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        eprintln!("tg4p: peak RSS {}", line["VmHWM:".len()..].trim());
    }
}

fn main() -> ExitCode {
    let code = run();
    report_peak_rss();
    code
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check {
            files,
            json,
            stream,
            full,
            strict,
        } => {
            let verdict = check::run(
                &files,
                check::CheckOptions {
                    strict,
                    stream,
                    full,
                    json,
                },
            );
            return ExitCode::from(verdict as u8);
        }
        Command::Stats { file, top, json } => stats::run(&file, top, json),
        Command::Convert {
            input,
            output,
            from,
        } => convert::run(&input, &output, from),
        Command::Merge {
            output,
            inputs,
            same_machine,
            offsets,
            no_realtime,
        } => merge::run(
            &output,
            &inputs,
            &merge::MergeOptions {
                same_machine,
                offsets,
                no_realtime,
            },
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tg4p: error: {e}");
            ExitCode::FAILURE
        }
    }
}
