//! `history export|import|prune|migrate`: call history from the command line, a thin layer
//! over [`microsip_provision::history`].
//!
//! Output: results on stdout (or the `-o` file), a one-line summary and every warning on
//! stderr, errors as `error: path:line:col: what` plus a hint. Exit codes: 0 success (also a
//! skip because MicroSIP runs, with `--if-running skip`), 1 failure (locked or corrupt
//! database, MicroSIP running, I/O), 2 usage or invalid input file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::builder::BoolishValueParser;
use clap::{ArgAction, ArgGroup, Args, Subcommand, ValueEnum};
use microsip_provision::apply::atomic::{self, WriteOptions};
use microsip_provision::history::record::utc_text;
use microsip_provision::history::{
    self, ErrorKind, Format, HistoryError, HistoryWarning, ImportOptions, MigrateOptions,
    OnRunning, PruneOptions, PruneRule, RunningGuard, StoreChoice,
};
use microsip_provision::profile::{Profile, ProfileError, ProfileSelection};

use super::provision::ProfileArgs;
use super::{Failure, Global, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// The `history` verbs.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Write a profile's call history as XML, CSV or JSON, call ids included (reads only).
    #[command(
        after_help = "Examples:\n  microsip-provision history export --profile \"%APPDATA%\\MicroSIP\" --format xml -o calls.xml\n  microsip-provision history export --format json --source ini > calls.json\n\nThe store is call_log.db when it exists (MicroSIP 3.22), else [Calls] in microsip.ini (3.21)."
    )]
    Export(ExportArgs),
    /// Add calls from an XML, CSV or JSON file to a profile's history; calls already there
    /// (same call id) are skipped.
    #[command(
        after_help = "Example:\n  microsip-provision history import calls.xml --profile \"%APPDATA%\\MicroSIP\" --dry-run"
    )]
    Import(ImportArgs),
    /// Remove old calls (privacy retention) from every store of a profile.
    #[command(
        group(ArgGroup::new("rule").required(true).args(["older_than", "keep"])),
        after_help = "Examples:\n  microsip-provision history prune --older-than 90 --dry-run\n  microsip-provision history prune --profile D:\\Profiles\\jdoe\\AppData\\Roaming\\MicroSIP --keep 500"
    )]
    Prune(PruneArgs),
    /// Move [Calls] from microsip.ini into call_log.db exactly as MicroSIP 3.22 does, then
    /// remove [Calls] and callsLastKey from the INI.
    #[command(
        after_help = "Example:\n  microsip-provision history migrate --profile \"%APPDATA%\\MicroSIP\" --dry-run"
    )]
    Migrate(MigrateArgs),
}

/// File formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    /// MicroSIP's XML export (`<calls><call type name number time duration info callId/>`).
    Xml,
    /// MicroSIP 3.22's CSV export columns (ID,Type,Name,Number,Timestamp,...).
    Csv,
    /// `{"calls":[{"callId","number","name","type","time","duration","info"}]}`.
    Json,
}

/// Input formats (`auto`: by extension, else by content).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum InputFormatArg {
    /// By extension, else by the first character.
    Auto,
    /// XML.
    Xml,
    /// CSV.
    Csv,
    /// JSON.
    Json,
}

/// Which store.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StoreArg {
    /// call_log.db when it exists, else [Calls] (prune: every store that exists).
    Auto,
    /// [Calls] in microsip.ini (MicroSIP ≤3.21).
    Ini,
    /// call_log.db (MicroSIP 3.22).
    Db,
}

/// `--if-running` for the history verbs.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum IfRunningArg {
    /// Stop with an error (exit 1).
    Fail,
    /// Do nothing, say so, exit 0.
    Skip,
    /// Write anyway.
    Ignore,
}

/// Options of every verb that writes.
#[derive(Debug, Clone, Args)]
pub struct WriteArgs {
    /// Show what would change; write nothing.
    #[arg(long, env = "MICROSIP_PROVISION_DRY_RUN", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub dry_run: bool,
    /// What to do when MicroSIP is running (it rewrites [Calls] on every call and reads
    /// call_log.db only at start-up).
    #[arg(long, value_enum, default_value_t = IfRunningArg::Fail, env = "MICROSIP_PROVISION_IF_RUNNING")]
    pub if_running: IfRunningArg,
    /// The executable name MicroSIP runs as (a renamed portable copy runs under its own name).
    #[arg(
        long,
        default_value = "microsip.exe",
        env = "MICROSIP_PROVISION_MICROSIP_EXE",
        value_name = "NAME"
    )]
    pub microsip_exe: String,
}

impl WriteArgs {
    fn guard(&self) -> RunningGuard {
        RunningGuard {
            on_running: match self.if_running {
                IfRunningArg::Fail => OnRunning::Fail,
                IfRunningArg::Skip => OnRunning::Skip,
                IfRunningArg::Ignore => OnRunning::Ignore,
            },
            microsip_exe: Some(self.microsip_exe.clone()),
        }
    }
}

/// `history export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Which profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which store to read.
    #[arg(long, value_enum, default_value_t = StoreArg::Auto)]
    pub source: StoreArg,
}

/// `history import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import (XML, CSV or JSON, as `history export` writes them; MicroSIP's own
    /// XML and CSV exports too).
    pub file: PathBuf,
    /// Which profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// The file's format.
    #[arg(long, value_enum, default_value_t = InputFormatArg::Auto)]
    pub format: InputFormatArg,
    /// Which store to write (auto: the profile's own).
    #[arg(long, value_enum, default_value_t = StoreArg::Auto)]
    pub store: StoreArg,
    /// Dry run and running check.
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `history prune` arguments.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Which profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Remove calls that started more than DAYS days ago.
    #[arg(long, value_name = "DAYS")]
    pub older_than: Option<u32>,
    /// Keep only the newest N calls (per store).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Which store (auto: every store the profile has).
    #[arg(long, value_enum, default_value_t = StoreArg::Auto)]
    pub store: StoreArg,
    /// Dry run and running check.
    #[command(flatten)]
    pub write: WriteArgs,
    /// The current time as Unix seconds (for tests and reproducible runs).
    #[arg(long, hide = true, value_name = "UNIX_SECONDS")]
    pub now: Option<i64>,
}

/// `history migrate` arguments.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Which profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Also migrate into a call_log that already has rows (calls already there are skipped);
    /// MicroSIP 3.22 itself only migrates into an empty one.
    #[arg(long)]
    pub merge: bool,
    /// Dry run and running check.
    #[command(flatten)]
    pub write: WriteArgs,
}

/// Run one `history` verb.
pub fn run(command: HistoryCommand, global: &Global) -> Result<ExitCode, Failure> {
    match command {
        HistoryCommand::Export(args) => export(args, global),
        HistoryCommand::Import(args) => import(args, global),
        HistoryCommand::Prune(args) => prune(args, global),
        HistoryCommand::Migrate(args) => migrate(args, global),
    }
}

fn failure(error: HistoryError) -> Failure {
    let code = match error.kind {
        ErrorKind::InvalidInput => EXIT_USAGE,
        _ => EXIT_FAILURE,
    };
    Failure {
        path: error.path,
        position: error.position,
        message: error.message,
        hint: error.hint,
        code,
    }
}

fn warn(warnings: &[HistoryWarning]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// The profile; the user only matters for the running check, so an unknown user is not an
/// error here (history files belong to the folder, not to a user).
fn select(args: &ProfileArgs) -> Result<Profile, Failure> {
    let mut selection = ProfileSelection {
        profile: args.profile.clone(),
        portable: args.portable.clone(),
        user: args.user.clone(),
    };
    if let Err(ProfileError::NoUser(_)) = Profile::select(&selection) {
        selection.user = Some(String::new());
    }
    Profile::select(&selection).map_err(|e| Failure {
        path: None,
        position: None,
        message: e.to_string(),
        hint: None,
        code: EXIT_USAGE,
    })
}

fn store(arg: StoreArg) -> StoreChoice {
    match arg {
        StoreArg::Auto => StoreChoice::Auto,
        StoreArg::Ini => StoreChoice::Ini,
        StoreArg::Db => StoreChoice::Db,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn export(args: ExportArgs, global: &Global) -> Result<ExitCode, Failure> {
    let profile = select(&args.profile)?;
    let read = history::read_profile(&profile, store(args.source), global.ansi).map_err(failure)?;
    let format = match args.format {
        FormatArg::Xml => Format::Xml,
        FormatArg::Csv => Format::Csv,
        FormatArg::Json => Format::Json,
    };
    let bytes = history::render(&read.records, format);
    warn(&read.warnings);
    let target = match &args.output {
        Some(path) => {
            atomic::write_atomic(path, &bytes, &WriteOptions::default())
                .map_err(|e| Failure::at(path, e))?;
            path.display().to_string()
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| Failure {
                    path: None,
                    position: None,
                    message: format!("cannot write to stdout: {e}"),
                    hint: None,
                    code: EXIT_FAILURE,
                })?;
            "stdout".to_string()
        }
    };
    if !global.quiet {
        eprintln!(
            "exported {} from {} ({}) to {target}",
            plural(read.records.len(), "call", "calls"),
            read.store,
            read.path.display()
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn import(args: ImportArgs, global: &Global) -> Result<ExitCode, Failure> {
    let profile = select(&args.profile)?;
    let path = &args.file;
    let bytes = atomic::read_file(path)
        .map_err(|e| Failure::at(path, e))?
        .ok_or_else(|| Failure::at(path, "does not exist").code(EXIT_USAGE))?;
    let format = match args.format {
        InputFormatArg::Auto => history::detect_format(path, &bytes),
        InputFormatArg::Xml => Format::Xml,
        InputFormatArg::Csv => Format::Csv,
        InputFormatArg::Json => Format::Json,
    };
    let (records, warnings) =
        history::parse_file(&bytes, format).map_err(|e| failure(e.in_file(path)))?;
    let warnings: Vec<_> = warnings.into_iter().map(|w| w.in_file(path)).collect();
    warn(&warnings);
    let options = ImportOptions {
        store: store(args.store),
        dry_run: args.write.dry_run,
        ansi: global.ansi,
        guard: args.write.guard(),
    };
    let report = history::import(&profile, &records, &options).map_err(failure)?;
    warn(&report.warnings);
    if let Some(reason) = &report.skipped {
        eprintln!("skipped: {reason}; nothing was imported");
        return Ok(ExitCode::from(EXIT_OK));
    }
    if !global.quiet {
        let verb = if report.dry_run {
            "would import"
        } else {
            "imported"
        };
        let mut line = format!(
            "{verb} {} of {} from {} into {} ({}): {} skipped",
            plural(report.inserted, "call", "calls"),
            report.read,
            path.display(),
            report.store,
            report.path.display(),
            plural(report.duplicates, "duplicate", "duplicates"),
        );
        if report.unrepresentable > 0 {
            line.push_str(&format!(
                ", {} [Calls] cannot store skipped",
                report.unrepresentable
            ));
        }
        line.push_str(&format!("; {} in the store", report.total_after));
        println!("{line}");
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn prune(args: PruneArgs, global: &Global) -> Result<ExitCode, Failure> {
    let profile = select(&args.profile)?;
    let rule = match (args.older_than, args.keep) {
        (Some(days), _) => PruneRule::OlderThanDays(days),
        (None, Some(n)) => PruneRule::Keep(n),
        (None, None) => unreachable!("clap requires one of --older-than and --keep"),
    };
    let options = PruneOptions {
        rule,
        now: args.now.unwrap_or_else(now),
        store: store(args.store),
        dry_run: args.write.dry_run,
        ansi: global.ansi,
        take_lock: true,
        guard: args.write.guard(),
    };
    let report = history::prune(&profile, &options).map_err(failure)?;
    warn(&report.warnings);
    if let Some(reason) = &report.skipped {
        eprintln!("skipped: {reason}; nothing was removed");
        return Ok(ExitCode::from(EXIT_OK));
    }
    if !global.quiet {
        for store in &report.stores {
            let verb = if report.dry_run {
                "would remove"
            } else {
                "removed"
            };
            println!(
                "{} ({}): {verb} {} of {}",
                store.store,
                store.path.display(),
                plural(store.removed.len(), "call", "calls"),
                store.before
            );
            if report.dry_run {
                for call in &store.removed {
                    println!(
                        "  {}  {}  {}  ({})",
                        utc_text(call.time).0,
                        call.number,
                        call.name,
                        call.call_type
                    );
                }
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn migrate(args: MigrateArgs, global: &Global) -> Result<ExitCode, Failure> {
    let profile = select(&args.profile)?;
    let options = MigrateOptions {
        dry_run: args.write.dry_run,
        merge: args.merge,
        ansi: global.ansi,
        guard: args.write.guard(),
    };
    let report = history::migrate(&profile, &options).map_err(failure)?;
    warn(&report.warnings);
    if let Some(reason) = &report.skipped {
        eprintln!("skipped: {reason}; nothing was migrated");
        return Ok(ExitCode::from(EXIT_OK));
    }
    if global.quiet {
        return Ok(ExitCode::from(EXIT_OK));
    }
    if report.nothing_to_do {
        println!(
            "nothing to migrate: {} has no [Calls] section and no callsLastKey",
            report.ini_path.display()
        );
        return Ok(ExitCode::from(EXIT_OK));
    }
    let (verb, remove) = if report.dry_run {
        ("would migrate", "would remove")
    } else {
        ("migrated", "removed")
    };
    println!(
        "{verb} {} of {} into {}{}{}",
        plural(report.inserted, "call", "calls"),
        report.entries,
        report.db_path.display(),
        if report.db_created { " (new file)" } else { "" },
        if report.duplicates > 0 {
            format!(", {} already there", report.duplicates)
        } else {
            String::new()
        }
    );
    println!(
        "{remove} [Calls] ({} and {}) and [Settings] callsLastKey from {}",
        plural(report.entries, "entry", "entries"),
        plural(report.deleted_entries, "deleted entry", "deleted entries"),
        report.ini_path.display()
    );
    Ok(ExitCode::from(EXIT_OK))
}
