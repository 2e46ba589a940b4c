//! `tg4p check FILE..`: trace_processor's import rules, applied by the
//! oracle's rule engine (`tg4p-oracle`), one finding per line.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tg4p_oracle::{DecodedTrace, ModelOptions, Rule, decode_reader};

use crate::error::CliError;
use crate::input;

/// Files up to this size are checked in full mode (every event kept: slices
/// matched in timestamp order, flows followed); larger ones stream.
pub const FULL_MODE_LIMIT: u64 = 16 << 20;

/// Warnings printed per file in the human form.
const MAX_WARNING_LINES: usize = 20;

/// Exit status of `check`: the worst over all files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// No rule broken (warnings allowed).
    Clean = 0,
    /// Some rule broken.
    Violations = 1,
    /// Not readable or not a Perfetto trace.
    Undecodable = 2,
}

/// Rules about what the oracle's model covers rather than what trace_processor
/// rejects: a field it does not model, or a field number its (older) protos do not
/// know, such as a newer Perfetto field or a proto extension. tg4p's own encoders
/// must not emit them (its tests fail on them), but in other writers' traces they
/// are usually fine, so `check` reports them as notes unless `--strict`.
pub const MODEL_LIMITS: [Rule; 2] = [Rule::UnsupportedField, Rule::UnknownField];

/// How to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Count [`MODEL_LIMITS`] findings as violations.
    pub strict: bool,
    /// Force streaming (counting) mode: bounded memory, slices matched in file order.
    pub stream: bool,
    /// Force full mode whatever the size.
    pub full: bool,
    /// Print JSON.
    pub json: bool,
}

/// What one file gave.
struct FileReport {
    path: PathBuf,
    verdict: Verdict,
    outcome: Result<Checked, CliError>,
}

struct Checked {
    trace: DecodedTrace,
    streamed: bool,
    warnings: Vec<String>,
}

/// Runs `check` over `paths`, prints the findings and returns the exit verdict.
pub fn run(paths: &[PathBuf], opts: CheckOptions) -> Verdict {
    let reports: Vec<FileReport> = paths.iter().map(|p| check_file(p, opts)).collect();
    let verdict = reports
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Clean);
    if opts.json {
        let files: Vec<Value> = reports.iter().map(to_json).collect();
        let doc = json!({"exit": verdict as i32, "files": files});
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        for r in &reports {
            print_human(r, opts);
        }
    }
    verdict
}

fn check_file(path: &Path, opts: CheckOptions) -> FileReport {
    let outcome = decode(path, opts);
    let verdict = match &outcome {
        Err(_) => Verdict::Undecodable,
        Ok(c)
            if c.trace
                .violation_totals
                .keys()
                .all(|r| counts_as_note(*r, opts)) =>
        {
            Verdict::Clean
        }
        Ok(_) => Verdict::Violations,
    };
    FileReport {
        path: path.to_path_buf(),
        verdict,
        outcome,
    }
}

fn counts_as_note(rule: Rule, opts: CheckOptions) -> bool {
    !opts.strict && MODEL_LIMITS.contains(&rule)
}

/// Decodes one file; an unreadable file or one with no decodable packet is an error.
fn decode(path: &Path, opts: CheckOptions) -> Result<Checked, CliError> {
    let (reader, len) = input::open_tracked(path, "checking")?;
    let streamed = opts.stream || (!opts.full && len > FULL_MODE_LIMIT);
    let trace = decode_reader(
        reader,
        ModelOptions {
            keep_events: !streamed,
        },
    )
    .map_err(|e| CliError::NotATrace {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let corrupt = trace
        .violation_totals
        .get(&Rule::CorruptPacket)
        .copied()
        .unwrap_or(0);
    if trace.packets <= corrupt {
        let reason = trace
            .violations
            .first()
            .map(|v| v.detail.clone())
            .unwrap_or_else(|| "the file is empty".into());
        return Err(CliError::NotATrace {
            path: path.to_path_buf(),
            reason,
        });
    }
    let warnings = warnings(&trace, streamed);
    Ok(Checked {
        trace,
        streamed,
        warnings,
    })
}

/// Findings that trace_processor tolerates but a user wants to know about.
fn warnings(trace: &DecodedTrace, streamed: bool) -> Vec<String> {
    let mut out = Vec::new();
    if trace.dropped_markers > 0 {
        out.push(format!(
            "{} packet(s) marked previous_packet_dropped: the writer lost data before them",
            trace.dropped_markers
        ));
    }
    for (uuid, c) in &trace.counts.tracks {
        if c.out_of_order > 0 {
            let consequence = if streamed {
                "streaming matches its slices in file order, so its slice findings may be off"
            } else {
                "trace_processor sorts them"
            };
            out.push(format!(
                "track {uuid}: {} event(s) earlier than an event before them in file order \
                 ({consequence})",
                c.out_of_order
            ));
        }
    }
    if trace.keeps_events {
        for d in trace.dangling_flows() {
            let packet = trace.events[d.event].packet_index;
            out.push(format!(
                "packet #{packet}: flow {} is never continued or terminated (no arrow is drawn)",
                d.id
            ));
        }
    }
    out
}

fn kept_of(trace: &DecodedTrace, rule: Rule) -> usize {
    trace.violations.iter().filter(|v| v.rule == rule).count()
}

fn print_human(r: &FileReport, opts: CheckOptions) {
    let path = r.path.display();
    match &r.outcome {
        Err(e) => println!("{e}"),
        Ok(c) => {
            for v in &c.trace.violations {
                let note = if counts_as_note(v.rule, opts) {
                    "note: "
                } else {
                    ""
                };
                println!("{path}: {note}{v}");
            }
            for (&rule, &n) in &c.trace.violation_totals {
                let kept = kept_of(&c.trace, rule);
                if n > kept {
                    println!("{path}: ... and {} more [{rule}] findings", n - kept);
                }
            }
            for w in c.warnings.iter().take(MAX_WARNING_LINES) {
                println!("{path}: warning: {w}");
            }
            if c.warnings.len() > MAX_WARNING_LINES {
                println!(
                    "{path}: ... and {} more warnings (--json lists them all)",
                    c.warnings.len() - MAX_WARNING_LINES
                );
            }
            let total: usize = c
                .trace
                .violation_totals
                .iter()
                .filter(|(r, _)| !counts_as_note(**r, opts))
                .map(|(_, n)| n)
                .sum();
            let notes: usize = c.trace.violation_totals.values().sum::<usize>() - total;
            let notes = if notes > 0 {
                format!(
                    ", {notes} note(s) on fields the checker does not model (--strict counts them)"
                )
            } else {
                String::new()
            };
            let events = c.trace.counts.total().events();
            let mode = if c.streamed {
                "streamed; flows not followed"
            } else {
                "full"
            };
            if total == 0 {
                println!(
                    "{path}: OK: {} packets, {events} events, {} tracks ({mode}){notes}",
                    c.trace.packets,
                    c.trace.tracks.len()
                );
            } else {
                println!(
                    "{path}: {total} violation(s) in {} packets ({mode}){notes}",
                    c.trace.packets
                );
            }
        }
    }
}

fn to_json(r: &FileReport) -> Value {
    let file = input::shown(&r.path);
    match &r.outcome {
        Err(e) => json!({"file": file, "status": "undecodable", "exit": r.verdict as i32,
                         "error": e.to_string()}),
        Ok(c) => {
            let t = &c.trace;
            let violations: Vec<Value> = t
                .violations
                .iter()
                .map(|v| {
                    json!({"rule": v.rule.to_string(), "packet": v.packet_index,
                                "detail": v.detail})
                })
                .collect();
            let totals: serde_json::Map<String, Value> = t
                .violation_totals
                .iter()
                .map(|(rule, n)| (rule.to_string(), json!(n)))
                .collect();
            json!({
                "file": file,
                "status": if r.verdict == Verdict::Clean { "clean" } else { "violations" },
                "exit": r.verdict as i32,
                "mode": if c.streamed { "stream" } else { "full" },
                "packets": t.packets,
                "events": t.counts.total().events(),
                "tracks": t.tracks.len(),
                "truncated_at": t.truncated_at,
                "violations": violations,
                "totals": totals,
                "warnings": c.warnings,
            })
        }
    }
}
