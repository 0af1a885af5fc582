//! History operations on a profile folder: which store it uses, export, import, prune and the
//! `[Calls]` -> `call_log.db` migration, each safe against MicroSIP and against a second copy
//! of this tool.
//!
//! A profile's store is `call_log.db` when that file exists (3.22, `microsip-formats.md` §3.1),
//! otherwise `[Calls]` in its INI (≤3.21, §3.2). INI changes are made under the INI's sidecar
//! lock ([`crate::apply::lock::lock_for`]), written atomically and only if nobody changed the
//! file since it was read ([`crate::apply::atomic::write_atomic`] with `if_unchanged_since`);
//! database changes are single SQLite transactions ([`super::db`]). [`migrate`] does what
//! 3.22 does once at start-up (A:Service/CallsService.cpp `IniCopyCalls`, §3.1): read every
//! live `[Calls]` entry, give it the call id MD5 of `"<key>-<time>"`, insert the entries sorted
//! by time into `call_log`, and only after that commit succeeded delete `[Calls]` and
//! `[Settings] callsLastKey` from the INI.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::apply::atomic::{self, Fingerprint, WriteOptions};
use crate::apply::lock::{self, FileLock};
use crate::apply::running::{MicrosipProcesses, SystemProcesses, MICROSIP_EXE};
use crate::ini::{CodePage, EditError, IniDocument};
use crate::profile::Profile;

use super::db::{CallLog, OpenMode, DB_FILE, MICROSIP_ROW_LIMIT};
use super::ini_calls::{self, RingImportError};
use super::record::CallRecord;
use super::xml::CallsXml;
use super::{csv_file, json, xml, ErrorKind, HistoryError, HistoryWarning};

/// How long an INI change waits for another microsip-provision holding the same INI.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Seconds per day, for retention in days.
const DAY: i64 = 86_400;

/// Where a profile keeps its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// `[Calls]` in the INI (≤3.21, §3.2).
    Ini,
    /// `call_log.db` (3.22, §3.1).
    Db,
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreKind::Ini => "[Calls]",
            StoreKind::Db => "call_log.db",
        })
    }
}

/// Which store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreChoice {
    /// The profile's own: `call_log.db` when it exists, else `[Calls]` (for prune: every
    /// store that exists).
    #[default]
    Auto,
    /// `[Calls]` in the INI.
    Ini,
    /// `call_log.db`.
    Db,
}

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MicroSIP's XML export shape plus `callId` ([`super::xml`]).
    Xml,
    /// MicroSIP 3.22's CSV export columns ([`super::csv_file`]).
    Csv,
    /// Our JSON ([`super::json`]).
    Json,
}

/// What to do when MicroSIP is running while a store would be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnRunning {
    /// Refuse with [`ErrorKind::Running`] (the default).
    #[default]
    Fail,
    /// Do nothing and say so in the report.
    Skip,
    /// Write anyway.
    Ignore,
}

/// The running-MicroSIP check made before a store is written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunningGuard {
    /// Fail (default), skip, or write anyway.
    pub on_running: OnRunning,
    /// The executable name to look for (`None`: `microsip.exe`).
    pub microsip_exe: Option<String>,
}

impl RunningGuard {
    /// No check (for callers that made it themselves, like `apply`).
    pub fn ignore() -> RunningGuard {
        RunningGuard {
            on_running: OnRunning::Ignore,
            microsip_exe: None,
        }
    }

    /// Whether MicroSIP runs for `user`: `Ok(None)`: go ahead; `Ok(Some(reason))`: skip;
    /// `Err`: refuse.
    pub fn check(&self, user: &str) -> Result<Option<String>, HistoryError> {
        if self.on_running == OnRunning::Ignore {
            return Ok(None);
        }
        let exe = self.microsip_exe.as_deref().unwrap_or(MICROSIP_EXE);
        let Some(process) = SystemProcesses::new(exe).find(user) else {
            return Ok(None);
        };
        let pid = process.pid;
        if self.on_running == OnRunning::Skip {
            return Ok(Some(format!("MicroSIP is running (process {pid})")));
        }
        Err(HistoryError::new(
            ErrorKind::Running,
            None,
            format!(
                "MicroSIP is running (process {pid}): 3.21 rewrites [Calls] on every call and \
                 3.22 reads call_log.db only at start-up, so the change could be lost or undone \
                 (§3.1, §3.2, §5)"
            ),
        )
        .hint("close MicroSIP first (microsip.exe /exit), or pass --if-running ignore"))
    }
}

/// `call_log.db` of a profile.
pub fn db_path(profile: &Profile) -> PathBuf {
    profile.dir.join(DB_FILE)
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// The history read from one store.
#[derive(Debug, Clone)]
pub struct StoreRead {
    /// Which store.
    pub store: StoreKind,
    /// Its file.
    pub path: PathBuf,
    /// The calls: `call_log` in `id` order, `[Calls]` in ring order.
    pub records: Vec<CallRecord>,
    /// What MicroSIP reads differently, with positions.
    pub warnings: Vec<HistoryWarning>,
}

/// The INI's bytes and document, `None` when the file does not exist.
fn load_ini(path: &Path, ansi: CodePage) -> Result<Option<(Vec<u8>, IniDocument)>, HistoryError> {
    let Some(bytes) = atomic::read_file(path)? else {
        return Ok(None);
    };
    let doc = IniDocument::parse(&bytes, ansi).map_err(|e| {
        HistoryError::new(
            ErrorKind::InvalidInput,
            Some(path),
            format!("cannot decode: {}", e.what),
        )
        .at(e.line, e.column)
    })?;
    Ok(Some((bytes, doc)))
}

/// Write `doc` over the INI if its bytes differ from `before` and nobody changed the file in
/// between. Returns whether it wrote.
fn save_ini(path: &Path, before: Option<&[u8]>, doc: &IniDocument) -> Result<bool, HistoryError> {
    let bytes = doc.to_bytes();
    if before == Some(bytes.as_slice()) {
        return Ok(false);
    }
    let options = WriteOptions {
        if_unchanged_since: before.map(Fingerprint::of),
        ..WriteOptions::default()
    };
    atomic::write_atomic(path, &bytes, &options)?;
    Ok(true)
}

fn lock_ini(path: &Path) -> Result<FileLock, HistoryError> {
    let lock = lock::lock_for(path, LOCK_WAIT, &mut |_| {})?;
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
        // We hold the lock, so a temp file left by an earlier crash is stale.
        let _ = atomic::clean_stale_temps(dir, &name.to_string_lossy());
    }
    Ok(lock)
}

fn edit_error(path: &Path, error: EditError) -> HistoryError {
    HistoryError::new(
        ErrorKind::InvalidInput,
        Some(path),
        format!("cannot write [Calls]: {error}"),
    )
}

fn located(warnings: Vec<HistoryWarning>, path: &Path) -> Vec<HistoryWarning> {
    warnings.into_iter().map(|w| w.in_file(path)).collect()
}

/// Read a profile's history from `choice` (auto: `call_log.db` if it exists, else `[Calls]`).
/// Nothing is written; the database is opened read-only.
pub fn read_profile(
    profile: &Profile,
    choice: StoreChoice,
    ansi: CodePage,
) -> Result<StoreRead, HistoryError> {
    let db = db_path(profile);
    let store = match choice {
        StoreChoice::Auto if exists(&db) => StoreKind::Db,
        StoreChoice::Auto | StoreChoice::Ini => StoreKind::Ini,
        StoreChoice::Db => StoreKind::Db,
    };
    match store {
        StoreKind::Db => {
            let log = CallLog::open(&db, OpenMode::Read)?;
            let (rows, mut warnings) = log.rows()?;
            if choice == StoreChoice::Auto {
                if let Ok(Some((_, doc))) = load_ini(&profile.ini_path, ansi) {
                    let ring = ini_calls::read_ring(&doc);
                    if !ring.entries.is_empty() {
                        warnings.push(HistoryWarning::new(format!(
                            "{} still holds {} [Calls] entr{} that MicroSIP 3.22 will not import \
                             while call_log is not empty (§3.1); export them with --source ini \
                             or move them with `history migrate --merge`",
                            profile.ini_path.display(),
                            ring.entries.len(),
                            if ring.entries.len() == 1 { "y" } else { "ies" }
                        )));
                    }
                }
            }
            Ok(StoreRead {
                store,
                path: db,
                records: rows.into_iter().map(|r| r.record).collect(),
                warnings,
            })
        }
        StoreKind::Ini => {
            let path = profile.ini_path.clone();
            let Some((_, doc)) = load_ini(&path, ansi)? else {
                let message = if choice == StoreChoice::Auto {
                    format!(
                        "no call history here: neither {DB_FILE} nor {} exists",
                        path.file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default()
                    )
                } else {
                    "does not exist".to_string()
                };
                let target = if choice == StoreChoice::Auto {
                    &profile.dir
                } else {
                    &path
                };
                return Err(HistoryError::new(ErrorKind::NoStore, Some(target), message)
                    .hint("check --profile: it names the folder holding microsip.ini"));
            };
            let ring = ini_calls::read_ring(&doc);
            Ok(StoreRead {
                store,
                records: ring.records(),
                warnings: located(ring.warnings, &path),
                path,
            })
        }
    }
}

/// The calls in `format`.
pub fn render(records: &[CallRecord], format: Format) -> Vec<u8> {
    match format {
        Format::Xml => xml::render(records),
        Format::Csv => csv_file::render(records),
        Format::Json => json::render(records),
    }
}

/// Read a history file's bytes in `format`.
pub fn parse_file(
    bytes: &[u8],
    format: Format,
) -> Result<(Vec<CallRecord>, Vec<HistoryWarning>), HistoryError> {
    match format {
        Format::Xml => {
            let doc = CallsXml::parse(bytes)?;
            Ok((doc.records(), doc.warnings().to_vec()))
        }
        Format::Csv => csv_file::parse(bytes),
        Format::Json => json::parse(bytes),
    }
}

/// The format of a file: by extension (`.xml`, `.csv`, `.json`), else by its first character
/// (`<` XML, `{` or `[` JSON, anything else CSV).
pub fn detect_format(path: &Path, bytes: &[u8]) -> Format {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("xml") => return Format::Xml,
        Some("csv") => return Format::Csv,
        Some("json") => return Format::Json,
        _ => {}
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => Format::Xml,
        Some(b'{' | b'[') => Format::Json,
        _ => Format::Csv,
    }
}

/// Options of [`import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Where to import (auto: the profile's store).
    pub store: StoreChoice,
    /// Compute the counts; write nothing.
    pub dry_run: bool,
    /// Code page of an ANSI INI.
    pub ansi: CodePage,
    /// The running-MicroSIP check.
    pub guard: RunningGuard,
}

/// What [`import`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    /// The store written.
    pub store: StoreKind,
    /// Its file.
    pub path: PathBuf,
    /// Calls offered.
    pub read: usize,
    /// Calls added.
    pub inserted: usize,
    /// Calls skipped as already present or repeated (same call id; in `[Calls]` also same
    /// content).
    pub duplicates: usize,
    /// Calls `[Calls]` cannot hold (skipped, each with a warning).
    pub unrepresentable: usize,
    /// Calls in the store afterwards.
    pub total_after: usize,
    /// Notes.
    pub warnings: Vec<HistoryWarning>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Why nothing was done (MicroSIP running with `skip`).
    pub skipped: Option<String>,
}

/// Import `records` into the profile's store, skipping calls it already has.
///
/// Into `call_log.db`: one transaction, rows appended in the given order; the file is created
/// with MicroSIP's schema when the profile has none and the database store was asked for.
/// Into `[Calls]`: see [`ini_calls::import_into`]; the INI is locked, changed atomically, and
/// everything outside `[Calls]` and `callsLastKey` stays byte-identical.
pub fn import(
    profile: &Profile,
    records: &[CallRecord],
    options: &ImportOptions,
) -> Result<ImportReport, HistoryError> {
    let db = db_path(profile);
    let store = match options.store {
        StoreChoice::Auto if exists(&db) => StoreKind::Db,
        StoreChoice::Auto | StoreChoice::Ini => StoreKind::Ini,
        StoreChoice::Db => StoreKind::Db,
    };
    let mut report = ImportReport {
        store,
        path: match store {
            StoreKind::Db => db.clone(),
            StoreKind::Ini => profile.ini_path.clone(),
        },
        read: records.len(),
        inserted: 0,
        duplicates: 0,
        unrepresentable: 0,
        total_after: 0,
        warnings: Vec::new(),
        dry_run: options.dry_run,
        skipped: None,
    };
    if !options.dry_run {
        if let Some(reason) = options.guard.check(&profile.user)? {
            report.skipped = Some(reason);
            return Ok(report);
        }
    }
    match store {
        StoreKind::Db => {
            let outcome = if options.dry_run && !exists(&db) {
                let mut ids = std::collections::HashSet::new();
                let inserted = records.iter().filter(|r| ids.insert(&r.call_id)).count();
                super::db::InsertOutcome {
                    inserted,
                    duplicates: 0,
                    repeated: records.len() - inserted,
                    rows_after: inserted,
                }
            } else {
                let mode = match (options.dry_run, exists(&db)) {
                    (true, _) => OpenMode::Read,
                    (false, true) => OpenMode::Write,
                    (false, false) => OpenMode::Create,
                };
                let mut log = CallLog::open(&db, mode)?;
                log.insert(records, false, options.dry_run)
                    .map_err(|e| e.in_file(&db))?
            };
            report.inserted = outcome.inserted;
            report.duplicates = outcome.duplicates + outcome.repeated;
            report.total_after = outcome.rows_after;
            if outcome.rows_after > MICROSIP_ROW_LIMIT {
                report.warnings.push(
                    HistoryWarning::new(format!(
                        "call_log will hold {} rows; MicroSIP deletes all but the newest \
                     {MICROSIP_ROW_LIMIT} by id at its next start (§3.1)",
                        outcome.rows_after
                    ))
                    .in_file(&db),
                );
            }
        }
        StoreKind::Ini => {
            let path = &profile.ini_path;
            let _lock = if options.dry_run {
                None
            } else {
                Some(lock_ini(path)?)
            };
            let loaded = load_ini(path, options.ansi)?;
            if loaded.is_none() {
                report.warnings.push(
                    HistoryWarning::new(
                        "the INI does not exist: it is created (UTF-16LE with BOM) holding only \
                         [Calls] and callsLastKey; MicroSIP ≤3.21 reads them, 3.22 migrates them \
                         into call_log.db at its first start (§3.1)",
                    )
                    .in_file(path),
                );
            }
            let before = loaded.as_ref().map(|(bytes, _)| bytes.clone());
            let mut doc = loaded.map(|(_, doc)| doc).unwrap_or_default();
            let original = doc.clone();
            let outcome = match ini_calls::import_into(&mut doc, records) {
                Err(RingImportError::Edit(EditError::Unrepresentable(_))) => {
                    // An ANSI INI that cannot hold a name: convert, as MicroSIP does at its
                    // next start when a value needs it (`apply` does the same, §1.2).
                    doc = original;
                    doc.convert_to_utf16le();
                    report.warnings.push(HistoryWarning::new(
                        "the INI is ANSI and a call does not fit its code page: it is converted \
                         to UTF-16LE with BOM",
                    ).in_file(path));
                    ini_calls::import_into(&mut doc, records)
                }
                other => other,
            };
            let outcome = outcome.map_err(|e| match e {
                RingImportError::Full { needed, free } => HistoryError::new(
                    ErrorKind::Full,
                    Some(path),
                    format!(
                        "[Calls] holds at most 1000 entries (§3.2): {needed} new call(s) do not \
                         fit in its {free} free key(s); nothing was written"
                    ),
                )
                .hint("prune first, import fewer calls, or migrate the profile to call_log.db"),
                RingImportError::Edit(e) => edit_error(path, e),
            })?;
            report.inserted = outcome.inserted;
            report.duplicates = outcome.duplicates;
            report.unrepresentable = outcome.unrepresentable;
            report.warnings.extend(located(outcome.warnings, path));
            report.total_after = ini_calls::read_ring(&doc).entries.len();
            if !options.dry_run {
                save_ini(path, before.as_deref(), &doc)?;
            }
        }
    }
    Ok(report)
}

/// Which calls [`prune`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneRule {
    /// Calls that started more than this many days before `now` (`time < now - days*86400`).
    OlderThanDays(u32),
    /// All but the newest N (by time; among equal times the later row or ring position wins).
    Keep(usize),
}

/// Options of [`prune`].
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Which calls go.
    pub rule: PruneRule,
    /// The current time, Unix seconds.
    pub now: i64,
    /// Which store (auto: every store the profile has).
    pub store: StoreChoice,
    /// Compute; write nothing.
    pub dry_run: bool,
    /// Code page of an ANSI INI.
    pub ansi: CodePage,
    /// Take the INI's lock (false when the caller already holds it: the lock is not
    /// re-entrant).
    pub take_lock: bool,
    /// The running-MicroSIP check.
    pub guard: RunningGuard,
}

/// What [`prune`] did in one store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StorePrune {
    /// The store.
    pub store: StoreKind,
    /// Its file.
    pub path: PathBuf,
    /// Calls before.
    pub before: usize,
    /// The calls removed (or, in a dry run, to be removed), oldest first.
    pub removed: Vec<CallRecord>,
}

/// What [`prune`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PruneReport {
    /// Per store.
    pub stores: Vec<StorePrune>,
    /// Notes.
    pub warnings: Vec<HistoryWarning>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Why nothing was done (MicroSIP running with `skip`).
    pub skipped: Option<String>,
}

impl PruneReport {
    /// Calls removed in every store.
    pub fn removed(&self) -> usize {
        self.stores.iter().map(|s| s.removed.len()).sum()
    }
}

/// Indexes of `times` (in store order) that `rule` removes.
fn select(times: &[i64], rule: PruneRule, now: i64) -> Vec<usize> {
    match rule {
        PruneRule::OlderThanDays(days) => {
            let cutoff = now.saturating_sub(i64::from(days).saturating_mul(DAY));
            (0..times.len()).filter(|&i| times[i] < cutoff).collect()
        }
        PruneRule::Keep(n) => {
            let mut order: Vec<usize> = (0..times.len()).collect();
            order.sort_by(|&a, &b| times[b].cmp(&times[a]).then(b.cmp(&a)));
            let mut doomed: Vec<usize> = order.into_iter().skip(n).collect();
            doomed.sort_unstable();
            doomed
        }
    }
}

fn oldest_first(mut calls: Vec<CallRecord>) -> Vec<CallRecord> {
    calls.sort_by_key(|c| c.time);
    calls
}

/// Remove old calls from the profile's stores (auto: `call_log.db` and `[Calls]`, whichever
/// exist; a 3.22 profile may still hold an unmigrated `[Calls]`). Database rows are deleted in
/// one transaction with `secure_delete`; `[Calls]` entries become `null`, as MicroSIP deletes
/// them (§3.2), under the INI's lock.
pub fn prune(profile: &Profile, options: &PruneOptions) -> Result<PruneReport, HistoryError> {
    let mut report = PruneReport {
        dry_run: options.dry_run,
        ..PruneReport::default()
    };
    if !options.dry_run {
        if let Some(reason) = options.guard.check(&profile.user)? {
            report.skipped = Some(reason);
            return Ok(report);
        }
    }
    let db = db_path(profile);
    let use_db = match options.store {
        StoreChoice::Auto => exists(&db),
        StoreChoice::Db => true,
        StoreChoice::Ini => false,
    };
    let use_ini = match options.store {
        StoreChoice::Auto => exists(&profile.ini_path),
        StoreChoice::Ini => true,
        StoreChoice::Db => false,
    };
    if use_db {
        let mode = if options.dry_run {
            OpenMode::Read
        } else {
            OpenMode::Write
        };
        let mut log = CallLog::open(&db, mode)?;
        let (rows, warnings) = log.rows()?;
        report.warnings.extend(warnings);
        let times: Vec<i64> = rows.iter().map(|r| r.record.time).collect();
        let doomed = select(&times, options.rule, options.now);
        let ids: Vec<i64> = doomed.iter().map(|&i| rows[i].id).collect();
        if !options.dry_run {
            log.delete(&ids)?;
        }
        report.stores.push(StorePrune {
            store: StoreKind::Db,
            path: db.clone(),
            before: rows.len(),
            removed: oldest_first(doomed.iter().map(|&i| rows[i].record.clone()).collect()),
        });
    }
    if use_ini {
        let path = &profile.ini_path;
        let _lock = if options.take_lock && !options.dry_run {
            Some(lock_ini(path)?)
        } else {
            None
        };
        match load_ini(path, options.ansi)? {
            None if options.store == StoreChoice::Ini => {
                return Err(HistoryError::new(
                    ErrorKind::NoStore,
                    Some(path),
                    "does not exist",
                ));
            }
            None => {}
            Some((bytes, mut doc)) => {
                let ring = ini_calls::read_ring(&doc);
                if ring.present() || options.store == StoreChoice::Ini {
                    let times: Vec<i64> = ring.entries.iter().map(|e| e.record.time).collect();
                    let doomed = select(&times, options.rule, options.now);
                    let keys: Vec<u32> = doomed.iter().map(|&i| ring.entries[i].key).collect();
                    ini_calls::delete_keys(&mut doc, &keys).map_err(|e| edit_error(path, e))?;
                    if !options.dry_run {
                        save_ini(path, Some(&bytes), &doc)?;
                    }
                    report.warnings.extend(located(ring.warnings, path));
                    report.stores.push(StorePrune {
                        store: StoreKind::Ini,
                        path: path.clone(),
                        before: ring.entries.len(),
                        removed: oldest_first(
                            doomed
                                .iter()
                                .map(|&i| ring.entries[i].record.clone())
                                .collect(),
                        ),
                    });
                }
            }
        }
    }
    if !use_db && !use_ini {
        return Err(HistoryError::new(
            ErrorKind::NoStore,
            Some(&profile.dir),
            format!("no call history here: neither {DB_FILE} nor microsip.ini exists"),
        ));
    }
    Ok(report)
}

/// Enforce a retention of `retention_days` on every store of the profile (what `apply` runs
/// for the manifest's `history.retention_days`): calls that started more than that many days
/// before `now` (Unix seconds) are removed. No running-MicroSIP check (the caller makes it).
///
/// This takes the INI's sidecar lock itself, and that lock is not re-entrant: call it after
/// `apply_profile` released its lock, or call [`prune`] with `take_lock: false` while holding
/// it.
pub fn prune_store(
    profile: &Profile,
    retention_days: u32,
    now: i64,
    ansi: CodePage,
) -> Result<PruneReport, HistoryError> {
    prune(
        profile,
        &PruneOptions {
            rule: PruneRule::OlderThanDays(retention_days),
            now,
            store: StoreChoice::Auto,
            dry_run: false,
            ansi,
            take_lock: true,
            guard: RunningGuard::ignore(),
        },
    )
}

/// Options of [`migrate`].
#[derive(Debug, Clone, Default)]
pub struct MigrateOptions {
    /// Compute; write nothing.
    pub dry_run: bool,
    /// Also migrate into a `call_log` that already has rows (entries whose call id is there
    /// are skipped). 3.22 itself migrates only into an empty table (§3.1).
    pub merge: bool,
    /// Code page of an ANSI INI.
    pub ansi: CodePage,
    /// The running-MicroSIP check.
    pub guard: RunningGuard,
}

/// What [`migrate`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrateReport {
    /// The INI.
    pub ini_path: PathBuf,
    /// The database.
    pub db_path: PathBuf,
    /// Live `[Calls]` entries read.
    pub entries: usize,
    /// Rows inserted into `call_log`.
    pub inserted: usize,
    /// Entries skipped because their call id was already in `call_log` (`--merge`).
    pub duplicates: usize,
    /// `null` entries dropped with the section.
    pub deleted_entries: usize,
    /// Whether `call_log.db` did not exist before.
    pub db_created: bool,
    /// Whether `[Calls]` / `callsLastKey` were removed from the INI.
    pub ini_cleaned: bool,
    /// There was no `[Calls]` to migrate.
    pub nothing_to_do: bool,
    /// Notes.
    pub warnings: Vec<HistoryWarning>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Why nothing was done (MicroSIP running with `skip`).
    pub skipped: Option<String>,
}

/// Move `[Calls]` into `call_log.db` the way 3.22 does once at start-up (§3.1): every live
/// entry (`null` skipped), call id = MD5 of `"<key>-<time>"`, inserted sorted by time (equal
/// times keep key order; MicroSIP's `std::sort` leaves them unspecified) in one transaction;
/// then, only after that commit, `[Calls]` and `[Settings] callsLastKey` are deleted from the
/// INI, under its lock and with an atomic write.
///
/// Differences from 3.22.16, each reported as a warning when it matters: entries MicroSIP 3.21
/// shows beyond a gap are migrated too (3.22.16's scan stops at the first missing key and
/// would lose them), entries after the gap where 3.21 stops reading are migrated too (nothing
/// is deleted that was not copied), and values longer than 255 characters are migrated whole.
/// A `call_log` that already has rows is refused unless `merge` is set (3.22 would leave
/// `[Calls]` alone forever in that case).
pub fn migrate(profile: &Profile, options: &MigrateOptions) -> Result<MigrateReport, HistoryError> {
    let db = db_path(profile);
    let ini = &profile.ini_path;
    let mut report = MigrateReport {
        ini_path: ini.clone(),
        db_path: db.clone(),
        entries: 0,
        inserted: 0,
        duplicates: 0,
        deleted_entries: 0,
        db_created: !exists(&db),
        ini_cleaned: false,
        nothing_to_do: false,
        warnings: Vec::new(),
        dry_run: options.dry_run,
        skipped: None,
    };
    if !options.dry_run {
        if let Some(reason) = options.guard.check(&profile.user)? {
            report.skipped = Some(reason);
            return Ok(report);
        }
    }
    let _lock = if options.dry_run {
        None
    } else {
        Some(lock_ini(ini)?)
    };
    let Some((before, mut doc)) = load_ini(ini, options.ansi)? else {
        report.nothing_to_do = true;
        return Ok(report);
    };
    let ring = ini_calls::read_ring(&doc);
    if !ring.present() {
        report.nothing_to_do = true;
        return Ok(report);
    }
    report.entries = ring.entries.len();
    report.deleted_entries = ring.deleted.len();
    report.warnings.extend(located(ring.warnings.clone(), ini));
    if let Some(stop) = ini_calls::migration_stop(&doc, &ring) {
        let lost = ring.entries.iter().filter(|e| e.key > stop).count();
        if lost > 0 {
            report.warnings.push(
                HistoryWarning::new(format!(
                    "MicroSIP 3.22.16's own migration stops at the first missing key ({stop}) and \
                 would lose {lost} call(s) after it; they are migrated here with the same call \
                 ids it would have given them"
                ))
                .in_file(ini),
            );
        }
    }
    let mut entries = ring.entries.clone();
    entries.sort_by_key(|e| (e.record.time, e.key));
    let records: Vec<CallRecord> = entries.into_iter().map(|e| e.record).collect();

    if !records.is_empty() {
        let outcome = if options.dry_run && report.db_created {
            super::db::InsertOutcome {
                inserted: records.len(),
                rows_after: records.len(),
                ..Default::default()
            }
        } else {
            let mode = match (options.dry_run, report.db_created) {
                (true, _) => OpenMode::Read,
                (false, false) => OpenMode::Write,
                (false, true) => OpenMode::Create,
            };
            let mut log = CallLog::open(&db, mode)?;
            log.insert(&records, !options.merge, options.dry_run)
                .map_err(|e| e.in_file(&db))?
        };
        report.inserted = outcome.inserted;
        report.duplicates = outcome.duplicates + outcome.repeated;
    }
    if options.dry_run {
        report.ini_cleaned = true;
        return Ok(report);
    }
    // The rows are committed: only now may [Calls] go.
    ini_calls::remove_ring(&mut doc);
    save_ini(ini, Some(&before), &doc).map_err(|e| {
        HistoryError::new(
            ErrorKind::Incomplete,
            Some(ini),
            format!(
                "the {} call(s) are in {DB_FILE}, but [Calls] could not be removed from the INI: {}",
                report.inserted, e
            ),
        )
        .hint("fix the cause and run `history migrate --merge` again: calls already in call_log.db are skipped")
    })?;
    report.ini_cleaned = true;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_rules() {
        let times = [50, 10, 30, 30, 90];
        assert_eq!(select(&times, PruneRule::OlderThanDays(0), 30), vec![1]);
        assert_eq!(
            select(&times, PruneRule::OlderThanDays(1), 30 + DAY),
            vec![1]
        );
        assert_eq!(select(&times, PruneRule::Keep(3), 0), vec![1, 2]);
        assert_eq!(select(&times, PruneRule::Keep(0), 0), vec![0, 1, 2, 3, 4]);
        assert_eq!(select(&times, PruneRule::Keep(9), 0), Vec::<usize>::new());
    }

    #[test]
    fn detect_formats() {
        assert_eq!(detect_format(Path::new("a.XML"), b""), Format::Xml);
        assert_eq!(
            detect_format(Path::new("a"), b"\xEF\xBB\xBF <calls/>"),
            Format::Xml
        );
        assert_eq!(detect_format(Path::new("a"), b"[]"), Format::Json);
        assert_eq!(detect_format(Path::new("a.txt"), b"ID,Type"), Format::Csv);
    }
}
