//! Call history: one record model, three stores, three file formats, and the four operations
//! admins need (export, import, prune, migrate) without losing a field.
//!
//! MicroSIP keeps history in one of two places (`microsip-formats.md` §3): up to 3.21 in the
//! INI's `[Calls]` section, a ring buffer of keys `0`..`999` with `[Settings] callsLastKey` as
//! its cursor ([`ini_calls`], read and written through the lossless INI engine so the rest of
//! the INI stays byte-identical); from 3.22 in the SQLite file `call_log.db` ([`db`], with
//! MicroSIP's schema, busy timeout and nothing else). Both convert to and from [`CallRecord`]
//! ([`record`]). XML ([`xml`], MicroSIP's own export shape, read and edited losslessly), CSV
//! ([`csv_file`], 3.22's export columns) and JSON ([`json`]) are file formats for moving
//! history between machines; every one of them carries the call id, so a round trip through
//! any of them gives back identical rows. [`ops`] ties stores and formats to a profile folder:
//! which store a profile uses, locking, atomic INI writes, and the migration from `[Calls]` to
//! `call_log.db` exactly as 3.22 performs it.

pub mod csv_file;
pub mod db;
pub mod ini_calls;
pub mod json;
pub mod ops;
pub mod record;
pub mod xml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use ops::{
    detect_format, import, migrate, parse_file, prune, prune_store, read_profile, render, Format,
    ImportOptions, ImportReport, MigrateOptions, MigrateReport, OnRunning, PruneOptions,
    PruneReport, PruneRule, RunningGuard, StoreChoice, StoreKind, StorePrune, StoreRead,
};
pub use record::{CallRecord, CallType};

/// What kind of failure a [`HistoryError`] is, for callers that react differently (exit codes,
/// retries, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading or writing a file failed (permissions, missing folder, a refused link, ...).
    Io,
    /// `call_log.db` stayed locked by another connection for longer than MicroSIP's 5 s busy
    /// timeout (§3.1). Nothing was changed.
    Locked,
    /// `call_log.db` is not a readable SQLite database. It was left untouched.
    Corrupt,
    /// `call_log.db` is a valid SQLite database but not MicroSIP's (no usable `call_log` table).
    /// It was left untouched.
    NotMicrosipDb,
    /// The store asked for does not exist in the profile.
    NoStore,
    /// Any other SQLite failure.
    Sqlite,
    /// An input file (XML, CSV, JSON) or the INI is malformed; the position says where.
    InvalidInput,
    /// MicroSIP is running and the operation would race with it.
    Running,
    /// The `[Calls]` ring buffer (1000 keys, §3.2) cannot hold the calls to import.
    Full,
    /// The operation is refused in this state (e.g. migrating into a non-empty `call_log`).
    Refused,
    /// The database was committed but the INI could not be cleaned afterwards.
    Incomplete,
}

/// An error with the file it is about, a position when known, and what to do about it.
#[derive(Debug)]
pub struct HistoryError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The file concerned.
    pub path: Option<PathBuf>,
    /// 1-based line and column in that file, when known.
    pub position: Option<(usize, usize)>,
    /// What went wrong (without the path, which [`fmt::Display`] adds).
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl HistoryError {
    /// A new error of `kind` about `path`.
    pub fn new(kind: ErrorKind, path: Option<&Path>, message: impl Into<String>) -> HistoryError {
        HistoryError {
            kind,
            path: path.map(Path::to_path_buf),
            position: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Add a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> HistoryError {
        self.hint = Some(hint.into());
        self
    }

    /// Add a 1-based line and column.
    pub fn at(mut self, line: usize, column: usize) -> HistoryError {
        self.position = Some((line, column));
        self
    }

    /// Set the path if none is set yet.
    pub fn in_file(mut self, path: &Path) -> HistoryError {
        if self.path.is_none() {
            self.path = Some(path.to_path_buf());
        }
        self
    }
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::report::write_location(f, self.path.as_deref(), self.position)?;
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for HistoryError {}

impl From<crate::apply::atomic::FsError> for HistoryError {
    fn from(error: crate::apply::atomic::FsError) -> Self {
        HistoryError::new(ErrorKind::Io, None, error.to_string())
    }
}

/// Something MicroSIP reads differently from what a person would expect, or a choice the tool
/// made that the admin should know about. Never fatal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryWarning {
    /// The file concerned.
    pub path: Option<PathBuf>,
    /// 1-based line in that file, when known.
    pub line: Option<usize>,
    /// What to know.
    pub message: String,
}

impl HistoryWarning {
    /// A warning without a position.
    pub fn new(message: impl Into<String>) -> HistoryWarning {
        HistoryWarning {
            path: None,
            line: None,
            message: message.into(),
        }
    }

    /// A warning at a 1-based line.
    pub fn at_line(line: Option<usize>, message: impl Into<String>) -> HistoryWarning {
        HistoryWarning {
            path: None,
            line,
            message: message.into(),
        }
    }

    /// Set the path if none is set yet.
    pub fn in_file(mut self, path: &Path) -> HistoryWarning {
        if self.path.is_none() {
            self.path = Some(path.to_path_buf());
        }
        self
    }
}

impl fmt::Display for HistoryWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}:", path.display())?;
            if let Some(line) = self.line {
                write!(f, "{line}:")?;
            }
            write!(f, " ")?;
        }
        f.write_str(&self.message)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut offset = offset;
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}
