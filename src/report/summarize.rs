//! The fleet view: many JSON Lines reports folded into one status per user.
//!
//! A fleet leaves its reports in many places: one `--report` file per fleet run, one
//! `--log-file` per machine, one line per logon copied to a share by a logon script. Each line
//! is a [`ProfileReport`](super::ProfileReport) serialised as JSON, with `time` and `event` when
//! it came from a log. [`Summarizer`] reads them all and keeps, for every user, the latest line:
//! latest by its `time` field, or, for a line without one, by its file's modification time; on
//! equal times the later file, then the later line, wins. The user is then *in sync* (the last
//! run changed or left the profile as the manifest wants), *drifted* (the last run was a plan
//! with changes pending), *failing* (with the error) or *skipped* (e.g. MicroSIP was running).
//!
//! Nothing here reads the file system: the caller hands over each file's bytes and modification
//! time, so the fold is a pure function of its input. A line that is not a report is never
//! fatal: it is counted and listed with its file and line number. `error` events without a user
//! (a run that failed before it knew the profile, such as an unreadable manifest) are listed
//! apart, since they belong to no user.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};

use super::{utc_parts, Outcome};

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parse an RFC 3339 time as the event log writes it (`2026-05-04T07:58:12Z`), also with
    /// fractional seconds, a numeric offset (`+02:00`) or a space instead of the `T`.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let b = text.trim().as_bytes();
        let digits = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = b.get(range)?;
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(part).ok()?.parse().ok()
        };
        if b.len() < 19
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        if !(1..=12).contains(&month)
            || !(1..=days_in_month(year, month)).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut rest = &b[19..];
        let mut millis = 0i64;
        if let Some(fraction) = rest.strip_prefix(b".") {
            let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            for (i, c) in fraction[..n.min(3)].iter().enumerate() {
                millis += i64::from(c - b'0') * [100, 10, 1][i];
            }
            rest = &fraction[n..];
        }
        let offset_minutes = match rest {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let part = [*h1, *h2, *m1, *m2];
                if !part.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let hours = i64::from(h1 - b'0') * 10 + i64::from(h2 - b'0');
                let minutes = i64::from(m1 - b'0') * 10 + i64::from(m2 - b'0');
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let total = hours * 60 + minutes;
                if *sign == b'+' {
                    total
                } else {
                    -total
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
        Some(Timestamp(seconds * 1_000 + millis))
    }

    /// The time of a `SystemTime` (a file's modification time).
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp(i64::try_from(after.as_millis()).unwrap_or(i64::MAX)),
            Err(before) => Timestamp(-i64::try_from(before.duration().as_millis()).unwrap_or(0)),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds), the event log's own format.
    pub fn to_rfc3339(self) -> String {
        let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(self.0).unwrap_or(0));
        let (year, month, day, hour, minute, second) = utc_parts(time);
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (the inverse of `utc_parts`' algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where a report line is: its file and 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The report file, as the caller named it.
    pub file: PathBuf,
    /// The 1-based line number.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Where a line's time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeSource {
    /// The line's own `time` field (event logs).
    Record,
    /// The file's modification time (`--report` files have no `time` field).
    FileModified,
    /// Neither: the file's modification time was not known.
    Unknown,
}

/// Where a user stands, from their latest report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The latest run failed.
    Failing,
    /// The latest run was a plan (or a dry run) with changes pending.
    Drifted,
    /// The latest run skipped the profile (MicroSIP running, user not in the manifest).
    Skipped,
    /// The latest run applied the manifest or found nothing to change.
    InSync,
}

impl State {
    /// The state of a user whose latest report has this outcome.
    pub fn of(outcome: Outcome) -> State {
        match outcome {
            Outcome::Changed | Outcome::Unchanged => State::InSync,
            Outcome::Pending => State::Drifted,
            Outcome::Skipped => State::Skipped,
            Outcome::Failed => State::Failing,
        }
    }

    /// The words used in human output.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Failing => "failing",
            State::Drifted => "drifted",
            State::Skipped => "skipped",
            State::InSync => "in sync",
        }
    }
}

/// How many reports had each outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    /// `changed`.
    pub changed: usize,
    /// `unchanged`.
    pub unchanged: usize,
    /// `pending`.
    pub pending: usize,
    /// `skipped`.
    pub skipped: usize,
    /// `failed`.
    pub failed: usize,
}

impl OutcomeCounts {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Changed => self.changed += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Pending => self.pending += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
        }
    }
}

/// One user in the fleet view: their latest report and their history in the input.
#[derive(Debug, Clone, Serialize)]
pub struct UserStatus {
    /// The user, spelled as in their latest report (users are matched case-insensitively).
    pub user: String,
    /// Where the user stands.
    pub state: State,
    /// The latest report's outcome.
    pub outcome: Outcome,
    /// The latest report's error (failing and skipped users).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The latest report's profile folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// How many INI changes the latest report lists (applied, or pending for a plan).
    pub changes: usize,
    /// When the latest report was written, if known.
    pub last_seen: Option<Timestamp>,
    /// Where `last_seen` came from.
    pub last_seen_from: TimeSource,
    /// The latest report with outcome `changed` or `unchanged`, if any.
    pub last_in_sync: Option<Timestamp>,
    /// Where the latest report is.
    pub source: Location,
    /// How many reports the input holds for this user.
    pub runs: usize,
    /// Their outcomes.
    pub outcomes: OutcomeCounts,
}

/// How many users are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    /// All users.
    pub users: usize,
    /// In sync.
    pub in_sync: usize,
    /// Drifted.
    pub drifted: usize,
    /// Failing.
    pub failing: usize,
    /// Skipped.
    pub skipped: usize,
}

/// An `error` event without a user: the run failed before it knew whose profile it was.
#[derive(Debug, Clone, Serialize)]
pub struct OrphanError {
    /// Where the event is.
    pub source: Location,
    /// When, if known.
    pub time: Option<Timestamp>,
    /// The error.
    pub error: String,
}

/// A line that is neither a profile report nor a log event.
#[derive(Debug, Clone, Serialize)]
pub struct Malformed {
    /// Where the line is.
    pub source: Location,
    /// What is wrong with it.
    pub reason: String,
}

/// A file that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    /// The file or folder.
    pub file: PathBuf,
    /// Why.
    pub error: String,
}

/// The fleet view: every user's latest state, and everything in the input that was not a report.
#[derive(Debug, Clone, Serialize)]
pub struct FleetView {
    /// Report files read.
    pub files: usize,
    /// Profile reports found (lines with a user and an outcome).
    pub reports: usize,
    /// Users per state.
    pub counts: StateCounts,
    /// One entry per user: failing first, then drifted, skipped and in sync; by name within.
    pub users: Vec<UserStatus>,
    /// `error` events that name no user.
    pub errors: Vec<OrphanError>,
    /// How many lines were malformed (all of them are listed in `malformed`).
    pub malformed_lines: usize,
    /// The malformed lines.
    pub malformed: Vec<Malformed>,
    /// Log events that are neither reports nor errors (ignored, counted).
    pub ignored_lines: usize,
    /// Files that could not be read.
    pub unreadable: Vec<Unreadable>,
}

/// One profile report, as far as the fleet view needs it.
#[derive(Debug, Clone)]
struct Record {
    user: String,
    outcome: Outcome,
    error: Option<String>,
    profile: Option<String>,
    changes: usize,
    time: Option<Timestamp>,
    time_source: TimeSource,
    source: Location,
    /// Sort key among a user's reports: time, then file order, then line.
    order: (Option<Timestamp>, usize, usize),
}

#[derive(Debug)]
struct UserAccumulator {
    latest: Record,
    runs: usize,
    outcomes: OutcomeCounts,
    last_in_sync: Option<Timestamp>,
}

/// What one line turned out to be.
enum Line {
    Report {
        user: String,
        outcome: Outcome,
        error: Option<String>,
        profile: Option<String>,
        changes: usize,
        time: Option<Timestamp>,
    },
    OrphanError {
        error: String,
        time: Option<Timestamp>,
    },
    OtherEvent,
}

/// Folds report files into a [`FleetView`]: [`add_file`](Summarizer::add_file) each file's
/// bytes in a stable order (e.g. sorted by path), then [`finish`](Summarizer::finish).
#[derive(Debug, Default)]
pub struct Summarizer {
    files: usize,
    reports: usize,
    users: BTreeMap<String, UserAccumulator>,
    errors: Vec<OrphanError>,
    malformed: Vec<Malformed>,
    ignored: usize,
    unreadable: Vec<Unreadable>,
}

impl Summarizer {
    /// An empty fold.
    pub fn new() -> Summarizer {
        Summarizer::default()
    }

    /// Add one report file: JSON Lines (UTF-8, an optional BOM; UTF-16 with a BOM is accepted
    /// too, as PowerShell 5's `Out-File` writes it), or one JSON document holding a report or
    /// an array of reports (`--format json` output saved to a file). `modified` is the file's
    /// modification time, the time of its lines that carry no `time` field.
    pub fn add_file(&mut self, path: &Path, modified: Option<Timestamp>, bytes: &[u8]) {
        let file_index = self.files;
        self.files += 1;
        let text = decode(bytes);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);

        let mut parsed: Vec<(usize, Result<Line, String>)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let result = serde_json::from_str::<Value>(line)
                .map_err(|e| format!("not JSON: {e}"))
                .and_then(|value| classify(&value));
            parsed.push((index + 1, result));
        }
        if parsed.iter().any(|(_, r)| r.is_err()) {
            if let Some(whole) = whole_document(text) {
                parsed = whole;
            }
        }

        for (line, result) in parsed {
            let source = Location {
                file: path.to_path_buf(),
                line,
            };
            match result {
                Err(reason) => self.malformed.push(Malformed { source, reason }),
                Ok(Line::OtherEvent) => self.ignored += 1,
                Ok(Line::OrphanError { error, time }) => self.errors.push(OrphanError {
                    source,
                    time: time.or(modified),
                    error,
                }),
                Ok(Line::Report {
                    user,
                    outcome,
                    error,
                    profile,
                    changes,
                    time,
                }) => {
                    let (time, time_source) = match (time, modified) {
                        (Some(t), _) => (Some(t), TimeSource::Record),
                        (None, Some(m)) => (Some(m), TimeSource::FileModified),
                        (None, None) => (None, TimeSource::Unknown),
                    };
                    self.add_record(Record {
                        order: (time, file_index, source.line),
                        user,
                        outcome,
                        error,
                        profile,
                        changes,
                        time,
                        time_source,
                        source,
                    });
                }
            }
        }
    }

    /// Note a file (or folder) that could not be read; it shows up in the view.
    pub fn add_unreadable(&mut self, path: &Path, error: impl std::fmt::Display) {
        self.unreadable.push(Unreadable {
            file: path.to_path_buf(),
            error: error.to_string(),
        });
    }

    fn add_record(&mut self, record: Record) {
        self.reports += 1;
        let key = record.user.to_lowercase();
        let in_sync = State::of(record.outcome) == State::InSync;
        let time = record.time;
        match self.users.get_mut(&key) {
            Some(acc) => {
                acc.runs += 1;
                acc.outcomes.add(record.outcome);
                if in_sync {
                    acc.last_in_sync = acc.last_in_sync.max(time);
                }
                if record.order > acc.latest.order {
                    acc.latest = record;
                }
            }
            None => {
                let mut outcomes = OutcomeCounts::default();
                outcomes.add(record.outcome);
                self.users.insert(
                    key,
                    UserAccumulator {
                        runs: 1,
                        outcomes,
                        last_in_sync: if in_sync { time } else { None },
                        latest: record,
                    },
                );
            }
        }
    }

    /// The fleet view.
    pub fn finish(self) -> FleetView {
        let mut users: Vec<UserStatus> = self
            .users
            .into_values()
            .map(|acc| {
                let r = acc.latest;
                UserStatus {
                    state: State::of(r.outcome),
                    user: r.user,
                    outcome: r.outcome,
                    error: r.error,
                    profile: r.profile,
                    changes: r.changes,
                    last_seen: r.time,
                    last_seen_from: r.time_source,
                    last_in_sync: acc.last_in_sync,
                    source: r.source,
                    runs: acc.runs,
                    outcomes: acc.outcomes,
                }
            })
            .collect();
        users.sort_by(|a, b| {
            (a.state, a.user.to_lowercase(), &a.user).cmp(&(
                b.state,
                b.user.to_lowercase(),
                &b.user,
            ))
        });
        let mut counts = StateCounts {
            users: users.len(),
            ..StateCounts::default()
        };
        for user in &users {
            match user.state {
                State::InSync => counts.in_sync += 1,
                State::Drifted => counts.drifted += 1,
                State::Failing => counts.failing += 1,
                State::Skipped => counts.skipped += 1,
            }
        }
        FleetView {
            files: self.files,
            reports: self.reports,
            counts,
            users,
            errors: self.errors,
            malformed_lines: self.malformed.len(),
            malformed: self.malformed,
            ignored_lines: self.ignored,
            unreadable: self.unreadable,
        }
    }
}

/// Text of a report file: UTF-16 when it starts with a UTF-16 BOM, else UTF-8 (bytes that are
/// not UTF-8 become U+FFFD, so one damaged byte costs at most its line).
fn decode(bytes: &[u8]) -> String {
    let utf16 = |little: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|p| {
                if little {
                    u16::from_le_bytes([p[0], p[1]])
                } else {
                    u16::from_be_bytes([p[0], p[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xFF, 0xFE, ..] => utf16(true),
        [0xFE, 0xFF, ..] => utf16(false),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A file that is one JSON document (a pretty-printed report, or an array of them) rather than
/// JSON Lines; every entry is attributed to the document's first line.
fn whole_document(text: &str) -> Option<Vec<(usize, Result<Line, String>)>> {
    let value: Value = serde_json::from_str(text).ok()?;
    let first_line = text.lines().position(|l| !l.trim().is_empty()).unwrap_or(0) + 1;
    match value {
        Value::Array(items) => Some(
            items
                .iter()
                .map(|item| (first_line, classify(item)))
                .collect(),
        ),
        object @ Value::Object(_) => Some(vec![(first_line, classify(&object))]),
        _ => None,
    }
}

fn optional_string(object: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("\"{field}\" is not a string: {other}")),
    }
}

fn parse_outcome(text: &str) -> Option<Outcome> {
    [
        Outcome::Changed,
        Outcome::Unchanged,
        Outcome::Pending,
        Outcome::Skipped,
        Outcome::Failed,
    ]
    .into_iter()
    .find(|o| o.as_str() == text)
}

/// Sort one parsed line into a report, an error event, another event, or a reason it is none.
fn classify(value: &Value) -> Result<Line, String> {
    let Value::Object(object) = value else {
        return Err("not a JSON object".into());
    };
    let time = match optional_string(object, "time")? {
        None => None,
        Some(text) => Some(
            Timestamp::parse_rfc3339(&text)
                .ok_or_else(|| format!("\"time\" is not an RFC 3339 time: {text:?}"))?,
        ),
    };
    let user = optional_string(object, "user")?;
    let outcome = optional_string(object, "outcome")?;
    let event = optional_string(object, "event")?;
    let error = optional_string(object, "error")?;
    match (user, outcome) {
        (Some(user), Some(outcome)) => {
            if user.trim().is_empty() {
                return Err("\"user\" is empty".into());
            }
            let outcome = parse_outcome(&outcome).ok_or_else(|| {
                format!(
                    "unknown outcome {outcome:?} (expected changed, unchanged, pending, skipped or failed)"
                )
            })?;
            let changes = match object.get("changes") {
                Some(Value::Array(items)) => items.len(),
                _ => 0,
            };
            Ok(Line::Report {
                user,
                outcome,
                error,
                profile: optional_string(object, "profile")?,
                changes,
                time,
            })
        }
        (Some(_), None) => Err("a report without \"outcome\"".into()),
        (None, Some(_)) => Err("a report without \"user\"".into()),
        (None, None) => match event.as_deref() {
            Some("error") => Ok(Line::OrphanError {
                error: error.unwrap_or_else(|| "(no message)".into()),
                time,
            }),
            Some(_) => Ok(Line::OtherEvent),
            None => Err("neither a profile report (\"user\", \"outcome\") nor a log event".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_the_log_writes_them() {
        let t = Timestamp::parse_rfc3339("2026-05-04T07:58:12Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-05-04T07:58:12Z");
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00Z"),
            Some(Timestamp(0))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-05-04T09:58:12.250+02:00"),
            Some(Timestamp(t.0 + 250))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2024-02-29 00:00:00Z")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        for bad in [
            "",
            "2026-05-04",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-05-04T07:58:12",
            "2026-05-04T07:58:12+2",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
        let stamp = Timestamp::from_system_time(UNIX_EPOCH + Duration::from_millis(1_500));
        assert_eq!(stamp, Timestamp(1_500));
        assert_eq!(stamp.to_rfc3339(), "1970-01-01T00:00:01Z");
    }

    #[test]
    fn the_latest_line_wins_and_bad_lines_are_counted() {
        let mut s = Summarizer::new();
        s.add_file(
            Path::new("a.log"),
            Some(Timestamp(0)),
            b"{\"user\":\"bob\",\"outcome\":\"failed\",\"error\":\"x\",\"time\":\"2026-01-01T10:00:00Z\"}\n\
              not json\n\
              {\"user\":\"Bob\",\"outcome\":\"unchanged\",\"time\":\"2026-01-01T09:00:00Z\"}\n",
        );
        let view = s.finish();
        assert_eq!(view.users.len(), 1);
        assert_eq!(view.users[0].state, State::Failing);
        assert_eq!(view.users[0].runs, 2);
        assert_eq!(view.users[0].error.as_deref(), Some("x"));
        assert_eq!(view.malformed.len(), 1);
        assert_eq!(view.malformed[0].source.line, 2);
    }
}
