//! Applying changes to disk safely, for one profile.
//!
//! [`atomic`] owns every byte this tool writes (temp file in the same folder, fsync, rename;
//! `ReplaceFileW` on Windows so the ACL and owner survive; no write when the bytes are unchanged;
//! planted symlinks refused), and [`lock`] the sidecar lock that serialises our own
//! read-modify-write cycles. This module ties them to a plan: [`plan_profile`] reads a profile and
//! merges the target state into it (pure, shared by `plan` and `apply`), and [`apply_profile`]
//! does the same under the profile's lock, then keeps a backup, replaces the file atomically
//! (re-checking that nobody changed it since it was read) and reads it back to verify. The state
//! (which slots we manage, [`crate::profile::state`]) and the no-change fingerprint
//! ([`crate::profile::fingerprint`]) travel inside the INI, so they change in the same replace.

pub mod atomic;
pub mod fleet;
pub mod lock;
pub mod running;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use atomic::{Fingerprint, FsError, WriteOptions};
use running::{MicrosipProcesses, SystemProcesses};

use crate::contacts::import::{merge_managed, ContactChange};
use crate::contacts::store::{RunningPolicy, StoreError, StoreOptions};
use crate::contacts::{self, EditError};
use crate::history::{self, HistoryError};
use crate::ini::{CodePage, DecodeError, IniDocument};
use crate::plan::merge::{self, MergeError};
use crate::plan::{diff, Change, ChangeKind, DesiredProfile, Warning};
use crate::profile::fingerprint;
use crate::profile::state::{ProfileState, StateError, StateSource};
use crate::profile::Profile;

/// How many backups of each profile file are kept beside it (`microsip.ini.<UTC timestamp>.bak`).
pub const BACKUPS_KEPT: usize = 10;

/// How long `apply` waits for another microsip-provision working on the same profile.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Why a profile could not be planned or applied. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Reading or writing failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The INI does not decode.
    #[error("{}:{}:{}: cannot decode: {}; the file was left untouched", .path.display(), .source.line, .source.column, .source.what)]
    Decode {
        /// The INI file.
        path: PathBuf,
        /// Where and why.
        source: DecodeError,
    },
    /// The state file is unusable.
    #[error(transparent)]
    State(#[from] StateError),
    /// `Contacts.xml` could not be read, merged or written.
    #[error(transparent)]
    Contacts(#[from] StoreError),
    /// The company directory could not be merged into `Contacts.xml`.
    #[error("{}: {source}", .path.display())]
    ContactsEdit {
        /// `Contacts.xml`.
        path: PathBuf,
        /// Why.
        source: EditError,
    },
    /// The call history could not be pruned.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The merge is impossible.
    #[error("{}: {source}", .path.display())]
    Merge {
        /// The INI file.
        path: PathBuf,
        /// Why (boxed: the error path must not make every `Result` large).
        source: Box<MergeError>,
    },
    /// The file read back after writing is not what was planned.
    #[error("{}: read back after writing, {what}; the backup in {} holds the previous version", .path.display(), .backup_dir.display())]
    Verify {
        /// The INI file.
        path: PathBuf,
        /// What differed.
        what: String,
        /// Where the backup is.
        backup_dir: PathBuf,
    },
    /// MicroSIP kept running (`--if-running wait|stop`); it rewrites its settings when it exits.
    #[error("MicroSIP (process {pid}) is still running after {:.0} s: it rewrites [Settings] when it exits, which would undo the changes, so nothing was written; close it, or pass --if-running stop|ignore", .waited.as_secs_f64())]
    MicrosipRunning {
        /// Its process id.
        pid: u32,
        /// How long we waited.
        waited: Duration,
    },
    /// MicroSIP could not be asked to exit (`--if-running stop`).
    #[error("cannot stop MicroSIP (process {pid}): {source}; nothing was written")]
    MicrosipStop {
        /// Its process id.
        pid: u32,
        /// Why.
        source: std::io::Error,
    },
}

/// One profile's plan: the document before and after, the changes, and the new state.
#[derive(Debug)]
pub struct ProfilePlan {
    /// The profile.
    pub profile: Profile,
    /// The INI's bytes as read (`None`: the file does not exist yet).
    pub before_bytes: Option<Vec<u8>>,
    /// The code page the INI was read with (ANSI files), to read `before_bytes` again for a diff.
    pub ansi: CodePage,
    /// The INI as it should be (with the state, and a fresh fingerprint when it is written).
    pub after: IniDocument,
    /// `after`'s bytes (empty when there is no file and none is written).
    pub after_bytes: Vec<u8>,
    /// Whether the INI is edited at all (a change, or new bookkeeping).
    pub rewritten: bool,
    /// Whether the merge changed anything MicroSIP reads in the INI (as opposed to only our
    /// `[microsip-provision]` bookkeeping).
    pub ini_edited: bool,
    /// Every change, secrets without values.
    pub changes: Vec<Change>,
    /// Notes for the admin.
    pub warnings: Vec<Warning>,
    /// The state after the merge.
    pub state: ProfileState,
    /// The state as read, and where it was found.
    pub state_before: (ProfileState, StateSource),
    /// `Contacts.xml` before and after the company directory merge, when the manifest has one.
    pub contacts: Option<ContactsPlan>,
    /// Calls the history retention rule removes (or would remove).
    pub history_pruned: usize,
}

/// `Contacts.xml` before and after the company directory merge.
#[derive(Debug, Clone)]
pub struct ContactsPlan {
    /// The bytes as read (`None`: no file yet).
    pub before: Option<Vec<u8>>,
    /// The bytes after the merge.
    pub after: Vec<u8>,
    /// Whether the file changes.
    pub changed: bool,
}

impl ProfilePlan {
    /// Whether the INI file is written: a change MicroSIP reads, or new bookkeeping.
    pub fn ini_changes(&self) -> bool {
        self.rewritten && self.before_bytes.as_deref() != Some(self.after_bytes.as_slice())
    }

    /// Whether anything in the profile changes: the INI, `Contacts.xml` or the call history.
    /// (A write of the state alone, e.g. the first run on a profile that already matches, is
    /// bookkeeping, not a change.)
    pub fn has_changes(&self) -> bool {
        self.ini_edited
            || self.contacts.as_ref().is_some_and(|c| c.changed)
            || self.history_pruned > 0
    }

    /// The unified diff of the INI (secrets redacted; our `[microsip-provision]` bookkeeping is
    /// left out, as it is not MicroSIP's) and of `Contacts.xml`.
    pub fn diff(&self) -> String {
        let without_state = |document: &IniDocument| {
            let mut document = document.clone();
            document.remove_section(crate::profile::state::STATE_SECTION);
            document
        };
        // The document as read is parsed again only here: a diff is rare (plan, dry run), the
        // copy it would otherwise cost is not.
        let before = self
            .before_bytes
            .as_deref()
            .and_then(|bytes| IniDocument::parse(bytes, self.ansi).ok())
            .map(|document| without_state(&document));
        let mut text =
            diff::unified_diff("microsip.ini", before.as_ref(), &without_state(&self.after));
        if let Some(contacts) = self.contacts.as_ref().filter(|c| c.changed) {
            text.push_str(&contacts::store::unified_diff(
                "Contacts.xml",
                contacts.before.as_deref(),
                &contacts.after,
            ));
        }
        text
    }
}

/// Read the profile and merge `desired` into it. Writes nothing.
pub fn plan_profile(
    profile: &Profile,
    desired: &DesiredProfile,
    ansi: CodePage,
) -> Result<ProfilePlan, ProfileError> {
    let path = &profile.ini_path;
    let before_bytes = atomic::read_file(path)?;
    let before = before_bytes
        .as_deref()
        .map(|bytes| IniDocument::parse(bytes, ansi))
        .transpose()
        .map_err(|source| ProfileError::Decode {
            path: path.clone(),
            source,
        })?;
    let state_before =
        ProfileState::load(path, before.as_ref(), &ProfileState::legacy_path(profile))?;
    let mut state = state_before.0.clone();
    let mut after = before.unwrap_or_default();
    let had_file = before_bytes.is_some();
    let merge_error = |source| ProfileError::Merge {
        path: path.clone(),
        source: Box::new(source),
    };
    let outcome = merge::merge(&mut after, &mut state, desired).map_err(merge_error)?;
    let ini_edited = !outcome.changes.is_empty();
    let mut warnings = outcome.warnings;
    if outcome.converted_to_utf16 {
        warnings.push(Warning {
            message: format!(
                "{} is ANSI and a value does not fit its code page: it will be converted to \
                 UTF-16LE with BOM (MicroSIP does the same at its next start)",
                path.display()
            ),
        });
    }
    let mut changes = outcome.changes;
    let contacts = match &desired.directory {
        None => None,
        Some(directory) => {
            let path = contacts::store::contacts_path(profile);
            let loaded = contacts::store::load(&path)?;
            let mut document = loaded.document;
            let merge = merge_managed(&mut document, directory, &state.contacts)
                .map_err(|source| ProfileError::ContactsEdit { path, source })?;
            state.contacts = merge.managed;
            changes.extend(merge.changes.iter().map(contact_change));
            warnings.extend(
                merge
                    .warnings
                    .into_iter()
                    .map(|message| Warning { message }),
            );
            let after = document.to_bytes();
            let changed = match &loaded.bytes {
                Some(before) => before != &after,
                None => document.is_edited(),
            };
            Some(ContactsPlan {
                before: loaded.bytes,
                after,
                changed,
            })
        }
    };
    let mut history_pruned = 0;
    if let Some(days) = desired.history_retention_days {
        let report = prune_history(profile, days, ansi, true)?;
        history_pruned = report.removed();
        if history_pruned > 0 {
            changes.push(Change {
                section: "call history".to_string(),
                key: None,
                kind: ChangeKind::Removed,
                old: None,
                new: None,
                secret: false,
                reason: Some(format!(
                    "{history_pruned} call{} older than {days} days (history.retention_days)",
                    if history_pruned == 1 { "" } else { "s" }
                )),
            });
        }
    }
    // The state goes into the INI when it is new or changed, and only where there is an INI to
    // keep (no file is created for bookkeeping alone) and something to remember (a manifest of
    // settings only manages no account: no section for a salt alone).
    let state_changed = state_before.1 != StateSource::Ini || state != state_before.0;
    let worth_keeping = state_before.1 == StateSource::Ini
        || !state.accounts.is_empty()
        || !state.contacts.is_empty();
    let store_state = state_changed && worth_keeping && (had_file || ini_edited);
    if store_state {
        state.store(&mut after).map_err(|source| {
            merge_error(MergeError::Edit {
                section: crate::profile::state::STATE_SECTION.to_string(),
                key: crate::profile::state::STATE_KEY.to_string(),
                source,
            })
        })?;
    }
    // An unedited document prints its original bytes (the engine's lossless round trip,
    // property-tested), so the no-change path serialises nothing; and no file is created for
    // nothing.
    let rewritten = ini_edited || store_state;
    let after_bytes = if !rewritten {
        before_bytes.clone().unwrap_or_default()
    } else if warnings.is_empty() {
        // Written anyway: stamp the proof that lets the next run skip the full check.
        fingerprint::stamp(&mut after, desired).unwrap_or_else(|| after.to_bytes())
    } else {
        after.remove_key(
            crate::profile::state::STATE_SECTION,
            fingerprint::FINGERPRINT_KEY,
        );
        after.to_bytes()
    };
    Ok(ProfilePlan {
        profile: profile.clone(),
        before_bytes,
        ansi,
        after,
        after_bytes,
        rewritten,
        ini_edited,
        changes,
        warnings,
        state,
        state_before,
        contacts,
        history_pruned,
    })
}

/// A company-directory change as a plan change (section `Contacts.xml`, key = the number).
fn contact_change(change: &ContactChange) -> Change {
    let (number, kind, old, new, reason) = match change {
        ContactChange::Added { number, name } => {
            (number, ChangeKind::Added, None, Some(name.clone()), None)
        }
        ContactChange::Updated {
            number,
            name,
            fields,
        } => (
            number,
            ChangeKind::Updated,
            None,
            Some(name.clone()),
            Some(
                fields
                    .iter()
                    .map(|f| format!("{}: {:?} -> {:?}", f.attribute, f.old, f.new))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ),
        ContactChange::Removed { number, name } => (
            number,
            ChangeKind::Removed,
            Some(name.clone()),
            None,
            Some("dropped from the company directory".to_string()),
        ),
    };
    Change {
        section: "Contacts.xml".to_string(),
        key: Some(number.clone()),
        kind,
        old,
        new,
        secret: false,
        reason,
    }
}

/// Run the retention rule on the profile's call history (the caller holds the INI's lock).
fn prune_history(
    profile: &Profile,
    days: u32,
    ansi: CodePage,
    dry_run: bool,
) -> Result<history::ops::PruneReport, ProfileError> {
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Ok(history::ops::prune(
        profile,
        &history::ops::PruneOptions {
            rule: history::ops::PruneRule::OlderThanDays(days),
            now,
            store: history::ops::StoreChoice::Auto,
            dry_run,
            ansi,
            take_lock: false,
            guard: history::ops::RunningGuard::ignore(),
        },
    )?)
}

/// What to do when MicroSIP is running for the profile's user: its exit rewrites `[Settings]`
/// and would undo the changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfRunning {
    /// Skip the profile, reported as skipped (the default).
    #[default]
    Skip,
    /// Wait for MicroSIP to exit (at most [`ApplyOptions::running_wait`]), then apply.
    Wait,
    /// Ask MicroSIP to exit (`microsip.exe /exit`), wait, apply, and start it again with
    /// `/minimized`.
    Stop,
    /// Write anyway (accounts survive; MicroSIP may rewrite `[Settings]` on exit).
    Ignore,
}

/// How long `--if-running wait` waits by default.
pub const RUNNING_WAIT: Duration = Duration::from_secs(120);
/// How long `--if-running stop` waits for MicroSIP to exit after `/exit`.
pub const STOP_WAIT: Duration = Duration::from_secs(15);

/// Options of [`apply_profile`].
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Plan under the lock, write nothing.
    pub dry_run: bool,
    /// Do not keep a backup of the previous INI.
    pub no_backup: bool,
    /// What to do when MicroSIP is running.
    pub if_running: IfRunning,
    /// Code page for ANSI INI files.
    pub ansi: CodePage,
    /// The executable name MicroSIP runs as (`None`: `microsip.exe`; a renamed portable copy
    /// runs under its own name).
    pub microsip_exe: Option<String>,
    /// How long to wait for another microsip-provision holding the profile (`None`: [`LOCK_WAIT`]).
    pub lock_wait: Option<Duration>,
    /// How long `--if-running wait` waits (`None`: [`RUNNING_WAIT`]).
    pub running_wait: Option<Duration>,
    /// Leave out the per-file folder fsync; the caller syncs the file system once at the end
    /// ([`atomic::WriteOptions::defer_folder_sync`]; a fleet run).
    pub defer_folder_sync: bool,
    /// A fleet run's one look at the process table, shared by all its profiles: whether any
    /// MicroSIP runs at all, found out when the first profile that takes the full path needs to
    /// know (a run whose profiles are all confirmed unchanged never looks). When none runs, no
    /// profile looks for its own user's. `None`: every profile looks for its user's.
    pub any_running: Option<std::sync::Arc<std::sync::OnceLock<bool>>>,
}

/// What [`apply_profile`] did.
#[derive(Debug)]
pub enum ApplyOutcome {
    /// The INI was written (or would be, in a dry run).
    Changed(ProfilePlan),
    /// Nothing to do.
    Unchanged(ProfilePlan),
    /// Skipped because MicroSIP is running.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Plan and apply `desired` to one profile, under its lock, checking the real process table.
pub fn apply_profile(
    profile: &Profile,
    desired: &DesiredProfile,
    options: &ApplyOptions,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<ApplyOutcome, ProfileError> {
    let processes = SystemProcesses::new(
        options
            .microsip_exe
            .clone()
            .unwrap_or_else(|| running::MICROSIP_EXE.to_string()),
    );
    if let Some(any_running) = &options.any_running {
        let looked = || processes.find(running::ANY_USER).is_some();
        if options.if_running != IfRunning::Ignore && !*any_running.get_or_init(looked) {
            let options = ApplyOptions {
                if_running: IfRunning::Ignore,
                ..options.clone()
            };
            return apply_profile_with(profile, desired, &options, &processes, on_wait);
        }
    }
    apply_profile_with(profile, desired, options, &processes, on_wait)
}

/// [`apply_profile`] with a given view of the running processes (tests fake one).
pub fn apply_profile_with(
    profile: &Profile,
    desired: &DesiredProfile,
    options: &ApplyOptions,
    processes: &dyn MicrosipProcesses,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<ApplyOutcome, ProfileError> {
    let mut restart = None;
    let mut running_note = None;
    if options.if_running != IfRunning::Ignore {
        if let Some(process) = processes.find(&profile.user) {
            // Nothing MicroSIP would undo: no reason to skip, wait for or stop it (a logon
            // script must not restart the softphone, maybe mid-call, when all is in line).
            let pending = plan_profile(profile, desired, options.ansi)?.has_changes();
            if !pending {
                return apply_locked(profile, desired, options, on_wait);
            }
            let pid = process.pid;
            if options.dry_run {
                running_note = Some(format!(
                    "MicroSIP is running (process {pid}); a real run would {}",
                    match options.if_running {
                        IfRunning::Skip => "skip this profile",
                        IfRunning::Wait => "wait for it to exit",
                        IfRunning::Stop => "stop it, apply, and start it again",
                        IfRunning::Ignore => "write anyway",
                    }
                ));
            } else {
                match options.if_running {
                    IfRunning::Skip => {
                        return Ok(ApplyOutcome::Skipped {
                            reason: format!(
                                "MicroSIP is running (process {pid}) and would undo the changes \
                                 when it exits; run again later, or use --if-running wait|stop"
                            ),
                        })
                    }
                    IfRunning::Wait => {
                        let waited = options.running_wait.unwrap_or(RUNNING_WAIT);
                        if !running::wait_until_gone(processes, &profile.user, waited) {
                            return Err(ProfileError::MicrosipRunning { pid, waited });
                        }
                    }
                    IfRunning::Stop => {
                        processes
                            .request_exit(&process)
                            .map_err(|source| ProfileError::MicrosipStop { pid, source })?;
                        if !running::wait_until_gone(processes, &profile.user, STOP_WAIT) {
                            return Err(ProfileError::MicrosipRunning {
                                pid,
                                waited: STOP_WAIT,
                            });
                        }
                        restart = Some(process);
                    }
                    IfRunning::Ignore => {}
                }
            }
        }
    }
    let mut result = apply_locked(profile, desired, options, on_wait);
    if let Some(note) = running_note {
        if let Ok(ApplyOutcome::Changed(plan) | ApplyOutcome::Unchanged(plan)) = &mut result {
            plan.warnings.push(Warning { message: note });
        }
    }
    // Start MicroSIP again whatever happened: the user must not lose their phone.
    if let Some(process) = restart {
        let note = match processes.start_minimized(&process) {
            Ok(()) => "MicroSIP was stopped for the update and started again minimized".to_string(),
            Err(e) => {
                format!("MicroSIP was stopped for the update but could not be started again: {e}")
            }
        };
        if let Ok(ApplyOutcome::Changed(plan) | ApplyOutcome::Unchanged(plan)) = &mut result {
            plan.warnings.push(Warning { message: note });
        }
    }
    result
}

fn apply_locked(
    profile: &Profile,
    desired: &DesiredProfile,
    options: &ApplyOptions,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<ApplyOutcome, ProfileError> {
    let ini = &profile.ini_path;
    let _lock = lock::lock_for(ini, options.lock_wait.unwrap_or(LOCK_WAIT), on_wait)?;
    // One listing of the folder serves the stale temp files and the backups.
    let listing = atomic::folder_names(&profile.dir).unwrap_or_default();
    // A crash of an earlier run may have left a temp file; we hold the lock, so it is stale.
    let _ = atomic::remove_stale_temps(&profile.dir, &ini_name(profile), &listing);
    let plan = plan_profile(profile, desired, options.ansi)?;
    if options.dry_run {
        return Ok(if plan.has_changes() {
            ApplyOutcome::Changed(plan)
        } else {
            ApplyOutcome::Unchanged(plan)
        });
    }
    let changed = plan.has_changes();
    if plan.ini_changes() {
        let backup_dir = profile.backup_dir().to_path_buf();
        let mut backups = backups_in(&backup_dir, &ini_name(profile), &listing);
        let backup = match (&plan.before_bytes, options.no_backup) {
            (Some(before), false) => backup_listed(profile, &ini_name(profile), before, &backups)?,
            _ => None,
        };
        let new_bytes = &plan.after_bytes;
        let write = WriteOptions {
            if_unchanged_since: plan.before_bytes.as_deref().map(Fingerprint::of),
            defer_folder_sync: options.defer_folder_sync,
            ..WriteOptions::default()
        };
        if let Err(error) = atomic::write_atomic(ini, new_bytes, &write) {
            // The file was not replaced, so the backup holds nothing new: a run that keeps
            // failing (a read-only file, say) must not push the real history out.
            if let Some(backup) = backup {
                let _ = std::fs::remove_file(backup);
            }
            return Err(error.into());
        }
        if let Some(backup) = backup {
            backups.push(backup);
            prune_listed(&backups);
        }
        verify(ini, &plan, &backup_dir)?;
        if let StateSource::Legacy(legacy) = &plan.state_before.1 {
            // The state now lives in the INI; a stale copy must not be read again if the INI's
            // section is ever removed.
            let _ = std::fs::remove_file(legacy);
        }
    }
    if let (Some(directory), true) = (
        &desired.directory,
        plan.contacts.as_ref().is_some_and(|c| c.changed),
    ) {
        // Merged again on the file as it is now (it may have changed since the plan), under the
        // folder's lock we hold; the store keeps a backup, replaces atomically and verifies.
        let store = StoreOptions {
            no_backup: options.no_backup,
            if_running: RunningPolicy::Ignore,
            caller_holds_lock: true,
            ..StoreOptions::default()
        };
        let previous = plan.state_before.0.contacts.clone();
        let path = contacts::store::contacts_path(profile);
        contacts::store::modify(profile, &store, on_wait, |document| {
            merge_managed(document, directory, &previous)
                .map(|_| ())
                .map_err(|source| ProfileError::ContactsEdit {
                    path: path.clone(),
                    source,
                })
        })?;
    }
    if plan.history_pruned > 0 {
        if let Some(days) = desired.history_retention_days {
            prune_history(profile, days, options.ansi, false)?;
        }
    }
    Ok(if changed {
        ApplyOutcome::Changed(plan)
    } else {
        ApplyOutcome::Unchanged(plan)
    })
}

/// Read the file back: its bytes must be exactly the planned ones. (That they mean to Windows
/// what the plan says is the INI engine's guarantee — an edit re-spells only what it touches,
/// and a parse of what it prints reads the same — proven by its property tests rather than by
/// parsing every file a second time here.)
fn verify(path: &Path, plan: &ProfilePlan, backup_dir: &Path) -> Result<(), ProfileError> {
    let failure = |what: String| ProfileError::Verify {
        path: path.to_path_buf(),
        what,
        backup_dir: backup_dir.to_path_buf(),
    };
    let bytes = atomic::read_file(path)?.ok_or_else(|| failure("the file is gone".into()))?;
    if bytes != plan.after_bytes {
        return Err(failure("its bytes differ from the plan".into()));
    }
    Ok(())
}

fn ini_name(profile: &Profile) -> String {
    profile
        .ini_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "microsip.ini".into())
}

/// Keep the current version of a profile file (`name`, e.g. `Contacts.xml`, holding `bytes`) as
/// `<name>.<UTC timestamp>.bak` beside it ([`Profile::backup_dir`]): a hard link to it when the
/// file system has them, else a copy. Call it just before the file is replaced with
/// [`atomic::write_atomic`] and `if_unchanged_since` set to `bytes`' fingerprint: that check,
/// made after the link, is what proves the linked version holds `bytes` (on failure, remove the
/// backup). Returns the new backup (`None` when the newest backup already holds these bytes).
/// Call [`prune_backups_of`] once the new file is in place.
pub fn backup_file(
    profile: &Profile,
    name: &str,
    bytes: &[u8],
) -> Result<Option<PathBuf>, FsError> {
    let backups = list_backups(profile.backup_dir(), name)?;
    backup_listed(profile, name, bytes, &backups)
}

/// [`backup_file`] with the backups already listed (oldest first).
fn backup_listed(
    profile: &Profile,
    name: &str,
    bytes: &[u8],
    backups: &[PathBuf],
) -> Result<Option<PathBuf>, FsError> {
    let dir = profile.backup_dir();
    let live = dir.join(name);
    // A run that failed after its backup (a read-only file, say) must not fill the folder with
    // copies of the same bytes and push the real history out. The newest backup may even be
    // the live file itself (a hard link whose replace then failed): same file, same bytes.
    if let Some(newest) = backups.last() {
        if same_file(newest, &live) || std::fs::read(newest).is_ok_and(|old| old == bytes) {
            return Ok(None);
        }
    }
    let stamp = utc_stamp(SystemTime::now());
    let name_for = |n: u32| {
        // Zero-padded so that names sort in the order they were made.
        if n == 0 {
            dir.join(format!("{name}.{stamp}.bak"))
        } else {
            dir.join(format!("{name}.{stamp}-{n:04}.bak"))
        }
    };
    // The live file is about to be replaced by a new one (a rename), so its current version
    // can simply keep a second name: a hard link copies no data, creates no file and needs no
    // flush of its own (the content is already on disk). `hard_link` never follows a link
    // planted at the new name: an existing name is an error, and the next number is tried.
    let mut n = 0;
    loop {
        let path = name_for(n);
        if !backups.contains(&path) {
            match std::fs::hard_link(&live, &path) {
                Ok(()) => return Ok(Some(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                // A file system without hard links (FAT, some shares): a copy.
                Err(_) => break,
            }
        }
        n += 1;
    }
    let mut path = name_for(n);
    while std::fs::symlink_metadata(&path).is_ok() {
        n += 1;
        path = name_for(n);
    }
    atomic::write_atomic(&path, bytes, &WriteOptions::default())?;
    Ok(Some(path))
}

/// Whether two paths name the same file (Unix: device and inode; elsewhere: never assumed).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

/// Keep the newest [`BACKUPS_KEPT`] backups of the profile file `name`.
pub fn prune_backups_of(profile: &Profile, name: &str) -> Result<(), FsError> {
    prune_listed(&list_backups(profile.backup_dir(), name)?);
    Ok(())
}

/// Remove all but the newest [`BACKUPS_KEPT`] of `backups` (oldest first).
fn prune_listed(backups: &[PathBuf]) {
    let excess = backups.len().saturating_sub(BACKUPS_KEPT);
    for old in &backups[..excess] {
        let _ = std::fs::remove_file(old);
    }
}

/// The backups of `name` in `dir`, oldest first (their names sort by time). Only names exactly
/// as [`backup_file`] makes them count (`<name>.YYYYMMDDTHHMMSSZ[-NNNN].bak`): a user's own
/// `microsip.ini.old.bak` beside them is never pruned.
fn list_backups(dir: &Path, name: &str) -> Result<Vec<PathBuf>, FsError> {
    let names = atomic::folder_names(dir).map_err(|e| FsError::io(dir, "list", e))?;
    Ok(backups_in(dir, name, &names))
}

/// [`list_backups`] from a listing of `dir`.
fn backups_in(dir: &Path, name: &str, listing: &[String]) -> Vec<PathBuf> {
    let mut names: Vec<&String> = listing.iter().filter(|n| is_backup_name(n, name)).collect();
    // `…Z.bak` must sort before `…Z-0001.bak` of the same second: compare without the suffix.
    names.sort_by_key(|n| n.trim_end_matches(".bak"));
    names.into_iter().map(|n| dir.join(n)).collect()
}

/// `<name>.YYYYMMDDTHHMMSSZ.bak` or `<name>.YYYYMMDDTHHMMSSZ-NNNN.bak`.
fn is_backup_name(candidate: &str, name: &str) -> bool {
    let Some(stamp) = candidate
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".bak"))
    else {
        return false;
    };
    let (stamp, counter) = stamp.split_at(stamp.len().min(16));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    stamp.len() == 16
        && digits(&stamp[..8])
        && &stamp[8..9] == "T"
        && digits(&stamp[9..15])
        && &stamp[15..] == "Z"
        && (counter.is_empty()
            || counter.len() == 5 && counter.starts_with('-') && digits(&counter[1..]))
}

/// `YYYYMMDDTHHMMSSZ` for a time: sorts as text, valid in every file system.
fn utc_stamp(time: SystemTime) -> String {
    let (year, month, day, hour, minute, second) = crate::report::utc_parts(time);
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::UNIX_EPOCH;

    #[test]
    fn only_our_backup_names_count() {
        for good in [
            "microsip.ini.20261127T192648Z.bak",
            "microsip.ini.20261127T192648Z-0001.bak",
        ] {
            assert!(is_backup_name(good, "microsip.ini"), "{good}");
        }
        for bad in [
            "microsip.ini.old.bak",
            "microsip.ini.20261127T192648Z",
            "microsip.ini.20261127T192648Z-1.bak",
            "microsip.ini.20261127X192648Z.bak",
            "Contacts.xml.20261127T192648Z.bak",
            "microsip.ini.20261127T192648Z-0001-0002.bak",
        ] {
            assert!(!is_backup_name(bad, "microsip.ini"), "{bad}");
        }
    }

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(
            utc_stamp(UNIX_EPOCH + Duration::from_secs(1_789_000_000)),
            "20260910T002640Z"
        );
    }
}
