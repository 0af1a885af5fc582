//! One profile or thousands: the per-profile pipeline and the fleet runner.
//!
//! [`run_profile`] is the whole pipeline for one profile (find the user's row, confirm it by its
//! fingerprint or render the target state, plan or apply it) and always returns a
//! [`ProfileReport`], never an error: a broken profile is a failed report and the run goes on
//! (ripgrep's "report per file and continue"). A profile left exactly as the last apply wrote it
//! for the same inputs is confirmed without render, lock, parse or merge
//! ([`crate::profile::fingerprint`]).
//! [`run_fleet`] runs it on `jobs` worker threads over a discovered list, hands each report to a
//! sink as soon as it exists (so memory stays flat however many profiles there are) and keeps only
//! counters and the slowest profiles for the summary.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::{apply_profile, atomic, plan_profile, ApplyOptions, ApplyOutcome, ProfilePlan};
use crate::manifest::LoadedManifest;
use crate::plan::target::{Target, TargetOptions};
use crate::profile::discover::Discovered;
use crate::profile::fingerprint;
use crate::profile::Profile;
use crate::report::{Outcome, ProfileReport};

/// What to do with each profile.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Plan only: nothing is written, no lock is taken.
    Plan,
    /// Apply (or `--dry-run`: plan under the lock).
    Apply(ApplyOptions),
}

/// How a run treats profiles.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Plan or apply.
    pub mode: Mode,
    /// Put the redacted diff in each report.
    pub with_diff: bool,
    /// A profile whose user is not in the manifest is a failure, not a skip.
    pub strict: bool,
    /// Code page for ANSI INI files (planning).
    pub ansi: crate::ini::CodePage,
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

fn with_error(
    profile: &Profile,
    outcome: Outcome,
    error: String,
    started: Instant,
) -> ProfileReport {
    let mut report = ProfileReport::new(&profile.user, &profile.dir, outcome, started.elapsed());
    report.error = Some(error);
    report
}

/// The whole pipeline for one profile. Never fails: problems are reported.
pub fn run_profile(
    target: &Target<'_>,
    loaded: &LoadedManifest,
    profile: &Profile,
    options: &RunOptions,
    on_wait: &mut dyn FnMut(&Path),
) -> ProfileReport {
    run_profile_inner(target, loaded, profile, options, on_wait, true)
}

/// [`run_profile`]; `try_fingerprint: false` when the caller already looked at the fingerprint.
fn run_profile_inner(
    target: &Target<'_>,
    loaded: &LoadedManifest,
    profile: &Profile,
    options: &RunOptions,
    on_wait: &mut dyn FnMut(&Path),
    try_fingerprint: bool,
) -> ProfileReport {
    let started = Instant::now();
    let Some(row) = loaded.users.find(&profile.user) else {
        let outcome = if options.strict {
            Outcome::Failed
        } else {
            Outcome::Skipped
        };
        let error = format!(
            "user {:?} is not in the manifest's users ({}); nothing to do",
            profile.user,
            loaded.users.source.display()
        );
        return with_error(profile, outcome, error, started);
    };
    // The fast path: a file byte-for-byte as an earlier apply left it for these same inputs
    // needs no render, no lock, no parse and no merge (`profile::fingerprint`). Anything else,
    // including a read error, takes the full path below, which decides and reports properly.
    if try_fingerprint && target.fingerprint_applies() {
        if let Ok(Some(bytes)) = atomic::read_file(&profile.ini_path) {
            if confirmed_by_fingerprint(target, row, &profile.user, &bytes) {
                return ProfileReport::new(
                    &profile.user,
                    &profile.dir,
                    Outcome::Unchanged,
                    started.elapsed(),
                );
            }
        }
    }
    let rendered = match target.render(row, &profile.user, TargetOptions::default()) {
        Ok(rendered) => rendered,
        Err(diagnostics) => {
            let error = diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.render_human())
                .collect::<Vec<_>>()
                .join("\n");
            let mut report = with_error(profile, Outcome::Failed, error, started);
            report.invalid_manifest = true;
            return report;
        }
    };
    let warnings: Vec<String> = rendered.warnings.iter().map(|d| d.render_human()).collect();
    let mut report = match &options.mode {
        Mode::Plan => match plan_profile(profile, &rendered.desired, options.ansi) {
            Ok(plan) => {
                let outcome = if plan.has_changes() {
                    Outcome::Pending
                } else {
                    Outcome::Unchanged
                };
                report_from_plan(&plan, outcome, started, options.with_diff)
            }
            Err(error) => with_error(profile, Outcome::Failed, error.to_string(), started),
        },
        Mode::Apply(apply) => match apply_profile(profile, &rendered.desired, apply, on_wait) {
            Ok(ApplyOutcome::Changed(plan)) => {
                let outcome = if apply.dry_run {
                    Outcome::Pending
                } else {
                    Outcome::Changed
                };
                report_from_plan(&plan, outcome, started, options.with_diff)
            }
            Ok(ApplyOutcome::Unchanged(plan)) => {
                report_from_plan(&plan, Outcome::Unchanged, started, false)
            }
            Ok(ApplyOutcome::Skipped { reason }) => {
                with_error(profile, Outcome::Skipped, reason, started)
            }
            Err(error) => with_error(profile, Outcome::Failed, error.to_string(), started),
        },
    };
    report.warnings.extend(warnings);
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report
}

/// Counters and the slowest profiles of a fleet run.
#[derive(Debug, Default, Clone)]
pub struct FleetSummary {
    /// Profiles written.
    pub changed: usize,
    /// Profiles already in line.
    pub unchanged: usize,
    /// Profiles with changes pending (plan, dry run).
    pub pending: usize,
    /// Profiles skipped.
    pub skipped: usize,
    /// Profiles failed.
    pub failed: usize,
    /// Of the failed profiles, those that failed because the manifest is invalid for their user.
    pub invalid: usize,
    /// The slowest profiles: (milliseconds, user, folder), slowest first.
    pub slowest: Vec<(f64, String, PathBuf)>,
}

/// How many slowest profiles the summary keeps.
pub const SLOWEST_KEPT: usize = 5;

impl FleetSummary {
    /// Count one report.
    pub fn add(&mut self, report: &ProfileReport) {
        match report.outcome {
            Outcome::Changed => self.changed += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Pending => self.pending += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
        }
        if report.invalid_manifest {
            self.invalid += 1;
        }
        // Most reports are not among the slowest: no copy, no sort for them.
        let fastest_kept = self.slowest.last().map_or(f64::NEG_INFINITY, |s| s.0);
        if self.slowest.len() < SLOWEST_KEPT || report.duration_ms > fastest_kept {
            self.slowest.push((
                report.duration_ms,
                report.user.clone(),
                report.profile.clone(),
            ));
            self.slowest
                .sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
            self.slowest.truncate(SLOWEST_KEPT);
        }
    }

    /// Add the counts and the slowest profiles of another part of the run.
    pub fn merge(&mut self, other: FleetSummary) {
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.pending += other.pending;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.invalid += other.invalid;
        self.slowest.extend(other.slowest);
        self.slowest
            .sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        self.slowest.truncate(SLOWEST_KEPT);
    }

    /// All profiles counted.
    pub fn total(&self) -> usize {
        self.changed + self.unchanged + self.pending + self.skipped + self.failed
    }
}

/// The report for one discovered folder; `None` when it turns out to hold no profile.
fn report_for(
    target: &Target<'_>,
    loaded: &LoadedManifest,
    item: &Discovered,
    options: &RunOptions,
) -> Option<ProfileReport> {
    Some(match item {
        Discovered::Profile(profile) => run_profile(target, loaded, profile, options, &mut |_| {}),
        Discovered::Unchecked(unchecked) => {
            let started = Instant::now();
            // Linux reads the INI in the call that proves no link is on the way: a profile left
            // as the last apply wrote it is done without another look. The bytes go into this
            // worker's buffer, reused from profile to profile.
            thread_local! {
                static INI_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            let read = INI_BUFFER.with_borrow_mut(|buffer| {
                let len = unchecked.read_ini_into(buffer);
                let confirmed = len.map(|len| {
                    loaded.users.find(&unchecked.user).is_some_and(|row| {
                        confirmed_by_fingerprint(target, row, &unchecked.user, &buffer[..len])
                    })
                });
                // A planted giant file must not pin megabytes in every worker for the rest of
                // the run: past 1 MB the buffer is given back.
                if buffer.len() > 1024 * 1024 {
                    *buffer = Vec::new();
                }
                confirmed
            });
            if read == Some(true) {
                return Some(ProfileReport::new(
                    &unchecked.user,
                    unchecked.dir(),
                    Outcome::Unchanged,
                    started.elapsed(),
                ));
            }
            // A read through `read_ini_into` proved what checking would: no link on the way.
            // What is at the end (a folder, a pipe) the full path looks at again.
            let checked = match read {
                Some(_) => Discovered::Profile(Profile::in_dir(unchecked.dir(), &unchecked.user)),
                None => unchecked.check()?,
            };
            match checked {
                Discovered::Profile(profile) => run_profile_inner(
                    target,
                    loaded,
                    &profile,
                    options,
                    &mut |_| {},
                    read.is_none(),
                ),
                other => return report_for(target, loaded, &other, options),
            }
        }
        Discovered::Refused { user, path, reason } => {
            let mut report = ProfileReport::new(user, path, Outcome::Failed, Default::default());
            report.error = Some(format!("{}: {reason}", path.display()));
            report
        }
        Discovered::Superseded {
            user,
            path,
            by,
            reason,
        } => {
            let mut report = ProfileReport::new(user, path, Outcome::Skipped, Default::default());
            report.error = Some(format!("{reason}; {} is used instead", by.display()));
            report
        }
    })
}

/// Whether `bytes`, the profile's `microsip.ini`, carry a fingerprint proving they are what an
/// earlier apply wrote for this user's current inputs (`profile::fingerprint`).
fn confirmed_by_fingerprint(
    target: &Target<'_>,
    row: &crate::manifest::UserRow,
    user: &str,
    bytes: &[u8],
) -> bool {
    target.fingerprint_applies()
        && target
            .inputs(row, user)
            .is_some_and(|inputs| fingerprint::confirms(bytes, &inputs))
}

/// Run the pipeline over every discovered profile on `jobs` threads. Each report goes to `sink`
/// as soon as it exists (from the worker thread that made it).
pub fn run_fleet(
    target: &Target<'_>,
    loaded: &LoadedManifest,
    discovered: &[Discovered],
    options: &RunOptions,
    jobs: usize,
    sink: &(dyn Fn(&ProfileReport) + Sync),
) -> FleetSummary {
    let next = AtomicUsize::new(0);
    // Each worker counts its own profiles (no lock per profile); the counts are added at the end.
    let work = || {
        let mut summary = FleetSummary::default();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = discovered.get(index) else {
                break summary;
            };
            let Some(report) = report_for(target, loaded, item, options) else {
                continue; // a folder without MicroSIP: not a profile
            };
            sink(&report);
            summary.add(&report);
        }
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1)).map(|_| scope.spawn(work)).collect();
        let mut summary = FleetSummary::default();
        for worker in workers {
            summary.merge(worker.join().expect("fleet workers report, never panic"));
        }
        summary
    })
}
