//! `validate`, `plan`, `apply` and `schema`: the manifest pipeline from the command line.
//!
//! `plan` and `apply` run the same pipeline (chezmoi's model): load the manifest, render it for
//! the profile's user, merge it into the profile; `plan` prints the result, `apply` writes it
//! under the profile's lock. `apply --dry-run` is a plan taken under the lock.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};
use microsip_provision::apply::{self, ApplyOptions, ApplyOutcome, IfRunning, ProfilePlan};
use microsip_provision::manifest::{self, Diagnostic, LoadedManifest};
use microsip_provision::plan::target::{Rendered, Target, TargetOptions};
use microsip_provision::profile::{Profile, ProfileSelection};
use microsip_provision::report::{EventLog, Outcome, ProfileReport};

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
    /// Fail the profile: MicroSIP would undo [Settings] changes when it exits.
    Fail,
    /// Skip the profile and report it as skipped.
    Skip,
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
    #[arg(long, env = "MICROSIP_PROVISION_REQUIRE_SECRETS")]
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
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human, env = "MICROSIP_PROVISION_FORMAT")]
    pub format: ReportFormat,
    /// Exit with 3 when changes are pending (0 when the profile is in line).
    #[arg(long, env = "MICROSIP_PROVISION_EXIT_CODE")]
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
    /// Plan under the profile's lock and print the diff; write nothing.
    #[arg(long, env = "MICROSIP_PROVISION_DRY_RUN")]
    pub dry_run: bool,
    /// Do not keep a backup of the previous microsip.ini.
    #[arg(long, env = "MICROSIP_PROVISION_NO_BACKUP")]
    pub no_backup: bool,
    /// What to do when MicroSIP is running.
    #[arg(long, value_enum, default_value_t = IfRunningArg::Fail, env = "MICROSIP_PROVISION_IF_RUNNING")]
    pub if_running: IfRunningArg,
    /// The executable name MicroSIP runs as, for the running check (a renamed portable copy
    /// runs under its own name).
    #[arg(
        long,
        default_value = "microsip.exe",
        env = "MICROSIP_PROVISION_MICROSIP_EXE",
        value_name = "NAME"
    )]
    pub microsip_exe: String,
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

/// The manifest rendered for the profile's user; `Ok(None)` when the user is not in the manifest.
fn render_for(loaded: &LoadedManifest, profile: &Profile) -> Result<Option<Rendered>, Failure> {
    let target = Target::new(loaded).map_err(|d| invalid(&d))?;
    let Some(row) = loaded.users.find(&profile.user) else {
        return Ok(None);
    };
    target
        .render(row, &profile.user, TargetOptions::default())
        .map(Some)
        .map_err(|d| invalid(&d))
}

fn not_in_manifest(profile: &Profile, loaded: &LoadedManifest, started: Instant) -> ProfileReport {
    let mut report = ProfileReport::new(
        &profile.user,
        &profile.dir,
        Outcome::Skipped,
        started.elapsed(),
    );
    report.error = Some(format!(
        "user {:?} is not in the manifest's users ({}); nothing to do",
        profile.user,
        loaded.users.source.display()
    ));
    report
}

fn report_from_plan(
    plan: &ProfilePlan,
    outcome: Outcome,
    started: Instant,
    with_diff: bool,
) -> ProfileReport {
    let mut report = ProfileReport::new(
        &plan.profile.user,
        &plan.profile.dir,
        outcome,
        started.elapsed(),
    );
    report.changes = plan.changes.clone();
    report.warnings = plan.warnings.iter().map(|w| w.message.clone()).collect();
    if with_diff {
        let diff = plan.diff();
        report.diff = (!diff.is_empty()).then_some(diff);
    }
    report
}

fn failed(profile: &Profile, error: impl ToString, started: Instant) -> ProfileReport {
    let mut report = ProfileReport::new(
        &profile.user,
        &profile.dir,
        Outcome::Failed,
        started.elapsed(),
    );
    report.error = Some(error.to_string());
    report
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
    let started = Instant::now();
    let mut log = open_log(args.log_file.as_deref())?;
    let loaded = load(&args.manifest)?;
    let profile = args.profile.select()?;
    let report = match render_for(&loaded, &profile)? {
        None => not_in_manifest(&profile, &loaded, started),
        Some(rendered) => match apply::plan_profile(&profile, &rendered.desired, global.ansi) {
            Ok(plan) => {
                let outcome = if plan.ini_changes() {
                    Outcome::Pending
                } else {
                    Outcome::Unchanged
                };
                let mut report = report_from_plan(&plan, outcome, started, true);
                report
                    .warnings
                    .extend(rendered.warnings.iter().map(|d| d.render_human()));
                report
            }
            Err(error) => failed(&profile, error, started),
        },
    };
    log.write("plan", &report);
    print_report(&report, args.format, global);
    Ok(ExitCode::from(match report.outcome {
        Outcome::Failed => EXIT_FAILURE,
        Outcome::Pending if args.exit_code => EXIT_PENDING,
        _ => EXIT_OK,
    }))
}

/// `apply`: plan and write, safely, for one profile.
pub fn apply(args: ApplyArgs, global: &Global) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let mut log = open_log(args.log_file.as_deref())?;
    let loaded = match load(&args.manifest) {
        Ok(loaded) => loaded,
        Err(failure) => {
            log.write("error", &serde_json::json!({ "error": failure.message }));
            return Err(failure);
        }
    };
    let profile = args.profile.select()?;
    let options = ApplyOptions {
        dry_run: args.dry_run,
        no_backup: args.no_backup,
        if_running: match args.if_running {
            IfRunningArg::Fail => IfRunning::Fail,
            IfRunningArg::Skip => IfRunning::Skip,
            IfRunningArg::Ignore => IfRunning::Ignore,
        },
        ansi: global.ansi,
        microsip_exe: Some(args.microsip_exe.clone()),
    };
    let quiet = global.quiet;
    let mut on_wait = |lock: &Path| {
        if !quiet {
            eprintln!(
                "waiting for lock on {} (another microsip-provision is working on this profile)",
                lock.display()
            );
        }
    };
    let report = match render_for(&loaded, &profile)? {
        None => not_in_manifest(&profile, &loaded, started),
        Some(rendered) => {
            let warnings: Vec<String> =
                rendered.warnings.iter().map(|d| d.render_human()).collect();
            let mut report =
                match apply::apply_profile(&profile, &rendered.desired, &options, &mut on_wait) {
                    Ok(ApplyOutcome::Changed(plan)) => {
                        let outcome = if args.dry_run {
                            Outcome::Pending
                        } else {
                            Outcome::Changed
                        };
                        report_from_plan(&plan, outcome, started, args.dry_run)
                    }
                    Ok(ApplyOutcome::Unchanged(plan)) => {
                        report_from_plan(&plan, Outcome::Unchanged, started, false)
                    }
                    Ok(ApplyOutcome::Skipped { reason }) => {
                        let mut report = ProfileReport::new(
                            &profile.user,
                            &profile.dir,
                            Outcome::Skipped,
                            started.elapsed(),
                        );
                        report.error = Some(reason);
                        report
                    }
                    Err(error) => failed(&profile, error, started),
                };
            report.warnings.extend(warnings);
            report
        }
    };
    log.write(if args.dry_run { "plan" } else { "apply" }, &report);
    print_report(&report, args.format, global);
    Ok(ExitCode::from(if report.outcome == Outcome::Failed {
        EXIT_FAILURE
    } else {
        EXIT_OK
    }))
}
