//! The users of a fleet: rows of a CSV file (header row) or of the manifest's inline `rows`,
//! one of whose columns is matched against a profile's user name.
//!
//! Matching ignores case and the domain: `CORP\jdoe`, `jdoe@corp.example`, ` JDOE ` and `jdoe`
//! are the same user ([`normalize_user_name`]). Two rows with the same normalised name are an
//! error, as are an empty name, a missing key column and a row with the wrong number of fields;
//! every such error points at its line and column in the CSV file (or the manifest).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::{Diagnostic, Severity, SourceText};
use super::spans::{FieldPath, SourceMap};
use super::types::UsersSection;

/// The users a manifest provisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Users {
    /// The column matched against the profile's user name.
    pub key_column: String,
    /// Every column, in file order.
    pub columns: Vec<String>,
    /// One row per user, in file order.
    pub rows: Vec<UserRow>,
    /// Where the rows were read: the CSV file, or the manifest for inline rows.
    pub source: PathBuf,
    /// Normalised user name -> index of its row: the map the duplicate check builds while
    /// loading (or, for a table built by hand, made on the first lookup), so a fleet run over
    /// thousands of profiles does not scan every row for each profile.
    index: std::sync::OnceLock<HashMap<String, usize>>,
}

/// One user: the value of every column.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Every column's name, in column order. The loader shares one list between all the rows
    /// of a table (10,000 users need one copy of each name, not 10,000).
    columns: Arc<[String]>,
    /// The values, one after another: two allocations a row (this and `ends`) instead of one
    /// a value (a users table is built at every logon, and a company's is thousands of rows).
    values: Box<str>,
    /// Where each column's value ends in `values`; as many as `columns`.
    ends: Box<[usize]>,
    /// 1-based line of the row in [`Users::source`].
    pub line: usize,
}

impl fmt::Debug for UserRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A row may hold a password column: show the column names only.
        f.debug_struct("UserRow")
            .field("line", &self.line)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

impl UserRow {
    /// A row of `(column, value)` pairs, found at `line` of its source.
    pub fn new<C: Into<String>, V: AsRef<str>>(
        fields: impl IntoIterator<Item = (C, V)>,
        line: usize,
    ) -> UserRow {
        let (columns, values): (Vec<String>, Vec<V>) = fields
            .into_iter()
            .map(|(column, value)| (column.into(), value))
            .unzip();
        UserRow::with_columns(&columns.into(), values.iter().map(AsRef::as_ref), line)
    }

    /// A row of `values` for the loader's shared `columns` (as many values as columns).
    fn with_columns<'v>(
        columns: &Arc<[String]>,
        values: impl IntoIterator<Item = &'v str>,
        line: usize,
    ) -> UserRow {
        let mut joined = String::new();
        let mut ends = Vec::with_capacity(columns.len());
        for value in values {
            joined.push_str(value);
            ends.push(joined.len());
        }
        debug_assert_eq!(ends.len(), columns.len());
        UserRow {
            columns: Arc::clone(columns),
            values: joined.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            line,
        }
    }

    /// `(column, value)` for every column, in column order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.columns.iter().enumerate().map(|(index, column)| {
            let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
            (column.as_str(), &self.values[start..self.ends[index]])
        })
    }

    /// The value of `column` (spelled exactly).
    pub fn get(&self, column: &str) -> Option<&str> {
        self.fields()
            .find(|(name, _)| *name == column)
            .map(|(_, value)| value)
    }

    /// Every column as a JSON object of strings, for templates (`{{user.COLUMN}}`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.to_json_map())
    }

    /// [`Self::to_json`] as the map itself (what `render::template_context` takes).
    pub fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.fields()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect()
    }
}

impl Users {
    /// The row whose key column matches `profile_user` after [`normalize_user_name`] on both
    /// sides.
    pub fn find(&self, profile_user: &str) -> Option<&UserRow> {
        let wanted = normalized_user_name(profile_user);
        if wanted.is_empty() {
            return None;
        }
        let index = self.index.get_or_init(|| {
            let mut index = HashMap::with_capacity(self.rows.len());
            for (position, row) in self.rows.iter().enumerate() {
                if let Some(name) = row.get(&self.key_column) {
                    index.entry(normalize_user_name(name)).or_insert(position);
                }
            }
            index
        });
        index
            .get(wanted.as_ref())
            .map(|&position| &self.rows[position])
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A user name as matched: trimmed, without a `DOMAIN\` prefix or an `@domain` suffix,
/// lowercased. `CORP\JDoe` and `jdoe@corp.example` both give `jdoe`.
pub fn normalize_user_name(name: &str) -> String {
    normalized_user_name(name).into_owned()
}

/// [`normalize_user_name`] without a copy when the name is already normal (a fleet run looks up
/// every profile folder's name, nearly always plain lowercase ASCII).
fn normalized_user_name(name: &str) -> Cow<'_, str> {
    let name = name.trim();
    let name = name.rsplit('\\').next().unwrap_or(name);
    let name = name.rfind('@').map_or(name, |at| &name[..at]).trim();
    if name
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    }
}

/// Load the users of `section`. Errors go to `diagnostics`; `None` when the users could not be
/// read at all.
pub(crate) fn load_users(
    section: &UsersSection,
    manifest: &SourceText,
    map: &SourceMap,
    base_dir: &Path,
    secret_columns: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Users> {
    let users_path = FieldPath::root().k("users");
    let error = |path: &FieldPath, message: String| {
        manifest.diagnostic(Severity::Error, map.value_offset(path), message)
    };
    if section.key.trim().is_empty() {
        diagnostics.push(error(
            &users_path.k("key"),
            "the key column name is empty".to_string(),
        ));
        return None;
    }
    match (&section.csv, &section.rows) {
        (Some(_), Some(_)) | (None, None) => {
            diagnostics.push(manifest.diagnostic(
                Severity::Error,
                map.key_offset(&users_path),
                "[users] needs exactly one of `csv` (a file) and `rows` (inline users)",
            ));
            None
        }
        (Some(csv), None) => {
            let delimiter = match section.delimiter.as_deref() {
                None => b',',
                Some(d) if d.len() == 1 && d.is_ascii() && d != "\"" => d.as_bytes()[0],
                Some(_) => {
                    diagnostics.push(error(
                        &users_path.k("delimiter"),
                        "the delimiter must be one ASCII character other than `\"`, such as \",\" or \";\"".to_string(),
                    ));
                    return None;
                }
            };
            let path = base_dir.join(csv);
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    diagnostics.push(error(
                        &users_path.k("csv"),
                        format!("cannot read the users file {}: {e}", path.display()),
                    ));
                    return None;
                }
            };
            load_csv(
                &path,
                bytes,
                delimiter,
                &section.key,
                secret_columns,
                diagnostics,
            )
        }
        (None, Some(rows)) => {
            if section.delimiter.is_some() {
                diagnostics.push(error(
                    &users_path.k("delimiter"),
                    "`delimiter` only applies to a `csv` file".to_string(),
                ));
            }
            load_rows(rows, &section.key, manifest, map, diagnostics)
        }
    }
}

fn load_rows(
    rows: &[super::types::OrderedMap<String>],
    key_column: &str,
    manifest: &SourceText,
    map: &SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Users> {
    let rows_path = FieldPath::root().k("users").k("rows");
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        for column in row.keys() {
            if !columns.iter().any(|c| c == column) {
                columns.push(column.to_string());
            }
        }
    }
    let errors_before = diagnostics.len();
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let shared: Arc<[String]> = columns.clone().into();
    for (index, row) in rows.iter().enumerate() {
        let row_path = rows_path.i(index);
        let offset = map.value_offset(&row_path);
        let line = manifest.line_column(offset).0;
        let missing: Vec<&str> = columns
            .iter()
            .filter(|c| row.get(c).is_none())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            diagnostics.push(manifest.diagnostic(
                Severity::Error,
                offset,
                format!(
                    "this user has no {} (every row needs the same columns, as in a CSV file)",
                    list_columns(&missing)
                ),
            ));
            continue;
        }
        if !columns.iter().any(|c| c == key_column) {
            continue;
        }
        let key_path = row_path.k(key_column);
        let name = row.get(key_column).map_or("", String::as_str);
        if let Err(message) = check_key(name, &out, &mut seen) {
            diagnostics.push(manifest.diagnostic(
                Severity::Error,
                map.value_offset(&key_path),
                message,
            ));
        }
        out.push(UserRow::with_columns(
            &shared,
            columns
                .iter()
                .map(|c| row.get(c).map_or("", String::as_str)),
            line,
        ));
    }
    if !rows.is_empty() && !columns.iter().any(|c| c == key_column) {
        diagnostics.push(manifest.diagnostic(
            Severity::Error,
            map.value_offset(&rows_path.i(0)),
            missing_key_message(key_column, &columns),
        ));
    }
    if diagnostics.len() > errors_before {
        return None;
    }
    Some(Users {
        index: seen.into(),
        key_column: key_column.to_string(),
        columns,
        rows: out,
        source: manifest.path().to_path_buf(),
    })
}

/// Check a row's user name: not empty, not already seen. `Err` is the message.
fn check_key(
    name: &str,
    rows: &[UserRow],
    seen: &mut HashMap<String, usize>,
) -> Result<(), String> {
    let normalized = normalize_user_name(name);
    if normalized.is_empty() {
        return Err("the user name is empty; every user needs one".to_string());
    }
    match seen.entry(normalized) {
        std::collections::hash_map::Entry::Occupied(seen) => Err(format!(
            "duplicate user {:?}: line {} has the same name (names are compared without case, \
             `DOMAIN\\` prefix or `@domain` suffix)",
            seen.key(),
            rows[*seen.get()].line
        )),
        std::collections::hash_map::Entry::Vacant(new) => {
            // The row about to be pushed: `seen` becomes the table's index.
            new.insert(rows.len());
            Ok(())
        }
    }
}

fn list_columns(columns: &[&str]) -> String {
    let names: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    match names.len() {
        1 => format!("column {}", names[0]),
        _ => format!("columns {}", names.join(", ")),
    }
}

fn missing_key_message(key_column: &str, columns: &[String]) -> String {
    let mut message = format!(
        "no `{key_column}` column, the users' key column (columns: {})",
        if columns.is_empty() {
            "none".to_string()
        } else {
            columns
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    if let Some(close) = columns
        .iter()
        .find(|c| c.trim().eq_ignore_ascii_case(key_column.trim()))
    {
        message.push_str(&format!(
            "; did you mean `{close}`? (column names are case-sensitive)"
        ));
    } else if key_column == super::types::DEFAULT_KEY_COLUMN {
        message.push_str("; name the right column with `key` in [users]");
    }
    message
}

fn load_csv(
    path: &Path,
    bytes: Vec<u8>,
    delimiter: u8,
    key_column: &str,
    secret_columns: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Users> {
    let text = match decode_csv(bytes) {
        Ok(text) => text,
        Err((bytes, valid_up_to)) => {
            let valid = String::from_utf8_lossy(&bytes[..valid_up_to]).into_owned();
            let source = SourceText::new(path, valid);
            diagnostics.push(source.undecodable_diagnostic(
                valid_up_to,
                "the users file is not UTF-8: save it as \"CSV UTF-8\" (or UTF-16 with a BOM)",
            ));
            return None;
        }
    };
    // Problems are noted as (byte offset, message) while the file is read and turned into
    // messages at the end, when the password fields are known (see `CsvProblems`).
    let mut problems = CsvProblems::default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let field_offset = |start: usize, index: usize| {
        field_ranges(&text, start, delimiter)
            .nth(index)
            .map_or(start, |range| range.start)
    };
    let read_error = |e: csv::Error| {
        let offset = e
            .position()
            .map_or(0, |p| skip_line_breaks(&text, p.byte() as usize));
        (offset, format!("cannot read the users file: {e}"))
    };
    // One record and one list of value ends, reused for every row: a row kept allocates its
    // values and their ends, nothing else.
    let mut record = csv::ByteRecord::new();
    let mut ends: Vec<usize> = Vec::new();
    let header_start = match reader.read_byte_record(&mut record) {
        Ok(true) => record_start(&text, &record),
        Ok(false) => {
            problems.note(
                0,
                "the users file is empty; it needs a header row naming the columns",
            );
            return problems.report(path, text, delimiter, diagnostics);
        }
        Err(e) => {
            problems.list.push(read_error(e));
            return problems.report(path, text, delimiter, diagnostics);
        }
    };
    let columns: Vec<String> = record
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_string())
        .collect();
    // Password columns are hidden in every line a message may show.
    problems.password_columns = columns
        .iter()
        .enumerate()
        .filter(|(_, column)| secret_columns.contains(column) || super::check::looks_secret(column))
        .map(|(index, _)| index)
        .collect();
    // A header without the password column the manifest names may be no header at all but a
    // user's row (a file exported without one): then messages about it show neither its line
    // nor its cells, which may hold that user's password.
    let missing_password_column = secret_columns.iter().find(|c| !columns.contains(c));
    problems.header_hidden = missing_password_column.is_some();
    problems.header_line_end = memchr::memchr(b'\n', &text.as_bytes()[header_start..])
        .map_or(text.len(), |at| header_start + at);
    for (index, column) in columns.iter().enumerate() {
        if column.is_empty() {
            problems.note(
                field_offset(header_start, index),
                format!("column {} has no name", index + 1),
            );
        } else if let Some(first) = columns[..index]
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column))
        {
            problems.note(
                field_offset(header_start, index),
                if problems.header_hidden {
                    format!("columns {} and {} have the same name", first + 1, index + 1)
                } else {
                    format!(
                        "duplicate column `{column}` (column {} is `{}`)",
                        first + 1,
                        columns[first]
                    )
                },
            );
        }
    }
    let Some(key_index) = columns.iter().position(|c| c == key_column) else {
        let message = match missing_password_column {
            Some(password) => format!(
                "the first row has no `{key_column}` column (the users' key column) and no \
                 `{password}` column (the password column): the first row must name the columns \
                 (it is not shown: if it is a user's row, it may hold a password)"
            ),
            None => missing_key_message(key_column, &columns),
        };
        problems.note(header_start, message);
        return problems.report(path, text, delimiter, diagnostics);
    };
    // One row a line, nearly always: room for all of them up front, so neither the rows nor the
    // name map grow (and rehash every name) as 10,000 users go by.
    let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    let mut rows = Vec::with_capacity(lines);
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(lines);
    let shared: Arc<[String]> = columns.clone().into();
    // Records come in file order: each one's line is counted on from the previous one's (the
    // lines `SourceText` numbers are the `\n`-separated ones).
    let (mut counted_to, mut line) = (0, 1);
    let mut last_start = header_start;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                problems.list.push(read_error(e));
                return problems.report(path, text, delimiter, diagnostics);
            }
        }
        let start = record_start(&text, &record);
        last_start = start;
        // The record's fields lie one after another in one buffer: the row's values as they
        // will be kept. The text is UTF-8 and fields end at ASCII bytes, so this is too.
        let Ok(values) = std::str::from_utf8(record.as_slice()) else {
            problems.note(start, "cannot read the users file: a field is not UTF-8");
            return problems.report(path, text, delimiter, diagnostics);
        };
        ends.clear();
        ends.extend(
            (0..record.len()).map(|index| record.range(index).map_or(0, |range| range.end)),
        );
        let value = |index: usize| {
            let start = index.checked_sub(1).map_or(0, |before| ends[before]);
            &values[start..ends[index]]
        };
        // Spreadsheets export touched-but-empty rows as `,,,`: not a user.
        if (0..ends.len()).all(|index| value(index).trim().is_empty()) {
            continue;
        }
        line += memchr::memchr_iter(b'\n', &text.as_bytes()[counted_to..start]).count();
        counted_to = start;
        if ends.len() != columns.len() {
            let offset = if ends.len() > columns.len() {
                field_offset(start, columns.len())
            } else {
                field_ranges(&text, start, delimiter)
                    .last()
                    .map_or(start, |r| r.end)
            };
            problems.note(
                offset,
                format!(
                    "this row has {} field(s) but the header has {} column(s)",
                    ends.len(),
                    columns.len()
                ),
            );
            continue;
        }
        if let Err(message) = check_key(value(key_index), &rows, &mut seen) {
            problems.note(field_offset(start, key_index), message);
        }
        rows.push(UserRow {
            columns: Arc::clone(&shared),
            values: values.into(),
            ends: ends.as_slice().into(),
            line,
        });
    }
    // A quote that is never closed runs to the end of the file: every row after it was read as
    // part of one value, and those users would be silently missing.
    if let Some(quote) = unclosed_quote(&text, last_start, delimiter) {
        problems.note(
            quote,
            "this quote is never closed: everything after it, to the end of the file, was read \
             as one value (the users after it are missing); close it with another `\"`",
        );
    }
    if !problems.list.is_empty() {
        return problems.report(path, text, delimiter, diagnostics);
    }
    Some(Users {
        index: seen.into(),
        key_column: key_column.to_string(),
        columns,
        rows,
        source: path.to_path_buf(),
    })
}

/// Decode a users file: UTF-8 or UTF-16 by BOM, else strict UTF-8 (taken as it is, not
/// copied). `Err((bytes, valid_up_to))` when it is not valid.
fn decode_csv(bytes: Vec<u8>) -> Result<String, (Vec<u8>, usize)> {
    match encoding_rs::Encoding::for_bom(&bytes) {
        Some((encoding, bom_len)) => {
            let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
            if had_errors {
                Err((Vec::new(), 0))
            } else {
                Ok(text.into_owned())
            }
        }
        None => String::from_utf8(bytes).map_err(|e| {
            let valid_up_to = e.utf8_error().valid_up_to();
            (e.into_bytes(), valid_up_to)
        }),
    }
}

/// The problems found in a users file, as (byte offset, message), made into messages once the
/// file has been read. A message shows its source line, and a line may hold any row's fields (a
/// file whose rows end in a lone `\r`, as old Mac exports do, is one line to [`SourceText`]), so
/// every row's password fields are registered first. A file that loads cleanly, nearly every
/// one, never pays for that second parse, nor for indexing its lines.
#[derive(Default)]
struct CsvProblems {
    list: Vec<(usize, String)>,
    /// The password columns' indices, once the header is read.
    password_columns: Vec<usize>,
    /// Whether the header row may be a user's row: its line is not shown.
    header_hidden: bool,
    /// Where the header's line ends (a message before it would show that line).
    header_line_end: usize,
}

impl CsvProblems {
    fn note(&mut self, offset: usize, message: impl Into<String>) {
        self.list.push((offset, message.into()));
    }

    /// Every problem as an error in `diagnostics`, its line shown without a password. Always
    /// `None`: the table cannot be used.
    fn report(
        self,
        path: &Path,
        text: String,
        delimiter: u8,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Users> {
        let mut secrets = Vec::new();
        if !self.password_columns.is_empty() {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(text.as_bytes());
            let mut record = csv::ByteRecord::new();
            while let Ok(true) = reader.read_byte_record(&mut record) {
                let start = record_start(&text, &record);
                secrets.extend(
                    field_ranges(&text, start, delimiter)
                        .enumerate()
                        .filter(|(index, _)| self.password_columns.contains(index))
                        .map(|(_, range)| range),
                );
            }
        }
        let mut source = SourceText::new(path, text);
        for range in secrets {
            source.add_secret(range);
        }
        for (offset, message) in self.list {
            let mut diagnostic = source.diagnostic(Severity::Error, offset, message);
            if self.header_hidden && offset <= self.header_line_end {
                diagnostic.source_line = None;
            }
            diagnostics.push(diagnostic);
        }
        None
    }
}

/// The byte where `record` starts in `text`. The csv crate's position of a record is where
/// reading it began: after a `\r\n` line end that is the `\n` (the `\r` ended the previous
/// record), and blank lines before it are skipped as it reads. Taken as it is, the record would
/// start on the line before, and its fields would not be found there (a password among them
/// would be shown in a message).
fn record_start(text: &str, record: &csv::ByteRecord) -> usize {
    skip_line_breaks(text, record.position().map_or(0, |p| p.byte() as usize))
}

/// `offset`, moved past any `\r` and `\n` (no record starts with one).
fn skip_line_breaks(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = offset.min(bytes.len());
    while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
        at += 1;
    }
    at
}

/// Where the quote that opens the last field of the record at `start` is, when that quote is
/// never closed (the field then runs to the end of the text). Read as the csv crate reads: `""`
/// inside quotes is a quote; after the closing quote, a quote is an ordinary character.
fn unclosed_quote(text: &str, start: usize, delimiter: u8) -> Option<usize> {
    let range = field_ranges(text, start, delimiter).last()?;
    let field = &text.as_bytes()[range.clone()];
    if range.end != text.len() || field.first() != Some(&b'"') {
        return None;
    }
    let mut at = 1;
    while at < field.len() {
        if field[at] == b'"' {
            if field.get(at + 1) != Some(&b'"') {
                return None; // closed
            }
            at += 1;
        }
        at += 1;
    }
    Some(range.start)
}

/// Byte ranges of the raw fields of the CSV record starting at `start` (RFC 4180 quoting, as
/// the csv crate reads by default), one after another.
fn field_ranges(
    text: &str,
    start: usize,
    delimiter: u8,
) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let mut next = Some(start);
    std::iter::from_fn(move || {
        let field_start = next?;
        let mut at = field_start;
        let mut quoted = at < bytes.len() && bytes[at] == b'"';
        if quoted {
            at += 1;
        }
        while at < bytes.len() {
            let b = bytes[at];
            if quoted {
                if b == b'"' {
                    if bytes.get(at + 1) == Some(&b'"') {
                        at += 1;
                    } else {
                        quoted = false;
                    }
                }
            } else if b == delimiter || b == b'\n' || b == b'\r' {
                break;
            }
            at += 1;
        }
        next = (at < bytes.len() && bytes[at] == delimiter).then_some(at + 1);
        Some(field_start..at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        for name in [
            "jdoe",
            "JDOE",
            " jdoe ",
            "CORP\\jdoe",
            "jdoe@corp.example",
            "corp\\JDoe",
        ] {
            assert_eq!(normalize_user_name(name), "jdoe", "{name}");
        }
    }

    #[test]
    fn field_ranges_follow_quotes() {
        let text = "a,\"b,\"\"c\"\"\",d\r\nx,y\n";
        let ranges: Vec<_> = field_ranges(text, 0, b',').collect();
        let fields: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(fields, ["a", "\"b,\"\"c\"\"\"", "d"]);
        let second = text.find('x').unwrap();
        assert_eq!(field_ranges(text, second, b',').count(), 2);
    }
}
