//! `microsip-provision report …`: the fleet view over the JSON Lines reports a fleet leaves.
//!
//! `report summarize` reads report files (`--report` output, `--log-file` logs, the lines a
//! logon script copies to a share), or every `*.jsonl` and `*.log` file below a folder, and
//! prints one line per user: in sync, drifted, failing or skipped, as of their latest report.
//! The fold itself is [`microsip_provision::report::summarize`]; this module only finds and
//! reads the files and prints the result.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use microsip_provision::report::summarize::{FleetView, State, Summarizer, TimeSource, Timestamp};

use super::{Failure, Global, EXIT_FAILURE, EXIT_OK};

/// How many malformed lines human output lists (JSON output lists them all).
const MALFORMED_SHOWN: usize = 20;

/// The `report` verbs.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Fold JSON Lines reports (files, or every *.jsonl and *.log below a folder) into one
    /// status per user: in sync, drifted, failing, skipped, last seen.
    #[command(
        after_help = "Examples:\n  microsip-provision report summarize \\\\fs01\\microsip-reports$\n  microsip-provision report summarize run1.jsonl run2.jsonl --format json\n\n\
                      A user's latest report wins: latest by its \"time\" field (log files), else by its\n\
                      file's modification time (--report files). Lines that are not reports are counted\n\
                      and listed with file:line. --quiet leaves the users in sync out of the table.\n\
                      Exit codes: 0 done (whatever the users' states), 1 a file could not be read or no\n\
                      report file was found, 2 usage."
    )]
    Summarize(SummarizeArgs),
}

/// `report summarize` arguments.
#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Report files, or folders searched (recursively) for *.jsonl and *.log files.
    #[arg(required = true, value_name = "DIR|FILE")]
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Human, env = "MICROSIP_PROVISION_FORMAT")]
    pub format: SummaryFormat,
}

/// Output format of `report summarize`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SummaryFormat {
    /// A table per state, for people.
    Human,
    /// The whole fleet view as one JSON object.
    Json,
}

/// Run one `report` verb.
pub fn run(command: ReportCommand, global: &Global) -> Result<ExitCode, Failure> {
    match command {
        ReportCommand::Summarize(args) => summarize(args, global),
    }
}

fn is_report_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("log"))
}

/// Every report file below `dir`, sorted, without following links to folders.
fn collect(dir: &Path, files: &mut Vec<PathBuf>, summarizer: &mut Summarizer) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            summarizer.add_unreadable(dir, e);
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => collect(&path, files, summarizer),
            Ok(_) if is_report_file(&path) => files.push(path),
            Ok(_) => {}
            Err(e) => summarizer.add_unreadable(&path, e),
        }
    }
}

/// `report summarize`.
pub fn summarize(args: SummarizeArgs, global: &Global) -> Result<ExitCode, Failure> {
    let mut summarizer = Summarizer::new();
    let mut files = Vec::new();
    for input in &args.inputs {
        match std::fs::metadata(input) {
            Ok(meta) if meta.is_dir() => collect(input, &mut files, &mut summarizer),
            Ok(_) => files.push(input.clone()),
            Err(e) => summarizer.add_unreadable(input, e),
        }
    }
    for file in &files {
        match std::fs::read(file) {
            Ok(bytes) => {
                let modified = std::fs::metadata(file)
                    .and_then(|m| m.modified())
                    .ok()
                    .map(Timestamp::from_system_time);
                summarizer.add_file(file, modified, &bytes);
            }
            Err(e) => summarizer.add_unreadable(file, e),
        }
    }
    let view = summarizer.finish();
    match args.format {
        SummaryFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&view).expect("the fleet view serialises")
        ),
        SummaryFormat::Human => print!("{}", render_human(&view, global.quiet)),
    }
    for unreadable in &view.unreadable {
        eprintln!(
            "error: {}: cannot read: {}",
            unreadable.file.display(),
            unreadable.error
        );
    }
    if files.is_empty() {
        eprintln!(
            "error: no report file found (looked for *.jsonl and *.log in folders)\n\
             hint: name report files, or a folder holding them"
        );
    }
    Ok(ExitCode::from(
        if view.unreadable.is_empty() && !files.is_empty() {
            EXIT_OK
        } else {
            EXIT_FAILURE
        },
    ))
}

fn time_text(time: Option<Timestamp>, source: TimeSource) -> String {
    match (time, source) {
        (None, _) | (_, TimeSource::Unknown) => "-".into(),
        (Some(t), TimeSource::FileModified) => format!("{}*", t.to_rfc3339()),
        (Some(t), TimeSource::Record) => t.to_rfc3339(),
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The fleet view as a table (`quiet`: users in sync left out).
fn render_human(view: &FleetView, quiet: bool) -> String {
    let mut out = String::new();
    let shown: Vec<_> = view
        .users
        .iter()
        .filter(|u| !quiet || u.state != State::InSync)
        .collect();
    let rows: Vec<[String; 6]> = shown
        .iter()
        .map(|u| {
            [
                u.state.as_str().to_string(),
                u.user.clone(),
                u.outcome.as_str().to_string(),
                time_text(u.last_seen, u.last_seen_from),
                u.runs.to_string(),
                u.source.to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        let header = ["STATE", "USER", "LAST RUN", "LAST SEEN", "RUNS", "SOURCE"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 6]| {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i == 4 {
                    let _ = write!(text, "{cell:>w$}  ", w = widths[i]);
                } else if i == 5 {
                    text.push_str(cell);
                } else {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    let _ = write!(text, "{cell}{}  ", " ".repeat(pad));
                }
            }
            text.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(header));
        for (row, user) in rows.iter().zip(&shown) {
            let _ = writeln!(out, "{}", line(row.each_ref().map(String::as_str)));
            if let Some(error) = &user.error {
                let _ = writeln!(out, "    error: {error}");
            }
            if user.state == State::Failing || user.state == State::Drifted {
                if let Some(last) = user.last_in_sync {
                    let _ = writeln!(out, "    last in sync: {}", last.to_rfc3339());
                }
            }
        }
        if view
            .users
            .iter()
            .any(|u| u.last_seen_from == TimeSource::FileModified)
        {
            let _ = writeln!(
                out,
                "* the file's modification time: the report line has no \"time\" field"
            );
        }
        out.push('\n');
    }
    let c = &view.counts;
    let _ = writeln!(
        out,
        "{} ({} in {}): {} in sync, {} drifted, {} failing, {} skipped",
        plural(c.users, "user"),
        plural(view.reports, "report"),
        plural(view.files, "file"),
        c.in_sync,
        c.drifted,
        c.failing,
        c.skipped
    );
    if !view.errors.is_empty() {
        let _ = writeln!(
            out,
            "\n{} without a user (the run failed before it knew the profile):",
            plural(view.errors.len(), "error")
        );
        for error in &view.errors {
            let when = error.time.map(|t| format!(" {}", t.to_rfc3339()));
            let _ = writeln!(
                out,
                "  {}{}: {}",
                error.source,
                when.unwrap_or_default(),
                error.error
            );
        }
    }
    if view.malformed_lines > 0 {
        let _ = writeln!(
            out,
            "\n{} skipped:",
            plural(view.malformed_lines, "malformed line")
        );
        for bad in view.malformed.iter().take(MALFORMED_SHOWN) {
            let _ = writeln!(out, "  {}: {}", bad.source, bad.reason);
        }
        if view.malformed_lines > MALFORMED_SHOWN {
            let _ = writeln!(
                out,
                "  ... and {} more (--format json lists them all)",
                view.malformed_lines - MALFORMED_SHOWN
            );
        }
    }
    out
}
