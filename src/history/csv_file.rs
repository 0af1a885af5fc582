//! CSV in MicroSIP 3.22's export layout, readable by MicroSIP's own importer.
//!
//! 3.22 exports `ID, Type, Name, Number, Timestamp, UTC Time, Local Time, Duration, Info` (UTF-8)
//! and imports by those header names, skipping rows whose `ID` exists
//! (A:Service/CallsService.cpp `ExportCallsCSV` / `ImportCallsCSV`, `microsip-formats.md` §3.1).
//! Its export spells `Type` as `outgoing`/`incoming`/`missed`/`answered_elsewhere`, but its
//! import reads `Type` with `_wtoi`, so its own files come back as type 0 (§3.1). [`render`]
//! therefore writes the type *code* (`0`..`3`), which MicroSIP's importer reads correctly;
//! [`parse`] accepts codes and both exports' names. `Local Time` is written in UTC like
//! `UTC Time` (the tool runs where the user's time zone is unknown; both importers ignore the
//! column). [`parse`] also reads 3.21's export, `Type,Name,Number,Time,Duration,Info` (§3.2),
//! whose rows have no ID: their call ids are derived from the content.

use super::record::{content_call_id, utc_text, CallRecord, CallType};
use super::{ErrorKind, HistoryError, HistoryWarning};

/// 3.22's header, in its order (§3.1).
pub const HEADER: [&str; 9] = [
    "ID",
    "Type",
    "Name",
    "Number",
    "Timestamp",
    "UTC Time",
    "Local Time",
    "Duration",
    "Info",
];

/// The calls as CSV: 3.22's header and columns, UTF-8 without BOM, CRLF, fields quoted only
/// when needed.
pub fn render(records: &[CallRecord]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(64 + records.len() * 120));
    writer.write_record(HEADER).expect("writing to memory");
    for r in records {
        let (utc, local) = utc_text(r.time);
        writer
            .write_record([
                r.call_id.as_str(),
                &r.call_type.code().to_string(),
                &r.name,
                &r.number,
                &r.time.to_string(),
                &utc,
                &local,
                &r.duration.to_string(),
                &r.info,
            ])
            .expect("writing to memory");
    }
    writer.into_inner().expect("writing to memory")
}

fn invalid(line: u64, message: impl Into<String>) -> HistoryError {
    HistoryError::new(ErrorKind::InvalidInput, None, message).at(line as usize, 1)
}

/// Read a CSV export (3.22's or 3.21's, or ours). Columns are found by header name, as
/// MicroSIP's importer finds them (ignoring case and surrounding blanks here); `Type`, `Name`,
/// `Number` and `Timestamp` (3.21: `Time`) are required, `ID`, `Duration` and `Info` optional.
pub fn parse(bytes: &[u8]) -> Result<(Vec<CallRecord>, Vec<HistoryWarning>), HistoryError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut rows = reader.byte_records();
    let header = match rows.next() {
        None => return Ok((records, warnings)),
        Some(header) => header.map_err(|e| csv_error(body, &e))?,
    };
    let find = |names: &[&str]| {
        header.iter().position(|field| {
            let field = String::from_utf8_lossy(field);
            names.iter().any(|n| field.trim().eq_ignore_ascii_case(n))
        })
    };
    let id = find(&["ID"]);
    let kind = find(&["Type"]);
    let name = find(&["Name"]);
    let number = find(&["Number"]);
    let time = find(&["Timestamp", "Time"]);
    let duration = find(&["Duration"]);
    let info = find(&["Info"]);
    let (Some(kind), Some(name), Some(number), Some(time)) = (kind, name, number, time) else {
        return Err(invalid(
            1,
            "the header lacks Type, Name, Number or Timestamp: not a MicroSIP call-history CSV \
             (expected ID,Type,Name,Number,Timestamp,UTC Time,Local Time,Duration,Info)",
        ));
    };
    let mut without_id = 0usize;
    let mut lines = Lines::new(body);
    for row in rows {
        let row = row.map_err(|e| csv_error(body, &e))?;
        let line = row.position().map_or(0, |p| lines.line_of(p.byte()));
        if row.len() == 1 && row.get(0).is_some_and(<[u8]>::is_empty) {
            continue;
        }
        let field = |index: usize, what: &str| -> Result<String, HistoryError> {
            match row.get(index) {
                None => Ok(String::new()),
                Some(bytes) => String::from_utf8(bytes.to_vec())
                    .map_err(|_| invalid(line, format!("{what} is not valid UTF-8"))),
            }
        };
        let type_text = field(kind, "Type")?;
        let call_type = CallType::parse(&type_text).ok_or_else(|| {
            invalid(
                line,
                format!("Type {type_text:?} is none of 0..3, outgoing, incoming, missed, answered_elsewhere, out, in, miss, else"),
            )
        })?;
        let integer = |text: String, what: &str, default: Option<i64>| {
            let trimmed = text.trim();
            match (trimmed.is_empty(), default) {
                (true, Some(d)) => Ok(d),
                _ => trimmed
                    .parse::<i64>()
                    .map_err(|_| invalid(line, format!("{what} {text:?} is not an integer"))),
            }
        };
        let mut record = CallRecord {
            call_id: match id {
                Some(i) => field(i, "ID")?,
                None => String::new(),
            },
            number: field(number, "Number")?,
            name: field(name, "Name")?,
            call_type,
            time: integer(field(time, "Timestamp")?, "Timestamp", None)?,
            duration: match duration {
                Some(i) => integer(field(i, "Duration")?, "Duration", Some(0))?,
                None => 0,
            },
            info: match info {
                Some(i) => field(i, "Info")?,
                None => String::new(),
            },
        };
        if record.call_id.is_empty() {
            without_id += 1;
            record.call_id = content_call_id(&record);
        }
        records.push(record);
    }
    if without_id > 0 {
        warnings.push(HistoryWarning::new(format!(
            "{without_id} row(s) have no ID (a MicroSIP 3.21 export has none): their call ids \
             are derived from their content, so importing the file again skips them"
        )));
    }
    Ok((records, warnings))
}

fn csv_error(body: &[u8], error: &csv::Error) -> HistoryError {
    let line = error.position().map_or(1, |p| line_of(body, p.byte()));
    invalid(line, format!("malformed CSV: {error}"))
}

/// The 1-based line of the record starting at byte `at`. (csv's own line count is off by one
/// with CRLF: it reports the `\n` after a record as the next record's start.)
fn line_of(body: &[u8], at: u64) -> u64 {
    Lines::new(body).line_of(at)
}

/// Line numbers of increasing byte offsets, counted incrementally (linear in the file).
struct Lines<'a> {
    body: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(body: &'a [u8]) -> Lines<'a> {
        Lines {
            body,
            at: 0,
            line: 1,
        }
    }

    fn line_of(&mut self, at: u64) -> u64 {
        let mut at = (at as usize).min(self.body.len());
        while at < self.body.len() && matches!(self.body[at], b'\r' | b'\n') {
            at += 1;
        }
        if at < self.at {
            *self = Lines::new(self.body);
        }
        self.line += self.body[self.at..at]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.at = at;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_quotes_and_line_breaks() {
        let records = vec![CallRecord {
            call_id: "a,b".into(),
            number: "100".into(),
            name: "Tom \"T\" Jerry\r\nsecond line".into(),
            call_type: CallType::Missed,
            time: 1_767_261_600,
            duration: 3,
            info: "".into(),
        }];
        let bytes = render(&records);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(
                "ID,Type,Name,Number,Timestamp,UTC Time,Local Time,Duration,Info\r\n\"a,b\",2,"
            ),
            "{text}"
        );
        assert!(text.contains(",1767261600,2026-01-01T10:00:00Z,2026-01-01 10:00:00,3,\r\n"));
        assert_eq!(parse(&bytes).unwrap().0, records);
    }

    #[test]
    fn reads_microsip_exports() {
        let v322 = "\u{FEFF}ID,Type,Name,Number,Timestamp,UTC Time,Local Time,Duration,Info\r\nabc,answered_elsewhere,Anna,100,1767261600,x,y,5,Busy\r\n";
        let (records, warnings) = parse(v322.as_bytes()).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(records[0].call_type, CallType::AnsweredElsewhere);
        assert_eq!(records[0].call_id, "abc");
        let v321 = "Type,Name,Number,Time,Duration,Info\r\nmiss,Anna,100,1767261600,0,\r\n";
        let (records, warnings) = parse(v321.as_bytes()).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(records[0].call_id.starts_with("content:"));
    }

    #[test]
    fn errors_name_the_line() {
        let bad = "ID,Type,Name,Number,Timestamp\r\na,0,A,1,5\r\nb,9,B,2,6\r\n";
        let err = parse(bad.as_bytes()).unwrap_err();
        assert_eq!(err.position, Some((3, 1)));
        // A quoted field spanning lines does not shift the count.
        let bad = "ID,Type,Name,Number,Timestamp\r\na,0,\"two\r\nlines\",1,5\r\nb,0,B,2,x\r\n";
        let err = parse(bad.as_bytes()).unwrap_err();
        assert_eq!(err.position, Some((4, 1)), "{}", err.message);
        let err = parse(b"a,b\r\n").unwrap_err();
        assert_eq!(err.position, Some((1, 1)));
    }
}
