//! Contacts to and from CSV, JSON and MicroSIP XML: what `contacts export` writes and `contacts
//! import` reads.
//!
//! The three formats carry the same thing: the 17 attributes by their MicroSIP names (CSV header
//! names and JSON keys are the attribute names, in MicroSIP's order, §2.1), then any unknown
//! attributes by their own names. Flags are `1`/`0` in CSV and `true`/`false` in JSON; on import
//! both accept `1`/`0`/`true`/`false` (and an empty CSV cell is `0`). A field that is absent
//! (a CSV column or JSON key missing; an XML attribute missing) is not *given*: importing leaves
//! that field of an existing contact alone. Exporting and importing back therefore changes
//! nothing, and importing an export into an empty profile reproduces every field.

use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::contact::{is_attribute_name, Contact, Field, FieldSet};
use super::document::ContactsDocument;
use super::error::{ContactsError, Warning};

/// A file format of `contacts export` and `contacts import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, a header row of attribute names, UTF-8, CRLF.
    Csv,
    /// An array of objects keyed by attribute name.
    Json,
    /// MicroSIP's own `Contacts.xml`.
    Xml,
}

impl Format {
    /// The format a file name's extension names (`.csv`, `.json`, `.xml`), if any.
    pub fn from_extension(path: &std::path::Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "xml" => Some(Format::Xml),
            _ => None,
        }
    }

    /// Guess from the content: `<` starts XML, `[` or `{` JSON, anything else is CSV.
    pub fn sniff(bytes: &[u8]) -> Format {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'<') => Format::Xml,
            Some(b'[') | Some(b'{') => Format::Json,
            _ => Format::Csv,
        }
    }
}

/// One contact read from an import file, with the fields the file actually gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    /// The contact (fields not given are empty / `false`).
    pub contact: Contact,
    /// Which of the 17 fields the file gives; unknown attributes in `contact.extra` are always
    /// given.
    pub given: FieldSet,
    /// 1-based line in the file, where known (CSV, XML).
    pub line: Option<usize>,
    /// 0-based position among the file's records.
    pub index: usize,
}

impl ContactRecord {
    /// "line 4" or "contact #3", for messages.
    pub fn location(&self) -> String {
        match self.line {
            Some(line) => format!("line {line}"),
            None => format!("contact #{}", self.index + 1),
        }
    }
}

/// An import file that cannot be read. Nothing is written after one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", position_suffix(*.line, *.column))]
pub struct ExchangeError {
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// 1-based column, where known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

fn position_suffix(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" (line {line}, column {column})"),
        (Some(line), None) => format!(" (line {line})"),
        _ => String::new(),
    }
}

impl ExchangeError {
    fn new(line: Option<usize>, column: Option<usize>, message: impl Into<String>) -> Self {
        ExchangeError {
            line,
            column,
            message: message.into(),
        }
    }
}

impl From<ContactsError> for ExchangeError {
    fn from(e: ContactsError) -> Self {
        ExchangeError::new(Some(e.line), Some(e.column), e.kind.to_string())
    }
}

/// Read an import file in `format`. Records without a number are skipped with a warning
/// (MicroSIP drops such contacts, §2.2).
pub fn read(
    bytes: &[u8],
    format: Format,
) -> Result<(Vec<ContactRecord>, Vec<Warning>), ExchangeError> {
    match format {
        Format::Csv => read_csv(bytes),
        Format::Json => read_json(bytes),
        Format::Xml => read_xml(bytes),
    }
}

/// Write contacts in `format`. XML is a MicroSIP file holding exactly these contacts in
/// MicroSIP's default order ([`to_microsip_xml`]).
pub fn write(contacts: &[Contact], format: Format) -> Vec<u8> {
    match format {
        Format::Csv => write_csv(contacts),
        Format::Json => write_json(contacts),
        Format::Xml => to_microsip_xml(contacts),
    }
}

/// The names of the unknown attributes of `contacts`, in first-seen order.
fn extra_names(contacts: &[Contact]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for contact in contacts {
        for (name, _) in &contact.extra {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    names
}

/// CSV: a header row (the 17 attribute names, then unknown attribute names), one row per
/// contact, flags as `1`/`0`, UTF-8 without BOM, CRLF (RFC 4180). An unknown attribute a
/// contact does not have is an empty cell.
pub fn write_csv(contacts: &[Contact]) -> Vec<u8> {
    let extras = extra_names(contacts);
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let header = Field::ALL
        .iter()
        .map(|f| f.attribute())
        .chain(extras.iter().copied());
    writer.write_record(header).expect("writing to memory");
    for contact in contacts {
        let row = Field::ALL
            .iter()
            .map(|&f| contact.get(f))
            .chain(extras.iter().map(|name| contact.extra(name).unwrap_or("")));
        writer.write_record(row).expect("writing to memory");
    }
    writer.into_inner().expect("writing to memory")
}

/// JSON: an array of objects, the 17 attributes by name (flags as booleans) then unknown
/// attributes, pretty-printed, with a final newline.
pub fn write_json(contacts: &[Contact]) -> Vec<u8> {
    let rows: Vec<JsonContact<'_>> = contacts.iter().map(JsonContact).collect();
    let mut bytes = serde_json::to_vec_pretty(&rows).expect("contacts serialise");
    bytes.push(b'\n');
    bytes
}

/// A contact as a JSON object in MicroSIP's attribute order.
struct JsonContact<'a>(&'a Contact);

impl Serialize for JsonContact<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let contact = self.0;
        let mut map = serializer.serialize_map(Some(17 + contact.extra.len()))?;
        for field in Field::ALL {
            match contact.flag(field) {
                Some(flag) => map.serialize_entry(field.attribute(), &flag)?,
                None => map.serialize_entry(field.attribute(), contact.get(field))?,
            }
        }
        for (name, value) in &contact.extra {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Contacts as MicroSIP would save them: [`super::MICROSIP_EMPTY`] with each contact added in
/// MicroSIP's default order.
pub fn to_microsip_xml(contacts: &[Contact]) -> Vec<u8> {
    let mut document = ContactsDocument::new_empty();
    for contact in contacts {
        if contact.number.is_empty() {
            continue;
        }
        let _ = document.add(contact.clone());
    }
    document.to_bytes()
}

/// A flag from an import file: `1`/`true` is set, `0`/`false`/empty is not.
fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" | "" => Some(false),
        _ => None,
    }
}

enum Column {
    Field(Field),
    Extra(String),
}

/// The column a header names: one of the 17 (any case), else an unknown attribute.
fn column_for(header: &str) -> Option<Column> {
    if let Some(field) = Field::ALL
        .into_iter()
        .find(|f| f.attribute().eq_ignore_ascii_case(header))
    {
        return Some(Column::Field(field));
    }
    is_attribute_name(header).then(|| Column::Extra(header.to_string()))
}

fn read_csv(bytes: &[u8]) -> Result<(Vec<ContactRecord>, Vec<Warning>), ExchangeError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // The line of a record's byte offset, counted here: csv's positions (and so its line
    // numbers) point at the previous record's line break when lines end in CRLF.
    let line_of = |byte: u64| {
        let mut end = (byte as usize).min(body.len());
        while end < body.len() && matches!(body[end], b'\r' | b'\n') {
            end += 1;
        }
        body[..end].iter().filter(|&&b| b == b'\n').count() + 1
    };
    let csv_error = |e: csv::Error| {
        let line = e.position().map(|p| line_of(p.byte()));
        let message = match e.kind() {
            csv::ErrorKind::Utf8 { .. } => "invalid UTF-8 (save the CSV as UTF-8)".to_string(),
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("{len} fields, but the header has {expected_len}"),
            _ => e.to_string(),
        };
        ExchangeError::new(line, None, message)
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let mut columns = Vec::with_capacity(headers.len());
    let mut given = FieldSet::EMPTY;
    for (i, header) in headers.iter().enumerate() {
        let column = column_for(header).ok_or_else(|| {
            ExchangeError::new(
                Some(1),
                Some(i + 1),
                format!(
                    "the header {header:?} is neither one of MicroSIP's attributes ({}) nor an \
                     attribute name",
                    Field::ALL.map(|f| f.attribute()).join(", ")
                ),
            )
        })?;
        let duplicate = match &column {
            Column::Field(f) => given.contains(*f),
            Column::Extra(name) => headers.iter().take(i).any(|h| h == name),
        };
        if duplicate {
            return Err(ExchangeError::new(
                Some(1),
                Some(i + 1),
                format!("the column {header:?} appears twice"),
            ));
        }
        if let Column::Field(f) = column {
            given.insert(f);
        }
        columns.push(column);
    }
    if !given.contains(Field::Number) {
        return Err(ExchangeError::new(
            Some(1),
            None,
            "no `number` column: contacts are matched by number",
        ));
    }
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    for result in reader.records() {
        let row = result.map_err(csv_error)?;
        let line = row.position().map_or(0, |p| line_of(p.byte()));
        let mut contact = Contact::default();
        for (i, (column, value)) in columns.iter().zip(row.iter()).enumerate() {
            match column {
                Column::Field(field) if field.is_flag() => {
                    let flag = parse_flag(value).ok_or_else(|| {
                        ExchangeError::new(
                            Some(line),
                            Some(i + 1),
                            format!("`{field}` is {value:?}; write 1 or 0"),
                        )
                    })?;
                    contact.set_flag(*field, flag);
                }
                Column::Field(field) => contact.set(*field, value),
                // An empty cell is "no such attribute": the export writes one for contacts
                // without it.
                Column::Extra(_) if value.is_empty() => {}
                Column::Extra(name) => contact.extra.push((name.clone(), value.to_string())),
            }
        }
        if contact.number.is_empty() {
            warnings.push(Warning {
                line,
                column: 1,
                message: "no number: skipped (MicroSIP drops contacts without one)".into(),
            });
            continue;
        }
        check_record(&contact, Some(line), records.len())?;
        records.push(ContactRecord {
            contact,
            given,
            line: Some(line),
            index: records.len(),
        });
    }
    Ok((records, warnings))
}

/// Refuse values MicroSIP could not hold (a NUL cuts its C strings).
fn check_record(contact: &Contact, line: Option<usize>, index: usize) -> Result<(), ExchangeError> {
    let nul = Field::ALL
        .iter()
        .map(|f| (f.attribute(), contact.get(*f)))
        .chain(contact.extra.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .find(|(_, v)| v.contains('\0'));
    if let Some((name, _)) = nul {
        let location = line.map_or(format!("contact #{}: ", index + 1), |_| String::new());
        return Err(ExchangeError::new(
            line,
            None,
            format!("{location}`{name}` contains a NUL character, which MicroSIP cannot store"),
        ));
    }
    Ok(())
}

/// A JSON object with its keys in file order (serde_json's own map sorts them).
struct OrderedObject(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a contact object keyed by attribute name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push((key, value));
                }
                Ok(OrderedObject(entries))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// The top level: an array of contact objects.
struct ContactArray(Vec<OrderedObject>);

impl<'de> Deserialize<'de> for ContactArray {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArrayVisitor;
        impl<'de> Visitor<'de> for ArrayVisitor {
            type Value = ContactArray;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an array of contact objects (as `contacts export --format json` writes)",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ContactArray, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<OrderedObject>()? {
                    items.push(item);
                }
                Ok(ContactArray(items))
            }
        }
        deserializer.deserialize_seq(ArrayVisitor)
    }
}

fn read_json(bytes: &[u8]) -> Result<(Vec<ContactRecord>, Vec<Warning>), ExchangeError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let array: ContactArray = serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m)
            .to_string();
        ExchangeError::new(Some(e.line()), Some(e.column()), message)
    })?;
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    for (index, object) in array.0.into_iter().enumerate() {
        let at = |message: String| {
            ExchangeError::new(None, None, format!("contact #{}: {message}", index + 1))
        };
        let mut contact = Contact::default();
        let mut given = FieldSet::EMPTY;
        let mut seen: Vec<String> = Vec::new();
        for (key, value) in object.0 {
            if seen.contains(&key) {
                return Err(at(format!("the key {key:?} appears twice")));
            }
            seen.push(key.clone());
            let column = column_for(&key).ok_or_else(|| {
                at(format!(
                    "the key {key:?} is neither one of MicroSIP's attributes nor an attribute name"
                ))
            })?;
            match column {
                Column::Field(field) if field.is_flag() => {
                    let flag = match &value {
                        serde_json::Value::Null => continue,
                        serde_json::Value::Bool(b) => Some(*b),
                        serde_json::Value::Number(n) => match n.as_u64() {
                            Some(1) => Some(true),
                            Some(0) => Some(false),
                            _ => None,
                        },
                        serde_json::Value::String(s) => parse_flag(s),
                        _ => None,
                    }
                    .ok_or_else(|| at(format!("`{field}` is {value}; write true or false")))?;
                    contact.set_flag(field, flag);
                    given.insert(field);
                }
                Column::Field(field) => {
                    let Some(text) = json_text(&value)
                        .map_err(|kind| at(format!("`{field}` is {kind}; write a string")))?
                    else {
                        continue;
                    };
                    contact.set(field, &text);
                    given.insert(field);
                }
                Column::Extra(name) => {
                    let Some(text) = json_text(&value)
                        .map_err(|kind| at(format!("`{name}` is {kind}; write a string")))?
                    else {
                        continue;
                    };
                    contact.extra.push((name, text));
                }
            }
        }
        if contact.number.is_empty() {
            warnings.push(Warning {
                line: 0,
                column: 0,
                message: format!(
                    "contact #{}: no number: skipped (MicroSIP drops contacts without one)",
                    index + 1
                ),
            });
            continue;
        }
        check_record(&contact, None, index)?;
        records.push(ContactRecord {
            contact,
            given,
            line: None,
            index,
        });
    }
    Ok((records, warnings))
}

/// A JSON value as attribute text: strings as they are, numbers as written, `null` as absent.
fn json_text(value: &serde_json::Value) -> Result<Option<String>, &'static str> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        serde_json::Value::Bool(_) => Err("a boolean"),
        serde_json::Value::Array(_) => Err("an array"),
        serde_json::Value::Object(_) => Err("an object"),
    }
}

fn read_xml(bytes: &[u8]) -> Result<(Vec<ContactRecord>, Vec<Warning>), ExchangeError> {
    let document = ContactsDocument::parse(bytes)?;
    let records = document
        .contacts_with_lines()
        .into_iter()
        .enumerate()
        .map(|(index, (contact, given, line))| ContactRecord {
            contact,
            given,
            line: Some(line),
            index,
        })
        .collect();
    Ok((records, document.warnings()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Contact> {
        let mut a = Contact::new("+4930123456", "Anna Müller");
        a.starred = true;
        a.comment = "line1\r\nline2, \"quoted\"".into();
        a.extra.push(("x-crm".into(), "42".into()));
        let mut b = Contact::new("8001", "李雷 😀");
        b.presence = true;
        b.info = "Ready".into();
        vec![a, b]
    }

    #[test]
    fn csv_round_trip() {
        let contacts = sample();
        let bytes = write_csv(&contacts);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(
            "name,number,firstname,lastname,phone,mobile,email,address,city,state,zip,comment,id,info,presence,starred,directory,x-crm\r\n"
        ));
        let (records, warnings) = read(&bytes, Format::Csv).unwrap();
        assert!(warnings.is_empty());
        let back: Vec<Contact> = records.iter().map(|r| r.contact.clone()).collect();
        assert_eq!(back, contacts);
        assert_eq!(records[0].given, FieldSet::ALL);
        assert_eq!(records[1].line, Some(4), "the quoted CRLF spans two lines");
    }

    #[test]
    fn json_round_trip_keeps_extra_order() {
        let mut contacts = sample();
        contacts[1].extra = vec![("zz".into(), "1".into()), ("aa".into(), "2".into())];
        let bytes = write_json(&contacts);
        let (records, _) = read(&bytes, Format::Json).unwrap();
        let back: Vec<Contact> = records.iter().map(|r| r.contact.clone()).collect();
        assert_eq!(back, contacts);
    }

    #[test]
    fn partial_csv_gives_only_its_columns() {
        let (records, warnings) = read(
            b"\xEF\xBB\xBFNumber,name,starred\r\n100,Front desk,true\r\n,nobody,0\r\n",
            Format::Csv,
        )
        .unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, 3);
        let r = &records[0];
        assert!(r.contact.starred);
        assert_eq!(
            r.given,
            [Field::Number, Field::Name, Field::Starred]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn bad_inputs_have_positions() {
        let e = read(b"number,starred\r\n1,yes\r\n", Format::Csv).unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(2)));
        let e = read(b"name\r\nx\r\n", Format::Csv).unwrap_err();
        assert!(e.message.contains("number"), "{e}");
        let e = read(b"number,bad name\r\n1,x\r\n", Format::Csv).unwrap_err();
        assert_eq!(e.column, Some(2));
        let e = read(b"[\n{\"number\": \"1\",\n \"name\": }]", Format::Json).unwrap_err();
        assert_eq!(e.line, Some(3));
        let e = read(
            b"[{\"number\": \"1\", \"starred\": \"maybe\"}]",
            Format::Json,
        )
        .unwrap_err();
        assert!(
            e.message.contains("contact #1") && e.message.contains("starred"),
            "{e}"
        );
        let e = read(b"{\"number\": \"1\"}", Format::Json).unwrap_err();
        assert!(e.message.contains("array"), "{e}");
    }

    #[test]
    fn sniffing() {
        assert_eq!(Format::sniff(b"\xEF\xBB\xBF <?xml"), Format::Xml);
        assert_eq!(Format::sniff(b"\n[ {"), Format::Json);
        assert_eq!(Format::sniff(b"number,name"), Format::Csv);
    }
}
