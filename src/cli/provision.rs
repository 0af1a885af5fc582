//! `validate`, `plan`, `apply` and `schema`: the manifest pipeline from the command line.
//!
//! `plan` and `apply` run the same pipeline (chezmoi's model): load the manifest, render it for
//! the profile's user, merge it into the profile; `plan` prints the result, `apply` writes it
//! under the profile's lock. `apply --dry-run` is a plan taken under the lock.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, ValueEnum};
use microsip_provision::apply::fleet::{run_fleet, run_profile, FleetSummary, Mode, RunOptions};

use microsip_provision::apply::{atomic, ApplyOptions, IfRunning};
use microsip_provision::manifest::{self, Diagnostic, LoadedManifest};
use microsip_provision::plan::target::{Rendered, Target, TargetOptions};
use microsip_provision::profile::discover::{RootListing, DEFAULT_LAYOUT};
use microsip_provision::profile::{Profile, ProfileSelection};
use microsip_provision::report::{EventLog, Outcome, ProfileReport, ReportFile, ReportFileError};

use super::{Failure, Global, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// Exit code of `plan --exit-code` when changes are pending.
pub const EXIT_PENDING: u8 = 3;

/// Which profile: `--profile`, `--portable`, or the current user's `%APPDATA%\MicroSIP`.
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// The MicroSIP folder holding microsip.ini (default: %APPDATA%\MicroSIP).
    #[arg(long, env = "MICROSIP_PROVISION_PROFILE", value_name = "DIR")]
    pub profile: Option<PathBuf>,
    /// A portable MicroSIP's folder (the INI sits next to the exe, named after it).
    #[arg(
        long,
        env = "MICROSIP_PROVISION_PORTABLE",
        value_name = "DIR",
        conflicts_with = "profile"
    )]
    pub portable: Option<PathBuf>,
    /// The user the profile belongs to (default: from the path, else %USERNAME%).
    #[arg(long, env = "MICROSIP_PROVISION_USER", value_name = "NAME")]
    pub user: Option<String>,
}

impl ProfileArgs {
    /// Resolve to a profile, or a usage failure.
    pub fn select(&self) -> Result<Profile, Failure> {
        Profile::select(&ProfileSelection {
            profile: self.profile.clone(),
            portable: self.portable.clone(),
            user: self.user.clone(),
        })
        .map_err(|e| Failure {
            path: None,
            position: None,
            message: e.to_string(),
            hint: None,
            code: EXIT_USAGE,
        })
    }
}

/// Fleet mode: every profile under a root.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Run on every MicroSIP profile under this folder (a share of roaming profiles, C:\Users).
    #[arg(long, env = "MICROSIP_PROVISION_PROFILES_ROOT", value_name = "DIR", conflicts_with_all = ["profile", "portable", "user"])]
    pub profiles_root: Option<PathBuf>,
    /// Where MicroSIP's folder sits below each user folder.
    #[arg(long, env = "MICROSIP_PROVISION_LAYOUT", default_value = DEFAULT_LAYOUT, value_name = "PATTERN")]
    pub layout: String,
    /// Profiles worked on at once (default: the machine's cores). A run that writes flushes at
    /// most N files to disk at once and, for N > 1, keeps a second worker per job preparing the
    /// next profile while the disk works (not with --if-running wait or stop).
    #[arg(long, short, env = "MICROSIP_PROVISION_JOBS", value_name = "N")]
    pub jobs: Option<usize>,
    /// Write one JSON object per profile (JSON Lines) to this file (also for a single profile).
    #[arg(long, env = "MICROSIP_PROVISION_REPORT", value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// A profile whose user is not in the manifest is a failure, not a skip.
    #[arg(long, env = "MICROSIP_PROVISION_STRICT", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub strict: bool,
}

/// Output format of `plan` and `apply`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    /// Diffs and summaries for people.
    Human,
    /// One JSON object (a profile report).
    Json,
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ValidateFormat {
    /// `path:line:column: message` with the source line and a caret.
    Human,
    /// A JSON object with every diagnostic.
    Json,
    /// GitHub Actions workflow annotations.
    Github,
}

/// `--if-running`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum IfRunningArg {
    /// Skip the profile, reported as skipped (MicroSIP would undo [Settings] changes on exit).
    Skip,
    /// Wait for MicroSIP to exit (--running-wait), then apply.
    Wait,
    /// Ask MicroSIP to exit (/exit), apply, and start it again minimized.
    Stop,
    /// Write anyway.
    Ignore,
}

/// `validate` arguments.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The manifest (.toml, .yaml or .yml).
    pub manifest: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Human, env = "MICROSIP_PROVISION_FORMAT")]
    pub format: ValidateFormat,
    /// A password source that does not resolve is an error, not a warning.
    #[arg(long, env = "MICROSIP_PROVISION_REQUIRE_SECRETS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub require_secrets: bool,
}

/// `plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The manifest (.toml, .yaml or .yml).
    pub manifest: PathBuf,
    /// Which profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Fleet mode.
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human, env = "MICROSIP_PROVISION_FORMAT")]
    pub format: ReportFormat,
    /// Exit with 3 when changes are pending (0 when the profile is in line).
    #[arg(long, env = "MICROSIP_PROVISION_EXIT_CODE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub exit_code: bool,
    /// Append one JSON line per event to this file.
    #[arg(long, env = "MICROSIP_PROVISION_LOG_FILE", value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// `apply` arguments.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The manifest (.toml, .yaml or .yml).
    pub manifest: PathBuf,
    /// Which profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Fleet mode.
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Plan under the profile's lock and print the diff; write nothing.
    #[arg(long, env = "MICROSIP_PROVISION_DRY_RUN", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub dry_run: bool,
    /// Do not keep a backup of the previous microsip.ini.
    #[arg(long, env = "MICROSIP_PROVISION_NO_BACKUP", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub no_backup: bool,
    /// What to do when MicroSIP is running for the profile's user.
    #[arg(long, value_enum, default_value_t = IfRunningArg::Skip, env = "MICROSIP_PROVISION_IF_RUNNING")]
    pub if_running: IfRunningArg,
    /// Seconds `--if-running wait` waits for MicroSIP to exit.
    #[arg(
        long,
        default_value_t = 120.0,
        env = "MICROSIP_PROVISION_RUNNING_WAIT",
        value_name = "SECONDS"
    )]
    pub running_wait: f64,
    /// The executable name MicroSIP runs as, for the running check (a renamed portable copy
    /// runs under its own name).
    #[arg(
        long,
        default_value = "microsip.exe",
        env = "MICROSIP_PROVISION_MICROSIP_EXE",
        value_name = "NAME"
    )]
    pub microsip_exe: String,
    /// Seconds to wait for another microsip-provision working on the same profile.
    #[arg(
        long,
        default_value_t = 30.0,
        env = "MICROSIP_PROVISION_LOCK_WAIT",
        value_name = "SECONDS"
    )]
    pub lock_wait: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human, env = "MICROSIP_PROVISION_FORMAT")]
    pub format: ReportFormat,
    /// Append one JSON line per event to this file (for logon scripts, which have no console).
    #[arg(long, env = "MICROSIP_PROVISION_LOG_FILE", value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

fn print_diagnostics(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        if diagnostic.is_error() {
            eprintln!("error: {}", diagnostic.render_human());
        } else {
            eprintln!("{}", diagnostic.render_human());
        }
    }
}

fn invalid(diagnostics: &[Diagnostic]) -> Failure {
    print_diagnostics(diagnostics);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    Failure {
        path: None,
        position: None,
        message: format!(
            "the manifest is invalid ({errors} error{}); nothing was written",
            if errors == 1 { "" } else { "s" }
        ),
        hint: Some("run `microsip-provision validate MANIFEST` to check it for every user".into()),
        code: EXIT_USAGE,
    }
}

fn load(path: &Path) -> Result<LoadedManifest, Failure> {
    manifest::load(path).map_err(|e| invalid(&e.diagnostics()))
}

/// `schema`: the manifest's JSON Schema.
pub fn schema() -> Result<ExitCode, Failure> {
    let schema = manifest::json_schema();
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("schemas serialise")
    );
    Ok(ExitCode::from(EXIT_OK))
}

/// `validate`: schema, templates rendered for every user, MicroSIP's value checks.
pub fn validate(args: ValidateArgs, global: &Global) -> Result<ExitCode, Failure> {
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let loaded = match manifest::load(&args.manifest) {
        Ok(loaded) => Some(loaded),
        Err(error) => {
            diagnostics.extend(error.diagnostics());
            None
        }
    };
    let mut users = 0usize;
    if let Some(loaded) = &loaded {
        diagnostics.extend(loaded.warnings.iter().cloned());
        match Target::new(loaded) {
            Err(errors) => diagnostics.extend(errors),
            Ok(target) => {
                let options = TargetOptions {
                    require_secrets: args.require_secrets,
                };
                for row in &loaded.users.rows {
                    users += 1;
                    let name = row.get(&loaded.users.key_column).unwrap_or_default();
                    let found = match target.render(row, name, options) {
                        Ok(Rendered { warnings, .. }) => warnings,
                        Err(found) => found,
                    };
                    for mut diagnostic in found {
                        diagnostic.message = format!("user {name:?}: {}", diagnostic.message);
                        diagnostics.push(diagnostic);
                    }
                }
            }
        }
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    match args.format {
        ValidateFormat::Human => {
            print_diagnostics(&diagnostics);
            if !global.quiet || errors > 0 {
                let verdict = if errors == 0 { "valid" } else { "invalid" };
                println!(
                    "{}: {verdict} ({users} user{} checked, {errors} error{}, {warnings} warning{})",
                    args.manifest.display(),
                    plural(users),
                    plural(errors),
                    plural(warnings)
                );
            }
        }
        ValidateFormat::Github => {
            for diagnostic in &diagnostics {
                println!("{}", diagnostic.render_github());
            }
        }
        ValidateFormat::Json => {
            let json = serde_json::json!({
                "manifest": args.manifest,
                "valid": errors == 0,
                "users": users,
                "errors": errors,
                "warnings": warnings,
                "diagnostics": diagnostics,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("JSON serialises")
            );
        }
    }
    Ok(ExitCode::from(if errors == 0 {
        EXIT_OK
    } else {
        EXIT_USAGE
    }))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn open_log(path: Option<&Path>) -> Result<EventLog, Failure> {
    EventLog::open(path).map_err(|e| Failure {
        path: Some(e.path.clone()),
        position: None,
        message: e.to_string(),
        hint: None,
        code: EXIT_USAGE,
    })
}

fn print_report(report: &ProfileReport, format: ReportFormat, global: &Global) {
    match format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).expect("reports serialise")
        ),
        ReportFormat::Human => {
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            if report.outcome == Outcome::Failed {
                eprintln!("error: {}", report.summary_line());
                return;
            }
            if global.quiet {
                return;
            }
            if let Some(diff) = &report.diff {
                print!("{diff}");
            } else {
                for change in &report.changes {
                    println!("  {}", change.describe());
                }
            }
            println!("{}", report.summary_line());
        }
    }
}

/// `plan`: what `apply` would change, as a diff. Writes nothing.
pub fn plan(args: PlanArgs, global: &Global) -> Result<ExitCode, Failure> {
    let options = RunOptions {
        mode: Mode::Plan,
        with_diff: true,
        strict: args.fleet.strict,
        ansi: global.ansi,
    };
    let summary = run(
        &args.manifest,
        &args.profile,
        &args.fleet,
        options,
        args.format,
        args.log_file.as_deref(),
        "plan",
        global,
    )?;
    Ok(ExitCode::from(if summary.invalid > 0 {
        EXIT_USAGE
    } else if summary.failed > 0 {
        EXIT_FAILURE
    } else if summary.pending > 0 && args.exit_code {
        EXIT_PENDING
    } else {
        EXIT_OK
    }))
}

/// `apply`: plan and write, safely, for one profile or a fleet.
pub fn apply(args: ApplyArgs, global: &Global) -> Result<ExitCode, Failure> {
    let if_running = match args.if_running {
        IfRunningArg::Skip => IfRunning::Skip,
        IfRunningArg::Wait => IfRunning::Wait,
        IfRunningArg::Stop => IfRunning::Stop,
        IfRunningArg::Ignore => IfRunning::Ignore,
    };
    let options = RunOptions {
        mode: Mode::Apply(ApplyOptions {
            dry_run: args.dry_run,
            no_backup: args.no_backup,
            if_running,
            ansi: global.ansi,
            microsip_exe: Some(args.microsip_exe.clone()),
            lock_wait: Some(std::time::Duration::from_secs_f64(args.lock_wait.max(0.0))),
            running_wait: Some(std::time::Duration::from_secs_f64(
                args.running_wait.max(0.0),
            )),
            defer_folder_sync: false,
            any_running: None,
        }),
        with_diff: args.dry_run,
        strict: args.fleet.strict,
        ansi: global.ansi,
    };
    let event = if args.dry_run { "plan" } else { "apply" };
    let summary = run(
        &args.manifest,
        &args.profile,
        &args.fleet,
        options,
        args.format,
        args.log_file.as_deref(),
        event,
        global,
    )?;
    Ok(ExitCode::from(if summary.invalid > 0 {
        EXIT_USAGE
    } else if summary.failed > 0 {
        EXIT_FAILURE
    } else {
        EXIT_OK
    }))
}

fn report_failure(e: ReportFileError) -> Failure {
    Failure {
        path: None,
        position: None,
        message: e.to_string(),
        hint: None,
        code: EXIT_USAGE,
    }
}

/// Load, then run one profile or the fleet; print and log every report.
#[allow(clippy::too_many_arguments)]
fn run(
    manifest_path: &Path,
    profile_args: &ProfileArgs,
    fleet: &FleetArgs,
    options: RunOptions,
    format: ReportFormat,
    log_file: Option<&Path>,
    event: &str,
    global: &Global,
) -> Result<FleetSummary, Failure> {
    let log = Mutex::new(open_log(log_file)?);
    // A fleet run lists the profiles root while the manifest and its users load (the users
    // table is needed only to read the folder names).
    let fleet_start = fleet.profiles_root.clone().map(|root| {
        let layout = fleet.layout.clone();
        std::thread::spawn(move || RootListing::read(&root, &layout))
    });
    let loaded = match load(manifest_path) {
        Ok(loaded) => loaded,
        Err(failure) => {
            log.lock()
                .expect("log")
                .write("error", &serde_json::json!({ "error": failure.message }));
            return Err(failure);
        }
    };
    let target = Target::new(&loaded).map_err(|d| invalid(&d))?;
    let (Some(root), Some(fleet_start)) = (&fleet.profiles_root, fleet_start) else {
        let profile = profile_args.select()?;
        let quiet = global.quiet;
        let mut on_wait = |lock: &Path| {
            if !quiet {
                eprintln!("waiting for lock on {} (another microsip-provision is working on this profile)", lock.display());
            }
        };
        let mut report = run_profile(&target, &loaded, &profile, &options, &mut on_wait);
        if let Some(section) = &loaded.manifest.registry {
            registry_step(section, profile_args, &options, &mut report);
        }
        log.lock().expect("log").write(event, &report);
        if let Some(path) = &fleet.report {
            let file = ReportFile::create(path).map_err(report_failure)?;
            file.write(&report).map_err(report_failure)?;
            file.finish().map_err(report_failure)?;
        }
        print_report(&report, format, global);
        let mut summary = FleetSummary::default();
        summary.add(&report);
        // The process ends with this run (see the end of the fleet run): a logon whose users
        // table is the whole company's does not free it row by row.
        std::mem::forget(target);
        std::mem::forget(loaded);
        return Ok(summary);
    };

    // A folder whose whole name is a manifest user (`john.DOE`) is not read as a domain form.
    let listing = fleet_start.join().expect("the root listing does not panic");
    let listing = listing.map_err(|e| Failure {
        path: Some(root.clone()),
        position: None,
        message: e.to_string(),
        hint: None,
        code: EXIT_USAGE,
    })?;
    let discovered = listing.resolve(|name| loaded.users.find(name).is_some(), true);
    let report_file = match &fleet.report {
        Some(path) => Some(ReportFile::create(path).map_err(report_failure)?),
        None => None,
    };
    let report_error = std::sync::OnceLock::new();
    let total = discovered.len();
    let done = AtomicUsize::new(0);
    let progress = !global.quiet && std::io::stderr().is_terminal();
    let started = Instant::now();
    let sink = |report: &ProfileReport| {
        log.lock().expect("log").write(event, report);
        if let Some(file) = &report_file {
            if let Err(e) = file.write(report) {
                let _ = report_error.set(e);
            }
        }
        if format == ReportFormat::Json {
            let line = serde_json::to_string(report).expect("reports serialise");
            println!("{line}");
        } else if report.outcome == Outcome::Failed {
            // `\r` only over a progress line, so redirected output stays clean.
            eprintln!(
                "{}error: {}",
                if progress { "\r" } else { "" },
                report.summary_line()
            );
        } else if !global.quiet && report.outcome != Outcome::Unchanged {
            let diff = report.diff.as_deref().unwrap_or_default();
            println!(
                "{}{diff}{}",
                if progress { "\r" } else { "" },
                report.summary_line()
            );
        }
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if progress {
            eprint!("\r[{n}/{total}] {:.1} s", started.elapsed().as_secs_f64());
        }
    };
    // One look at the process table for the whole run, when a profile first needs it, instead
    // of one per profile: on a file server no MicroSIP runs at all (per-profile scans tripled
    // a no-change run), and a run that changes nothing never looks.
    let mut options = options;
    if let Mode::Apply(apply) = &mut options.mode {
        apply.any_running = Some(Default::default());
    }
    let jobs = fleet
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Each write flushes its file before the rename; the renames themselves are made durable
    // once, here, for the whole run (one `syncfs` instead of one folder fsync per profile).
    if let Mode::Apply(apply) = &mut options.mode {
        apply.defer_folder_sync = !apply.dry_run;
    }
    // A run that writes waits on the disk for most of each profile: `jobs` files are flushed at
    // a time, and a second worker per job prepares the next profile meanwhile (see
    // `atomic::flush_gate`).
    // Not with `--jobs 1` (one profile at a time, in order, is what it asks for), nor when a
    // running MicroSIP is waited for or stopped (those waits stay `--jobs` wide).
    let workers = match &options.mode {
        Mode::Apply(apply)
            if !apply.dry_run
                && jobs > 1
                && !matches!(apply.if_running, IfRunning::Wait | IfRunning::Stop) =>
        {
            atomic::flush_gate::limit_concurrent_flushes(jobs);
            jobs.saturating_mul(2)
        }
        _ => jobs,
    };
    let summary = run_fleet(&target, &loaded, &discovered, &options, workers, &sink);
    if let Mode::Apply(apply) = &options.mode {
        if apply.defer_folder_sync && summary.changed > 0 {
            if let Err(e) = atomic::sync_file_system(root) {
                eprintln!("warning: {e}");
            }
        }
    }
    if let Some(file) = report_file {
        if let Err(e) = file.finish() {
            let _ = report_error.set(e);
        }
    }
    if progress {
        eprint!("\r");
    }
    if format == ReportFormat::Human && (!global.quiet || summary.failed > 0) {
        println!(
            "{} profiles in {:.2} s: {} changed, {} unchanged, {} pending, {} skipped, {} failed",
            summary.total(),
            started.elapsed().as_secs_f64(),
            summary.changed,
            summary.unchanged,
            summary.pending,
            summary.skipped,
            summary.failed
        );
        if !global.quiet {
            for (ms, user, path) in &summary.slowest {
                println!("  slowest: {user} {ms:.1} ms ({})", path.display());
            }
        }
    }
    // The process ends with this run: freeing the users table and the discovered folders one
    // allocation at a time (tens of thousands at 10,000 profiles) would cost more than checking
    // a thousand unchanged profiles, and the system takes the memory back at exit anyway.
    std::mem::forget(discovered);
    std::mem::forget(target);
    std::mem::forget(loaded);
    // A report that could not be written fails the run (the admin relies on it), after every
    // profile has been handled and the summary printed.
    if let Some(error) = report_error.into_inner() {
        return Err(report_failure(error));
    }
    Ok(summary)
}

/// The registry side (autostart, URL protocols) for the current user: planned with the profile,
/// applied by `apply`, reported as changes in section `registry`. Not applicable elsewhere: other
/// platforms have no registry, and another user's profile folder is not this user's HKCU.
fn registry_step(
    section: &manifest::RegistrySection,
    profile_args: &ProfileArgs,
    options: &RunOptions,
    report: &mut ProfileReport,
) {
    use microsip_provision::plan::{Change, ChangeKind};
    use microsip_provision::registry::{self, RegistryChangeKind, SystemRegistry};
    if report.outcome == Outcome::Failed || report.outcome == Outcome::Skipped {
        return;
    }
    if profile_args.profile.is_some() || profile_args.portable.is_some() {
        report.warnings.push(
            "registry: applied only for the current user's own profile (run without --profile); \
             nothing done"
                .to_string(),
        );
        return;
    }
    let system = match SystemRegistry::open() {
        Ok(system) => system,
        Err(error) => {
            report.warnings.push(format!("registry: {error}"));
            return;
        }
    };
    let result =
        registry::DesiredRegistry::resolve(&section.options(), &system, &registry::SystemEnv)
            .and_then(|desired| registry::plan_registry(&desired, &system));
    let changes = match result {
        Ok(changes) => changes,
        Err(error) => {
            report.outcome = Outcome::Failed;
            report.error = Some(format!("registry: {error}"));
            return;
        }
    };
    if changes.is_empty() {
        return;
    }
    let apply = matches!(&options.mode, Mode::Apply(a) if !a.dry_run);
    if apply {
        if let Err(error) = registry::apply_registry(&changes, &system) {
            report.outcome = Outcome::Failed;
            report.error = Some(format!("registry: {error}"));
            return;
        }
        report.outcome = Outcome::Changed;
    } else if report.outcome == Outcome::Unchanged {
        report.outcome = Outcome::Pending;
    }
    for change in &changes {
        report.changes.push(Change {
            section: "registry".to_string(),
            key: Some(change.describe()),
            kind: match change.kind {
                RegistryChangeKind::Added => ChangeKind::Added,
                RegistryChangeKind::Updated => ChangeKind::Updated,
                _ => ChangeKind::Removed,
            },
            old: None,
            new: None,
            secret: false,
            reason: None,
        });
    }
}

/// `registry export`: the manifest's registry settings as a `.reg` file (for Group Policy
/// Preferences or `reg import`).
pub fn registry_export(
    manifest_path: &Path,
    exe: Option<String>,
    output: Option<&Path>,
) -> Result<ExitCode, Failure> {
    use microsip_provision::registry::{self, RegEntry};
    let loaded = load(manifest_path)?;
    let Some(section) = &loaded.manifest.registry else {
        return Err(Failure::at(
            manifest_path,
            "the manifest has no [registry] section; nothing to export",
        )
        .hint("add [registry] with autostart and/or url_protocols")
        .code(EXIT_USAGE));
    };
    let exe = exe
        .or_else(|| section.exe.clone())
        .unwrap_or_else(|| r"C:\Program Files\MicroSIP\microsip.exe".to_string());
    let desired = registry::DesiredRegistry::for_exe(
        &exe,
        section.autostart,
        section.url_protocols.as_deref(),
        None,
    );
    let bytes = registry::to_reg_file(&RegEntry::from_desired(&desired));
    match output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| Failure::at(path, format!("cannot write: {e}")))?,
        None => std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| Failure::at(Path::new("-"), format!("cannot write to stdout: {e}")))?,
    }
    Ok(ExitCode::from(EXIT_OK))
}
