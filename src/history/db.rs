//! The `call_log.db` store of MicroSIP 3.22: SQLite with MicroSIP's schema and pragmas, opened
//! so that a database we cannot trust is never changed.
//!
//! MicroSIP opens the file with `OPEN_READWRITE | OPEN_CREATE`, sets `PRAGMA busy_timeout=5000`
//! and nothing else (no journal mode, page size or other pragma), creates the table `call_log`
//! and the unique index `idx_call_log_callId_unique` with `IF NOT EXISTS`
//! (A:Data/Database.cpp, `microsip-formats.md` §3.1). [`CallLog::open`] does the same, with three
//! differences that keep foreign files safe: reading opens the file read-only; a file that does
//! not start with the SQLite header, fails `PRAGMA quick_check`, or holds tables but no usable
//! `call_log` is refused before anything is written; and the schema is only created inside the
//! first write transaction, so a read never changes a byte. Every write is one `BEGIN
//! IMMEDIATE` transaction: all rows or none. A database held by another connection is waited
//! for 5 s, as MicroSIP waits, then reported as [`ErrorKind::Locked`] naming the file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::record::{CallRecord, CallType};
use super::{ErrorKind, HistoryError, HistoryWarning};

/// The file name, next to the INI (A:Calls.cpp `OnInitDialog`, §3.1).
pub const DB_FILE: &str = "call_log.db";

/// MicroSIP's `PRAGMA busy_timeout=5000` (A:Data/Database.cpp, §3.1).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// MicroSIP keeps the newest 1000 rows by `id` and deletes the rest at every start (§3.1).
pub const MICROSIP_ROW_LIMIT: usize = 1000;

/// MicroSIP's table, statement for statement (A:Data/Database.cpp `InitCalls`, §3.1); SQLite
/// stores it in `sqlite_master` without `IF NOT EXISTS`, exactly as in MicroSIP's own files.
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS call_log (id INTEGER PRIMARY KEY AUTOINCREMENT,callId TEXT NOT NULL,number TEXT NOT NULL,name TEXT NOT NULL,type INTEGER,time INTEGER,duration INTEGER,info TEXT NOT NULL);";

/// MicroSIP's unique index on `callId` (A:Data/Database.cpp `InitCalls`, §3.1).
pub const CREATE_INDEX: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_call_log_callId_unique ON call_log(callId);";

/// The columns MicroSIP reads and writes (§3.1).
pub const COLUMNS: [&str; 8] = [
    "id", "callId", "number", "name", "type", "time", "duration", "info",
];

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// How to open the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read-only: the file must exist; nothing can change it.
    Read,
    /// Read and write an existing file.
    Write,
    /// Read and write, creating the file (as MicroSIP does at its first start) when missing.
    Create,
}

/// One row: `id` plus the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbRow {
    /// `call_log.id`, the insertion order.
    pub id: i64,
    /// Every other column.
    pub record: CallRecord,
}

/// What [`CallLog::insert`] did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    /// Rows inserted.
    pub inserted: usize,
    /// Records skipped because a row with the same `callId` exists.
    pub duplicates: usize,
    /// Records skipped because an earlier record of the same input had the same `callId`.
    pub repeated: usize,
    /// Rows in `call_log` afterwards.
    pub rows_after: usize,
}

/// An open `call_log.db`.
#[derive(Debug)]
pub struct CallLog {
    conn: Connection,
    path: PathBuf,
    /// We created the file in this session (removed again if nothing is committed).
    created: bool,
    /// `call_log` exists (false for an empty, fresh database).
    has_table: bool,
}

/// Turn a SQLite error into a [`HistoryError`] that names the file and says what to do.
pub fn sqlite_error(path: &Path, action: &str, error: &rusqlite::Error) -> HistoryError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => HistoryError::new(
            ErrorKind::Locked,
            Some(path),
            format!(
                "cannot {action}: the database is locked by another program (waited {} s, as \
                 MicroSIP does); nothing was changed",
                BUSY_TIMEOUT.as_secs()
            ),
        )
        .hint("close MicroSIP or the program holding call_log.db open, then retry"),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            corrupt(path, &error.to_string())
        }
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            HistoryError::new(
                ErrorKind::Io,
                Some(path),
                format!("cannot {action}: {error}"),
            )
            .hint("check that this account may read and write the file and its folder")
        }
        _ => HistoryError::new(
            ErrorKind::Sqlite,
            Some(path),
            format!("cannot {action}: {error}"),
        ),
    }
}

fn corrupt(path: &Path, detail: &str) -> HistoryError {
    HistoryError::new(
        ErrorKind::Corrupt,
        Some(path),
        format!("is not a valid SQLite database ({detail}); it was left untouched"),
    )
    .hint("MicroSIP 3.22 cannot read it either: restore call_log.db from a backup, or move it away so MicroSIP starts a new one")
}

impl CallLog {
    /// Open `path`. Refuses (without writing anything) a symbolic link, a directory, a file
    /// that is not SQLite or fails `PRAGMA quick_check`, and a database that has tables but no
    /// `call_log` with MicroSIP's columns. An empty database (0 bytes, or no tables) is
    /// accepted: MicroSIP would create its table in it, and so does the first write here.
    pub fn open(path: &Path, mode: OpenMode) -> Result<CallLog, HistoryError> {
        let created = match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(HistoryError::new(
                    ErrorKind::Io,
                    Some(path),
                    "refusing to use a symbolic link or reparse point as call_log.db",
                )
                .hint("replace the link with the database file itself"));
            }
            Ok(meta) if meta.is_dir() => {
                return Err(HistoryError::new(
                    ErrorKind::Io,
                    Some(path),
                    "is a directory, not a database",
                ))
            }
            // A named pipe, socket or device: SQLite would wait on it forever (a FIFO has no
            // end), so one planted `mkfifo` would stop a whole batch run.
            Ok(meta) if !meta.is_file() => {
                return Err(HistoryError::new(
                    ErrorKind::Io,
                    Some(path),
                    "is not a regular file (a named pipe, socket or device), not a database",
                )
                .hint("remove it; MicroSIP creates a new call_log.db"))
            }
            Ok(meta) => {
                check_header(path, meta.len())?;
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if mode != OpenMode::Create {
                    return Err(HistoryError::new(
                        ErrorKind::NoStore,
                        Some(path),
                        "does not exist",
                    ));
                }
                true
            }
            Err(e) => {
                return Err(HistoryError::new(
                    ErrorKind::Io,
                    Some(path),
                    format!("cannot read: {e}"),
                ))
            }
        };
        let flags = match mode {
            OpenMode::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
            OpenMode::Write => OpenFlags::SQLITE_OPEN_READ_WRITE,
            OpenMode::Create => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| sqlite_error(path, "open the database", &e))?;
        let mut log = CallLog {
            conn,
            path: path.to_path_buf(),
            created,
            has_table: false,
        };
        // On failure, dropping `log` removes a file this call created.
        log.check()?;
        Ok(log)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file did not exist before this session.
    pub fn created(&self) -> bool {
        self.created
    }

    fn check(&mut self) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| sqlite_error(&path, "read the database", &e);
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        if self.created {
            return Ok(());
        }
        let verdict: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(fail)?;
        if verdict != "ok" {
            return Err(corrupt(&self.path, &format!("quick_check: {verdict}")));
        }
        let objects: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                [],
                |row| row.get(0),
            )
            .map_err(fail)?;
        let mut columns = Vec::new();
        {
            let mut statement = self
                .conn
                .prepare("SELECT name FROM pragma_table_info('call_log')")
                .map_err(fail)?;
            let rows = statement
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(fail)?;
            for row in rows {
                columns.push(row.map_err(fail)?);
            }
        }
        if columns.is_empty() {
            if objects > 0 {
                return Err(HistoryError::new(
                    ErrorKind::NotMicrosipDb,
                    Some(&self.path),
                    "is an SQLite database without MicroSIP's call_log table; it was left untouched",
                )
                .hint("check that this is MicroSIP's call_log.db (§3.1 of the formats notes)"));
            }
            return Ok(());
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .copied()
            .filter(|c| !columns.iter().any(|have| have.eq_ignore_ascii_case(c)))
            .collect();
        if !missing.is_empty() {
            return Err(HistoryError::new(
                ErrorKind::NotMicrosipDb,
                Some(&self.path),
                format!(
                    "its call_log table lacks MicroSIP's column(s) {}; it was left untouched",
                    missing.join(", ")
                ),
            ));
        }
        self.has_table = true;
        Ok(())
    }

    /// Number of rows in `call_log`.
    pub fn count(&self) -> Result<usize, HistoryError> {
        if !self.has_table {
            return Ok(0);
        }
        self.conn
            .query_row("SELECT count(*) FROM call_log", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(|e| sqlite_error(&self.path, "count the rows", &e))
    }

    /// Every row, in `id` order (MicroSIP's insertion order, §3.1), with warnings for values
    /// MicroSIP itself never writes (its `Validate` rejects them) and that were adjusted to
    /// fit the record.
    pub fn rows(&self) -> Result<(Vec<DbRow>, Vec<HistoryWarning>), HistoryError> {
        let mut rows = Vec::new();
        let mut warnings = Vec::new();
        if !self.has_table {
            return Ok((rows, warnings));
        }
        let fail = |e: rusqlite::Error| sqlite_error(&self.path, "read call_log", &e);
        let mut statement = self
            .conn
            .prepare("SELECT id, callId, number, name, type, time, duration, info FROM call_log ORDER BY id")
            .map_err(fail)?;
        let mut query = statement.query([]).map_err(fail)?;
        while let Some(row) = query.next().map_err(fail)? {
            let id: i64 = row.get(0).map_err(fail)?;
            let mut issues = Vec::new();
            let mut text = |index: usize, what: &str| -> Result<String, rusqlite::Error> {
                Ok(match row.get_ref(index)? {
                    ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                        Ok(s) => s.to_string(),
                        Err(_) => {
                            issues
                                .push(format!("{what} is not valid UTF-8; invalid bytes replaced"));
                            String::from_utf8_lossy(bytes).into_owned()
                        }
                    },
                    ValueRef::Null => {
                        issues.push(format!("{what} is NULL; read as empty"));
                        String::new()
                    }
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(x) => x.to_string(),
                    ValueRef::Blob(bytes) => {
                        issues.push(format!("{what} is a BLOB; read as text"));
                        String::from_utf8_lossy(bytes).into_owned()
                    }
                })
            };
            let call_id = text(1, "callId").map_err(fail)?;
            let number = text(2, "number").map_err(fail)?;
            let name = text(3, "name").map_err(fail)?;
            let info = text(7, "info").map_err(fail)?;
            let mut integer = |index: usize, what: &str| -> Result<i64, rusqlite::Error> {
                // SQLiteCpp's getInt/getInt64 read NULL as 0 and text by its numeric prefix.
                Ok(match row.get_ref(index)? {
                    ValueRef::Integer(n) => n,
                    ValueRef::Null => {
                        issues.push(format!("{what} is NULL; read as 0, as MicroSIP does"));
                        0
                    }
                    ValueRef::Real(x) => {
                        issues.push(format!("{what} is the real number {x}; truncated"));
                        x as i64
                    }
                    ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                        let shown = String::from_utf8_lossy(bytes);
                        let n = super::record::atoi(&shown).0;
                        issues.push(format!("{what} is the text {shown:?}; read as {n}"));
                        n
                    }
                })
            };
            let code = integer(4, "type").map_err(fail)?;
            let time = integer(5, "time").map_err(fail)?;
            let duration = integer(6, "duration").map_err(fail)?;
            let call_type = CallType::from_code(code).unwrap_or_else(|| {
                issues.push(format!(
                    "type {code} is outside 0..3 (MicroSIP's Validate rejects it, §3.1); read as 0 (outgoing)"
                ));
                CallType::Outgoing
            });
            for issue in issues {
                warnings.push(
                    HistoryWarning::new(format!("call_log row id {id}: {issue}"))
                        .in_file(&self.path),
                );
            }
            rows.push(DbRow {
                id,
                record: CallRecord {
                    call_id,
                    number,
                    name,
                    call_type,
                    time,
                    duration,
                    info,
                },
            });
        }
        Ok((rows, warnings))
    }

    /// The `callId`s present.
    fn call_ids(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
        let mut statement = conn.prepare("SELECT callId FROM call_log")?;
        let ids = statement
            .query_map([], |row| {
                Ok(match row.get_ref(0)? {
                    ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                        String::from_utf8_lossy(bytes).into_owned()
                    }
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(x) => x.to_string(),
                    ValueRef::Null => String::new(),
                })
            })?
            .collect::<rusqlite::Result<HashSet<String>>>()?;
        Ok(ids)
    }

    /// Insert the records whose `callId` is not in the table yet, in the given order, in one
    /// transaction (MicroSIP's `INSERT`, A:Data/CallsRepository.cpp `Add`). Creates MicroSIP's
    /// table and index first when the database has none (as MicroSIP does at start-up).
    /// With `require_empty`, a table that already has rows is refused before anything is
    /// written ([`ErrorKind::Refused`]): 3.22 migrates `[Calls]` only into an empty table
    /// (§3.1). With `dry_run`, everything is computed and rolled back. An empty `callId` is an
    /// error (MicroSIP's `Validate`, §3.1).
    pub fn insert(
        &mut self,
        records: &[CallRecord],
        require_empty: bool,
        dry_run: bool,
    ) -> Result<InsertOutcome, HistoryError> {
        if let Some(position) = records.iter().position(|r| r.call_id.is_empty()) {
            return Err(HistoryError::new(
                ErrorKind::InvalidInput,
                None,
                format!(
                    "call {} has an empty call id; MicroSIP requires one (§3.1)",
                    position + 1
                ),
            ));
        }
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| sqlite_error(&path, "write call_log", &e);
        let mut outcome = InsertOutcome::default();
        let has_table = self.has_table;
        let result = (|| -> Result<bool, HistoryError> {
            let behavior = if dry_run {
                TransactionBehavior::Deferred
            } else {
                TransactionBehavior::Immediate
            };
            let tx = self
                .conn
                .transaction_with_behavior(behavior)
                .map_err(fail)?;
            let existing = if has_table {
                Self::call_ids(&tx).map_err(fail)?
            } else {
                HashSet::new()
            };
            if require_empty && !existing.is_empty() {
                return Err(HistoryError::new(
                    ErrorKind::Refused,
                    Some(&path),
                    format!(
                        "call_log already holds {} row(s); MicroSIP 3.22 migrates [Calls] only \
                         into an empty call_log (§3.1), so it would never import these calls",
                        existing.len()
                    ),
                )
                .hint("pass --merge to add the [Calls] entries whose callId is not there yet"));
            }
            let before = existing.len();
            let mut fresh: HashSet<&str> = HashSet::new();
            let mut new_rows: Vec<&CallRecord> = Vec::new();
            for record in records {
                if existing.contains(&record.call_id) {
                    outcome.duplicates += 1;
                } else if !fresh.insert(record.call_id.as_str()) {
                    outcome.repeated += 1;
                } else {
                    new_rows.push(record);
                }
            }
            outcome.inserted = new_rows.len();
            outcome.rows_after = before + new_rows.len();
            if dry_run || new_rows.is_empty() {
                tx.rollback().map_err(fail)?;
                return Ok(false);
            }
            tx.execute_batch(CREATE_TABLE).map_err(fail)?;
            tx.execute_batch(CREATE_INDEX).map_err(fail)?;
            {
                let mut statement = tx
                    .prepare(
                        "INSERT INTO call_log (callId, number, name, type, time, duration, info) \
                         VALUES (?, ?, ?, ?, ?, ?, ?);",
                    )
                    .map_err(fail)?;
                for r in new_rows {
                    statement
                        .execute(params![
                            r.call_id,
                            r.number,
                            r.name,
                            r.call_type.code(),
                            r.time,
                            r.duration,
                            r.info
                        ])
                        .map_err(fail)?;
                }
            }
            tx.commit().map_err(fail)?;
            Ok(true)
        })();
        match result {
            Ok(true) => {
                self.has_table = true;
                self.created = false;
                Ok(outcome)
            }
            Ok(false) => Ok(outcome),
            Err(e) => Err(e),
        }
    }

    /// Delete the rows with these ids in one transaction. `secure_delete` is switched on for
    /// this connection (not stored in the file) so the deleted calls are overwritten with
    /// zeros rather than left readable in free pages: pruning is for privacy.
    pub fn delete(&mut self, ids: &[i64]) -> Result<usize, HistoryError> {
        if ids.is_empty() || !self.has_table {
            return Ok(0);
        }
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| sqlite_error(&path, "delete from call_log", &e);
        self.conn
            .execute_batch("PRAGMA secure_delete=ON;")
            .map_err(fail)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let mut removed = 0;
        {
            let mut statement = tx
                .prepare("DELETE FROM call_log WHERE id=?;")
                .map_err(fail)?;
            for id in ids {
                removed += statement.execute([id]).map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)?;
        Ok(removed)
    }
}

impl Drop for CallLog {
    fn drop(&mut self) {
        if !self.created || !std::fs::metadata(&self.path).is_ok_and(|m| m.len() == 0) {
            return;
        }
        // We created the file and committed nothing: do not leave an empty file behind that
        // MicroSIP or a later run would take for a database. Close first (Windows cannot
        // delete an open file).
        if let Ok(memory) = Connection::open_in_memory() {
            let conn = std::mem::replace(&mut self.conn, memory);
            let _ = conn.close();
            let _ = std::fs::remove_file(&self.path);
            let mut journal = self.path.clone().into_os_string();
            journal.push("-journal");
            let _ = std::fs::remove_file(journal);
        }
    }
}

/// Refuse a non-empty file that does not start with the SQLite header, before SQLite opens it.
fn check_header(path: &Path, len: u64) -> Result<(), HistoryError> {
    if len == 0 {
        return Ok(());
    }
    use std::io::Read;
    let mut header = [0u8; 16];
    let mut file = std::fs::File::open(path)
        .map_err(|e| HistoryError::new(ErrorKind::Io, Some(path), format!("cannot read: {e}")))?;
    let read = file.read(&mut header).unwrap_or(0);
    if read < header.len() || &header != SQLITE_MAGIC {
        return Err(corrupt(path, "it does not start with the SQLite header"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, time: i64) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            number: "100".into(),
            name: "Reception".into(),
            call_type: CallType::Incoming,
            time,
            duration: 7,
            info: "".into(),
        }
    }

    #[test]
    fn create_insert_read_and_dedupe() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let mut log = CallLog::open(&path, OpenMode::Create).unwrap();
        let out = log
            .insert(
                &[record("a", 1), record("b", 2), record("a", 3)],
                false,
                false,
            )
            .unwrap();
        assert_eq!((out.inserted, out.repeated, out.rows_after), (2, 1, 2));
        let out = log
            .insert(&[record("b", 9), record("c", 3)], false, false)
            .unwrap();
        assert_eq!((out.inserted, out.duplicates, out.rows_after), (1, 1, 3));
        drop(log);
        let log = CallLog::open(&path, OpenMode::Read).unwrap();
        let (rows, warnings) = log.rows().unwrap();
        assert!(warnings.is_empty());
        assert_eq!(
            rows.iter()
                .map(|r| (r.id, r.record.call_id.as_str()))
                .collect::<Vec<_>>(),
            [(1, "a"), (2, "b"), (3, "c")]
        );
    }

    #[test]
    fn a_created_file_that_receives_nothing_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let mut log = CallLog::open(&path, OpenMode::Create).unwrap();
        log.insert(&[record("a", 1)], false, true).unwrap();
        drop(log);
        assert!(!path.exists());
    }

    #[test]
    fn garbage_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        std::fs::write(&path, b"this is not a database at all, not even close").unwrap();
        let err = CallLog::open(&path, OpenMode::Write).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Corrupt);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"this is not a database at all, not even close"
        );
    }

    /// A named pipe planted as `call_log.db` is refused at once: SQLite would read it forever.
    #[cfg(unix)]
    #[test]
    fn a_named_pipe_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        assert!(made.is_ok_and(|s| s.success()));
        let (done, result) = std::sync::mpsc::channel();
        let opened = path.clone();
        std::thread::spawn(move || {
            let _ = done.send(CallLog::open(&opened, OpenMode::Write).map(drop));
        });
        let result = result
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("opening a named pipe must not wait for a writer");
        let err = result.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Io);
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn foreign_databases_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE other (x);")
            .unwrap();
        let err = CallLog::open(&path, OpenMode::Write).unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotMicrosipDb);
    }

    #[test]
    fn require_empty_refuses_a_filled_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let mut log = CallLog::open(&path, OpenMode::Create).unwrap();
        log.insert(&[record("a", 1)], false, false).unwrap();
        let err = log.insert(&[record("b", 1)], true, false).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused);
        assert_eq!(log.count().unwrap(), 1);
    }
}
