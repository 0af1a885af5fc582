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
    /// `(column, value)` for every column, in column order. The column names are shared by
    /// every row (10,000 users need one copy of each name, not 10,000).
    pub fields: Vec<(Arc<str>, String)>,
    /// 1-based line of the row in [`Users::source`].
    pub line: usize,
}

impl fmt::Debug for UserRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A row may hold a password column: show the column names only.
        f.debug_struct("UserRow")
            .field("line", &self.line)
            .field(
                "columns",
                &self.fields.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl UserRow {
    /// The value of `column` (spelled exactly).
    pub fn get(&self, column: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| **k == *column)
            .map(|(_, v)| v.as_str())
    }

    /// Every column as a JSON object of strings, for templates (`{{user.COLUMN}}`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.to_json_map())
    }

    /// [`Self::to_json`] as the map itself (what `render::template_context` takes).
    pub fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.fields
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
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
                &bytes,
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
    let shared: Vec<Arc<str>> = columns.iter().map(|c| Arc::from(c.as_str())).collect();
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
        check_key(
            name,
            &out,
            &mut seen,
            |message| manifest.diagnostic(Severity::Error, map.value_offset(&key_path), message),
            diagnostics,
        );
        out.push(UserRow {
            fields: shared
                .iter()
                .map(|c| (Arc::clone(c), row.get(c).cloned().unwrap_or_default()))
                .collect(),
            line,
        });
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

/// Check a row's user name: not empty, not already seen.
fn check_key(
    name: &str,
    rows: &[UserRow],
    seen: &mut HashMap<String, usize>,
    diagnostic: impl FnOnce(String) -> Diagnostic,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let normalized = normalize_user_name(name);
    if normalized.is_empty() {
        diagnostics.push(diagnostic(
            "the user name is empty; every user needs one".to_string(),
        ));
    } else if let Some(first) = seen.get(&normalized).map(|&position| rows[position].line) {
        diagnostics.push(diagnostic(format!(
            "duplicate user {normalized:?}: line {first} has the same name (names are compared \
             without case, `DOMAIN\\` prefix or `@domain` suffix)"
        )));
    } else {
        // The row about to be pushed: `seen` becomes the table's index.
        seen.insert(normalized, rows.len());
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
    bytes: &[u8],
    delimiter: u8,
    key_column: &str,
    secret_columns: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Users> {
    let text = match decode_csv(bytes) {
        Ok(text) => text,
        Err(valid_up_to) => {
            let valid = String::from_utf8_lossy(&bytes[..valid_up_to]).into_owned();
            let source = SourceText::new(path, valid);
            diagnostics.push(source.undecodable_diagnostic(
                valid_up_to,
                "the users file is not UTF-8: save it as \"CSV UTF-8\" (or UTF-16 with a BOM)",
            ));
            return None;
        }
    };
    // The parser reads its own copy of the text: `source` registers password fields when the
    // first message is built.
    let mut source = UsersFileText {
        source: SourceText::new(path, text.clone()),
        password_columns: None,
        delimiter,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    // Rows are taken one at a time (a file of 10,000 users is never held twice), each record's
    // start kept for messages; a field's own position is worked out only for a message.
    let mut records = reader.records().map(|record| {
        record.map(|record| {
            let start = record.position().map_or(0, |p| p.byte() as usize);
            (start, record)
        })
    });
    let read_error = |source: &mut UsersFileText, e: csv::Error| {
        let offset = e.position().map_or(0, |p| p.byte() as usize);
        source.error(offset, format!("cannot read the users file: {e}"))
    };
    let field_offset = |start: usize, index: usize| {
        field_ranges(&text, start, delimiter)
            .nth(index)
            .map_or(start, |range| range.start)
    };
    let (header_start, header) = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => {
            diagnostics.push(read_error(&mut source, e));
            return None;
        }
        None => {
            diagnostics.push(source.error(
                0,
                "the users file is empty; it needs a header row naming the columns",
            ));
            return None;
        }
    };
    let columns: Vec<String> = header.iter().map(|c| c.trim().to_string()).collect();
    // Password columns are hidden in every line a message may show.
    source.password_columns = Some(
        columns
            .iter()
            .enumerate()
            .filter(|(_, column)| {
                secret_columns.contains(column) || super::check::looks_secret(column)
            })
            .map(|(index, _)| index)
            .collect(),
    );
    let errors_before = diagnostics.len();
    for (index, column) in columns.iter().enumerate() {
        if column.is_empty() {
            diagnostics.push(source.error(
                field_offset(header_start, index),
                format!("column {} has no name", index + 1),
            ));
        } else if let Some(first) = columns[..index]
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column))
        {
            diagnostics.push(source.error(
                field_offset(header_start, index),
                format!(
                    "duplicate column `{column}` (column {} is `{}`)",
                    first + 1,
                    columns[first]
                ),
            ));
        }
    }
    let Some(key_index) = columns.iter().position(|c| c == key_column) else {
        diagnostics.push(source.error(header_start, missing_key_message(key_column, &columns)));
        return None;
    };
    // One row a line, nearly always: room for all of them up front, so neither the rows nor the
    // name map grow (and rehash every name) as 10,000 users go by.
    let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    let mut rows = Vec::with_capacity(lines);
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(lines);
    let shared: Vec<Arc<str>> = columns.iter().map(|c| Arc::from(c.as_str())).collect();
    // Records come in file order: each one's line is counted on from the previous one's (the
    // lines `SourceText` numbers are the `\n`-separated ones).
    let (mut counted_to, mut line) = (0, 1);
    for record in records {
        let (start, record) = match record {
            Ok(record) => record,
            Err(e) => {
                diagnostics.push(read_error(&mut source, e));
                return None;
            }
        };
        // Spreadsheets export touched-but-empty rows as `,,,`: not a user.
        if record.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        line += memchr::memchr_iter(b'\n', &text.as_bytes()[counted_to..start]).count();
        counted_to = start;
        debug_assert_eq!(line, source.source.line_column(start).0);
        if record.len() != columns.len() {
            let offset = if record.len() > columns.len() {
                field_offset(start, columns.len())
            } else {
                field_ranges(&text, start, delimiter)
                    .last()
                    .map_or(start, |r| r.end)
            };
            diagnostics.push(source.error(
                offset,
                format!(
                    "this row has {} field(s) but the header has {} column(s)",
                    record.len(),
                    columns.len()
                ),
            ));
            continue;
        }
        check_key(
            &record[key_index],
            &rows,
            &mut seen,
            |message| source.error(field_offset(start, key_index), message),
            diagnostics,
        );
        rows.push(UserRow {
            fields: shared
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_string))
                .collect(),
            line,
        });
    }
    if diagnostics.len() > errors_before {
        return None;
    }
    Some(Users {
        index: seen.into(),
        key_column: key_column.to_string(),
        columns,
        rows,
        source: path.to_path_buf(),
    })
}

/// Decode a users file: UTF-8 or UTF-16 by BOM, else strict UTF-8. `Err(valid_up_to)` when it
/// is not valid.
fn decode_csv(bytes: &[u8]) -> Result<String, usize> {
    match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) => {
            let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
            if had_errors {
                Err(0)
            } else {
                Ok(text.into_owned())
            }
        }
        None => String::from_utf8(bytes.to_vec()).map_err(|e| e.utf8_error().valid_up_to()),
    }
}

/// A users file as its messages show it. A message shows its source line, and a line may hold
/// any row's fields (a file whose rows end in a lone `\r`, as old Mac exports do, is one line to
/// [`SourceText`]), so the first message registers every row's password fields before it is
/// built. A file that loads cleanly, nearly every one, never pays for that second parse.
struct UsersFileText {
    source: SourceText,
    /// The password columns' indices once the header is read, until their fields are
    /// registered.
    password_columns: Option<Vec<usize>>,
    delimiter: u8,
}

impl UsersFileText {
    /// An error at byte `offset`, its line shown without a password.
    fn error(&mut self, offset: usize, message: impl Into<String>) -> Diagnostic {
        if let Some(indices) = self.password_columns.take().filter(|i| !i.is_empty()) {
            let text = self.source.text();
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .delimiter(self.delimiter)
                .from_reader(text.as_bytes());
            let mut record = csv::ByteRecord::new();
            let mut secrets = Vec::new();
            while let Ok(true) = reader.read_byte_record(&mut record) {
                let start = record.position().map_or(0, |p| p.byte() as usize);
                secrets.extend(
                    field_ranges(text, start, self.delimiter)
                        .enumerate()
                        .filter(|(index, _)| indices.contains(index))
                        .map(|(_, range)| range),
                );
            }
            for range in secrets {
                self.source.add_secret(range);
            }
        }
        self.source.diagnostic(Severity::Error, offset, message)
    }
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
