//! Reports: what happened to each profile, for people (stderr/stdout) and machines (JSON).
//!
//! A [`ProfileReport`] is built from a plan or an apply outcome and never holds a secret: changes
//! to secret keys carry no values (see [`crate::plan::Change`]). [`EventLog`] appends one JSON
//! object per line to `--log-file`, which is what a Group Policy logon script, with no console,
//! leaves behind for the admin.

pub mod summarize;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::plan::Change;

/// The outcome of one profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Files were written.
    Changed,
    /// Nothing to do.
    Unchanged,
    /// Changes are pending (plan, or apply --dry-run).
    Pending,
    /// Skipped on purpose (e.g. MicroSIP running with --if-running skip).
    Skipped,
    /// Failed; see the error.
    Failed,
}

impl Outcome {
    /// The word used in human output.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Pending => "pending",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
}

/// Everything known about one profile's run, without secrets.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileReport {
    /// The profile's user.
    pub user: String,
    /// The profile folder.
    pub profile: PathBuf,
    /// What happened.
    pub outcome: Outcome,
    /// The INI changes (secrets without values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Notes for the admin.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The unified diff of the INI, secrets redacted (plans and dry runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Wall time spent on the profile, in milliseconds.
    pub duration_ms: f64,
    /// The failure is the manifest's (a template or value invalid for this user): exit code 2.
    #[serde(skip)]
    pub invalid_manifest: bool,
}

impl ProfileReport {
    /// A report with no changes yet.
    pub fn new(
        user: impl Into<String>,
        profile: impl Into<PathBuf>,
        outcome: Outcome,
        duration: Duration,
    ) -> ProfileReport {
        ProfileReport {
            user: user.into(),
            profile: profile.into(),
            outcome,
            changes: Vec::new(),
            warnings: Vec::new(),
            error: None,
            diff: None,
            invalid_manifest: false,
            duration_ms: duration.as_secs_f64() * 1000.0,
        }
    }

    /// One human line: `alice: changed, 3 changes (/path)`.
    pub fn summary_line(&self) -> String {
        let mut line = format!("{}: {}", self.user, self.outcome.as_str());
        if !self.changes.is_empty() {
            let n = self.changes.len();
            line.push_str(&format!(", {n} change{}", if n == 1 { "" } else { "s" }));
        }
        line.push_str(&format!(" ({})", self.profile.display()));
        if let Some(error) = &self.error {
            line.push_str(&format!(": {error}"));
        }
        line
    }
}

/// Appends JSON lines to a log file (`--log-file`); a no-op without one.
#[derive(Debug, Default)]
pub struct EventLog {
    file: Option<(File, PathBuf)>,
}

/// A log file that cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the log file {}: {source}; check that its folder exists and is writable", .path.display())]
pub struct LogError {
    /// The log file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl EventLog {
    /// Open `path` for appending (created if missing), or a silent log for `None`.
    pub fn open(path: Option<&Path>) -> Result<EventLog, LogError> {
        let Some(path) = path else {
            return Ok(EventLog::default());
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| LogError {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(EventLog {
            file: Some((file, path.to_path_buf())),
        })
    }

    /// Append one event: `{"time": "...", "event": event, ...fields of payload}`.
    pub fn write(&mut self, event: &str, payload: &impl Serialize) {
        let Some((file, _)) = &mut self.file else {
            return;
        };
        let mut object = match serde_json::to_value(payload) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(other) => {
                let mut map = serde_json::Map::new();
                map.insert("data".into(), other);
                map
            }
            Err(_) => serde_json::Map::new(),
        };
        object.insert("time".into(), rfc3339_now().into());
        object.insert("event".into(), event.into());
        let mut line = serde_json::to_vec(&object).expect("JSON values serialise");
        line.push(b'\n');
        // A log that cannot be written must not fail the provisioning itself.
        let _ = file.write_all(&line);
    }
}

/// The `--report` file: one JSON object per profile (JSON Lines), shared by the workers of a
/// fleet run.
#[derive(Debug)]
pub struct ReportFile {
    path: PathBuf,
    file: std::sync::Mutex<std::io::BufWriter<File>>,
}

/// A report file that cannot be created or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the report file {}: {source}; check that its folder exists and is writable", .path.display())]
pub struct ReportFileError {
    /// The report file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// Bytes a report file gathers before it writes (a line is about 130 bytes).
const REPORT_BUFFER: usize = 256 * 1024;

impl ReportFile {
    /// Create `path` anew. An earlier report (a regular file) is removed first rather than
    /// truncated: ext4 flushes a file truncated to zero when it is closed (`auto_da_alloc`),
    /// which made every re-run of a batch wait on the disk for the last run's report. When it
    /// cannot be removed (a sticky folder, a file open elsewhere on Windows) it is truncated as
    /// before; a link or anything else at `path` is written through.
    pub fn create(path: &Path) -> Result<ReportFile, ReportFileError> {
        let error = |source| ReportFileError {
            path: path.to_path_buf(),
            source,
        };
        if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_file()) {
            let _ = std::fs::remove_file(path);
        }
        let file = File::create(path).map_err(error)?;
        Ok(ReportFile {
            path: path.to_path_buf(),
            file: std::sync::Mutex::new(std::io::BufWriter::with_capacity(REPORT_BUFFER, file)),
        })
    }

    /// Append one report as a line. The line is serialised before the lock is taken, so
    /// workers wait for each other only to copy bytes.
    pub fn write(&self, report: &ProfileReport) -> Result<(), ReportFileError> {
        let mut line = serde_json::to_vec(report).expect("reports serialise");
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&line).map_err(|source| ReportFileError {
            path: self.path.clone(),
            source,
        })
    }

    /// Write out what is buffered.
    pub fn finish(self) -> Result<(), ReportFileError> {
        let file = self.file.into_inner().unwrap_or_else(|e| e.into_inner());
        file.into_inner()
            .map_err(|e| e.into_error())
            .map(drop)
            .map_err(|source| ReportFileError {
                path: self.path,
                source,
            })
    }
}

/// Write the `path:line:column: ` prefix every error message of this tool starts with (nothing
/// without a path; no line and column without a position).
pub fn write_location(
    f: &mut std::fmt::Formatter<'_>,
    path: Option<&Path>,
    position: Option<(usize, usize)>,
) -> std::fmt::Result {
    if let Some(path) = path {
        write!(f, "{}:", path.display())?;
        if let Some((line, column)) = position {
            write!(f, "{line}:{column}:")?;
        }
        write!(f, " ")?;
    }
    Ok(())
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339_now() -> String {
    let (year, month, day, hour, minute, second) = utc_parts(SystemTime::now());
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// Year, month, day, hour, minute, second (UTC) of a time, by the civil-from-days algorithm, so
/// no date crate is needed for a timestamp.
pub fn utc_parts(time: SystemTime) -> (i64, i64, i64, i64, i64, i64) {
    utc_parts_of(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64)
}

/// [`utc_parts`] of Unix seconds, for any `i64` (proleptic Gregorian calendar).
pub fn utc_parts_of(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}
