//! The call-history XML export, read and edited losslessly.
//!
//! MicroSIP 3.21 exports history as `<calls><call type name number time duration info/></calls>`
//! with `type` spelled `out`/`in`/`miss`/`else` (C:Calls.cpp `OnMenuExport`,
//! `microsip-formats.md` §3.2), through CMarkup: the ASCII declaration `<?xml version="1.0"?>`
//! and CRLF, then UTF-8 without BOM, one element per line with no indentation, attributes in
//! that order, exactly `< & > ' "` escaped, and `<calls/>` when empty (the same writer as
//! Contacts.xml, §2.1). [`render`] writes that shape plus our `callId` attribute last (MicroSIP
//! ignores unknown attributes); `\t`, `\n` and `\r` inside a value are written as character
//! references so that other XML readers, which normalise raw line breaks in attributes to
//! spaces, read the same value (MicroSIP never reads this file back, so no MicroSIP reader is
//! affected).
//!
//! [`CallsXml`] is the lossless layer (built on quick-xml's tokenizer, independent of the
//! contacts module): it keeps the file's text and the byte span of every `<call>` element.
//! Writing an unchanged document returns the original bytes; an edit ([`CallsXml::retain`],
//! [`CallsXml::push`], [`CallsXml::set`]) re-spells only the elements it touches, so
//! declarations, comments, unknown elements and attributes, quoting and line endings of the
//! rest survive.

use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::record::{content_call_id, CallRecord, CallType};
use super::{line_col, ErrorKind, HistoryError, HistoryWarning};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// MicroSIP's declaration line (§2.1, §3.2).
pub const DECLARATION: &str = "<?xml version=\"1.0\"?>\r\n";

/// Escape an attribute value: the five characters CMarkup escapes (§2.1), plus tab, line feed
/// and carriage return as character references (see the module notes).
pub fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// One `<call …/>` element as MicroSIP's export writes it, plus `callId`.
pub fn element(record: &CallRecord, out: &mut String) {
    out.push_str("<call type=\"");
    out.push_str(record.call_type.xml_name());
    out.push_str("\" name=\"");
    escape(&record.name, out);
    out.push_str("\" number=\"");
    escape(&record.number, out);
    out.push_str("\" time=\"");
    out.push_str(&record.time.to_string());
    out.push_str("\" duration=\"");
    out.push_str(&record.duration.to_string());
    out.push_str("\" info=\"");
    escape(&record.info, out);
    out.push_str("\" callId=\"");
    escape(&record.call_id, out);
    out.push_str("\"/>");
}

/// A new export of `records`, in MicroSIP's byte layout.
pub fn render(records: &[CallRecord]) -> Vec<u8> {
    let mut out = String::with_capacity(64 + records.len() * 160);
    out.push_str(DECLARATION);
    if records.is_empty() {
        out.push_str("<calls/>\r\n");
        return out.into_bytes();
    }
    out.push_str("<calls>\r\n");
    for record in records {
        element(record, &mut out);
        out.push_str("\r\n");
    }
    out.push_str("</calls>\r\n");
    out.into_bytes()
}

/// One `<call>` element of a parsed document.
#[derive(Debug, Clone)]
struct XmlCall {
    /// Byte span of the whole element in the text (`<call …/>` or `<call …>…</call>`).
    span: Range<usize>,
    /// The record as read.
    record: CallRecord,
    /// `None`: unchanged. `Some(None)`: removed. `Some(Some(r))`: replaced by `r`.
    edit: Option<Option<CallRecord>>,
}

impl XmlCall {
    fn current(&self) -> Option<&CallRecord> {
        match &self.edit {
            None => Some(&self.record),
            Some(edit) => edit.as_ref(),
        }
    }
}

/// The `<calls>` root's position.
#[derive(Debug, Clone)]
struct Root {
    /// Span of the start tag (`<calls>` or `<calls/>`).
    start: Range<usize>,
    /// Span of `</calls>`; `None` for `<calls/>`.
    end: Option<Range<usize>>,
}

/// A parsed call-history XML file that writes itself back byte for byte.
#[derive(Debug, Clone)]
pub struct CallsXml {
    bom: bool,
    text: String,
    root: Root,
    calls: Vec<XmlCall>,
    appended: Vec<CallRecord>,
    warnings: Vec<HistoryWarning>,
}

impl Default for CallsXml {
    fn default() -> Self {
        CallsXml::parse(&render(&[])).expect("our own empty export parses")
    }
}

fn invalid(text: &str, offset: usize, message: impl Into<String>) -> HistoryError {
    let (line, column) = line_col(text, offset);
    HistoryError::new(ErrorKind::InvalidInput, None, message).at(line, column)
}

impl CallsXml {
    /// An empty export (`<calls/>`), as MicroSIP writes one.
    pub fn new() -> CallsXml {
        CallsXml::default()
    }

    /// Parse a file's bytes: UTF-8, with or without a BOM. Errors carry the line and column.
    pub fn parse(bytes: &[u8]) -> Result<CallsXml, HistoryError> {
        let (bom, body) = match bytes.strip_prefix(UTF8_BOM) {
            Some(rest) => (true, rest),
            None => (false, bytes),
        };
        if body.starts_with(b"\xFF\xFE") || body.starts_with(b"\xFE\xFF") {
            return Err(HistoryError::new(
                ErrorKind::InvalidInput,
                None,
                "is UTF-16; call-history XML is UTF-8 (MicroSIP writes UTF-8, §2.1)",
            )
            .at(1, 1));
        }
        let text = match std::str::from_utf8(body) {
            Ok(text) => text.to_string(),
            Err(e) => {
                let valid = std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default();
                return Err(invalid(valid, valid.len(), "is not valid UTF-8 here"));
            }
        };
        let mut document = CallsXml {
            bom,
            text: String::new(),
            root: Root {
                start: 0..0,
                end: None,
            },
            calls: Vec::new(),
            appended: Vec::new(),
            warnings: Vec::new(),
        };
        document.scan(&text)?;
        document.text = text;
        Ok(document)
    }

    fn scan(&mut self, text: &str) -> Result<(), HistoryError> {
        let mut reader = Reader::from_str(text);
        let mut depth = 0usize;
        let mut root: Option<Root> = None;
        let mut open_call: Option<(usize, CallRecord)> = None;
        let mut unknown_reported = false;
        let mut without_id = 0usize;
        loop {
            let before = reader.buffer_position() as usize;
            let event = reader.read_event().map_err(|e| {
                invalid(
                    text,
                    reader.error_position() as usize,
                    format!("malformed XML: {e}"),
                )
            })?;
            let after = reader.buffer_position() as usize;
            match event {
                Event::Start(tag) | Event::Empty(tag) if depth == 0 => {
                    let empty = after > before && text[before..after].ends_with("/>");
                    if root.is_some() {
                        return Err(invalid(
                            text,
                            before,
                            "a second root element; expected one <calls>",
                        ));
                    }
                    if tag.name().as_ref() != "calls" {
                        return Err(invalid(
                            text,
                            before,
                            format!(
                                "the root element is <{}>, not <calls>: not a call-history export",
                                tag.name().as_ref()
                            ),
                        ));
                    }
                    root = Some(Root {
                        start: before..after,
                        end: None,
                    });
                    if !empty {
                        depth = 1;
                    }
                }
                Event::Empty(tag) if depth == 1 && tag.name().as_ref() == "call" => {
                    let record = self.record(text, before, &tag, &mut without_id)?;
                    self.calls.push(XmlCall {
                        span: before..after,
                        record,
                        edit: None,
                    });
                }
                Event::Start(tag) => {
                    if depth == 1 && tag.name().as_ref() == "call" {
                        let record = self.record(text, before, &tag, &mut without_id)?;
                        open_call = Some((before, record));
                    } else if !unknown_reported {
                        unknown_reported = true;
                        self.unknown(text, before, tag.name().as_ref());
                    }
                    depth += 1;
                }
                Event::Empty(tag) if !unknown_reported => {
                    unknown_reported = true;
                    self.unknown(text, before, tag.name().as_ref());
                }
                Event::End(_) => {
                    depth -= 1;
                    if depth == 1 {
                        if let Some((start, record)) = open_call.take() {
                            self.calls.push(XmlCall {
                                span: start..after,
                                record,
                                edit: None,
                            });
                        }
                    } else if depth == 0 {
                        if let Some(root) = root.as_mut() {
                            root.end = Some(before..after);
                        }
                    }
                }
                Event::Text(t)
                    if depth == 0 && !t.as_ref().bytes().all(|b| b.is_ascii_whitespace()) =>
                {
                    return Err(invalid(text, before, "text outside the <calls> element"));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if depth > 0 {
            return Err(invalid(
                text,
                text.len(),
                "the document ends inside an element",
            ));
        }
        self.root =
            root.ok_or_else(|| invalid(text, 0, "no <calls> element: not a call-history export"))?;
        if without_id > 0 {
            self.warnings.push(HistoryWarning::new(format!(
                "{without_id} call(s) carry no callId attribute (a MicroSIP export has none): \
                 their ids are derived from their content, so importing the file again skips them"
            )));
        }
        Ok(())
    }

    fn unknown(&mut self, text: &str, offset: usize, name: &str) {
        let (line, _) = line_col(text, offset);
        self.warnings.push(HistoryWarning::at_line(
            Some(line),
            format!("<{name}> is not part of a call-history export; ignored (and kept)"),
        ));
    }

    fn record(
        &mut self,
        text: &str,
        offset: usize,
        tag: &BytesStart<'_>,
        without_id: &mut usize,
    ) -> Result<CallRecord, HistoryError> {
        let mut fields: [Option<String>; 7] = Default::default();
        const NAMES: [&str; 7] = [
            "callId", "number", "name", "type", "time", "duration", "info",
        ];
        for attribute in tag.attributes() {
            let attribute = attribute
                .map_err(|e| invalid(text, offset, format!("malformed attribute: {e}")))?;
            let key = attribute.key.as_ref();
            if let Some(i) = NAMES.iter().position(|n| *n == key) {
                let value = quick_xml::escape::unescape(&attribute.value)
                    .map_err(|e| invalid(text, offset, format!("attribute {key}: {e}")))?;
                fields[i] = Some(value.into_owned());
            }
        }
        let [call_id, number, name, kind, time, duration, info] = fields;
        let kind = kind.ok_or_else(|| invalid(text, offset, "<call> has no type attribute"))?;
        let call_type = CallType::parse(&kind).ok_or_else(|| {
            invalid(
                text,
                offset,
                format!("type {kind:?} is none of out, in, miss, else (or 0..3)"),
            )
        })?;
        let integer =
            |what: &str, value: Option<String>, default: Option<i64>| match (value, default) {
                (Some(v), _) => v
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| invalid(text, offset, format!("{what} {v:?} is not an integer"))),
                (None, Some(d)) => Ok(d),
                (None, None) => Err(invalid(
                    text,
                    offset,
                    format!("<call> has no {what} attribute"),
                )),
            };
        let mut record = CallRecord {
            call_id: String::new(),
            number: number.unwrap_or_default(),
            name: name.unwrap_or_default(),
            call_type,
            time: integer("time", time, None)?,
            duration: integer("duration", duration, Some(0))?,
            info: info.unwrap_or_default(),
        };
        match call_id.filter(|id| !id.is_empty()) {
            Some(id) => record.call_id = id,
            None => {
                *without_id += 1;
                record.call_id = content_call_id(&record);
            }
        }
        Ok(record)
    }

    /// The calls, in document order, edits included.
    pub fn records(&self) -> Vec<CallRecord> {
        self.calls
            .iter()
            .filter_map(XmlCall::current)
            .chain(self.appended.iter())
            .cloned()
            .collect()
    }

    /// Number of calls, edits included.
    pub fn len(&self) -> usize {
        self.calls.iter().filter(|c| c.current().is_some()).count() + self.appended.len()
    }

    /// Whether there are no calls.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the reader noticed (calls without `callId`, unknown elements).
    pub fn warnings(&self) -> &[HistoryWarning] {
        &self.warnings
    }

    /// Whether anything was edited.
    pub fn is_modified(&self) -> bool {
        !self.appended.is_empty() || self.calls.iter().any(|c| c.edit.is_some())
    }

    /// Keep only the calls for which `keep` is true; returns how many were removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&CallRecord) -> bool) -> usize {
        let mut removed = 0;
        for call in &mut self.calls {
            if let Some(current) = call.current() {
                if !keep(current) {
                    call.edit = Some(None);
                    removed += 1;
                }
            }
        }
        let before = self.appended.len();
        self.appended.retain(|r| keep(r));
        removed + before - self.appended.len()
    }

    /// Replace the `index`-th call (in [`CallsXml::records`] order). Setting the same record
    /// again is not an edit. Returns false when there is no such call.
    pub fn set(&mut self, index: usize, record: CallRecord) -> bool {
        let mut live = 0;
        for call in &mut self.calls {
            if call.current().is_some() {
                if live == index {
                    call.edit = (record != call.record).then_some(Some(record));
                    return true;
                }
                live += 1;
            }
        }
        match self.appended.get_mut(index - live) {
            Some(slot) => {
                *slot = record;
                true
            }
            None => false,
        }
    }

    /// Append a call at the end of `<calls>`, formatted like its neighbours.
    pub fn push(&mut self, record: CallRecord) {
        self.appended.push(record);
    }

    /// The line break the document uses (that of its first line; CRLF when it has none).
    fn eol(&self) -> &'static str {
        match self.text.find('\n') {
            Some(i) if i > 0 && self.text.as_bytes()[i - 1] == b'\r' => "\r\n",
            Some(_) => "\n",
            None => "\r\n",
        }
    }

    /// The span to delete for a removed element: its whole line when it stands alone on it.
    fn removal_span(&self, span: &Range<usize>) -> Range<usize> {
        let bytes = self.text.as_bytes();
        let mut start = span.start;
        while start > 0 && matches!(bytes[start - 1], b' ' | b'\t') {
            start -= 1;
        }
        let mut end = span.end;
        while end < bytes.len() && matches!(bytes[end], b' ' | b'\t') {
            end += 1;
        }
        let line_start = start == 0 || bytes[start - 1] == b'\n';
        if line_start && end < bytes.len() && (bytes[end] == b'\n' || bytes[end] == b'\r') {
            if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') {
                end += 2;
            } else {
                end += 1;
            }
            return start..end;
        }
        span.clone()
    }

    /// Indentation and line break to give appended elements: the last element's own.
    fn append_format(&self) -> (String, &'static str) {
        let eol = self.eol();
        let Some(last) = self.calls.last() else {
            return (String::new(), eol);
        };
        let bytes = self.text.as_bytes();
        let mut start = last.span.start;
        while start > 0 && matches!(bytes[start - 1], b' ' | b'\t') {
            start -= 1;
        }
        let indent = self.text[start..last.span.start].to_string();
        let eol = if self.text[last.span.end..].starts_with("\r\n") {
            "\r\n"
        } else if self.text[last.span.end..].starts_with('\n') {
            "\n"
        } else {
            eol
        };
        (indent, eol)
    }

    /// The document's bytes: the original ones when nothing was edited; otherwise the
    /// original with only the edited elements re-spelled.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 3 + self.appended.len() * 160);
        if self.bom {
            out.extend_from_slice(UTF8_BOM);
        }
        if !self.is_modified() {
            out.extend_from_slice(self.text.as_bytes());
            return out;
        }
        let mut edits: Vec<(Range<usize>, String)> = Vec::new();
        for call in &self.calls {
            match &call.edit {
                None => {}
                Some(None) => edits.push((self.removal_span(&call.span), String::new())),
                Some(Some(record)) => {
                    let mut s = String::new();
                    element(record, &mut s);
                    edits.push((call.span.clone(), s));
                }
            }
        }
        if !self.appended.is_empty() {
            let (indent, eol) = self.append_format();
            let mut block = String::new();
            match &self.root.end {
                Some(end) => {
                    // Before `</calls>`, at the start of its line when it has one of its own.
                    let bytes = self.text.as_bytes();
                    let mut at = end.start;
                    while at > 0 && matches!(bytes[at - 1], b' ' | b'\t') {
                        at -= 1;
                    }
                    let own_line = at == 0 || bytes[at - 1] == b'\n';
                    let at = if own_line { at } else { end.start };
                    for record in &self.appended {
                        if !own_line {
                            block.push_str(eol);
                        }
                        block.push_str(&indent);
                        element(record, &mut block);
                        if own_line {
                            block.push_str(eol);
                        }
                    }
                    if !own_line {
                        block.push_str(eol);
                    }
                    edits.push((at..at, block));
                }
                None => {
                    // `<calls/>` (any attributes kept) becomes `<calls …>` + the calls + `</calls>`.
                    let tag = &self.text[self.root.start.clone()];
                    let open = tag.trim_end_matches('>').trim_end_matches('/').trim_end();
                    block.push_str(open);
                    block.push('>');
                    block.push_str(eol);
                    for record in &self.appended {
                        block.push_str(&indent);
                        element(record, &mut block);
                        block.push_str(eol);
                    }
                    block.push_str("</calls>");
                    edits.push((self.root.start.clone(), block));
                }
            }
        }
        edits.sort_by_key(|(range, _)| (range.start, range.end));
        let mut at = 0;
        for (range, replacement) in edits {
            let start = range.start.max(at);
            out.extend_from_slice(&self.text.as_bytes()[at..start]);
            out.extend_from_slice(replacement.as_bytes());
            at = range.end.max(start);
        }
        out.extend_from_slice(&self.text.as_bytes()[at..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<CallRecord> {
        vec![
            CallRecord {
                call_id: "f80f7e5e8314637693ace79555579c6e".into(),
                number: "+4930123456".into(),
                name: "Anna Müller".into(),
                call_type: CallType::Outgoing,
                time: 1_767_261_600,
                duration: 125,
                info: String::new(),
            },
            CallRecord {
                call_id: "c89eb40dece989190fdde540719a3648".into(),
                number: "sip:tj@example.com".into(),
                name: "Tom & Jerry's <Café> \"x\"\r\n\ttab".into(),
                call_type: CallType::AnsweredElsewhere,
                time: 1_767_276_000,
                duration: 0,
                info: "Call completed elsewhere".into(),
            },
        ]
    }

    #[test]
    fn render_is_microsip_shape_and_reads_back() {
        let bytes = render(&sample());
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("<?xml version=\"1.0\"?>\r\n<calls>\r\n<call type=\"out\" name=\"Anna Müller\" number=\"+4930123456\" time=\"1767261600\" duration=\"125\" info=\"\" callId=\"f80f7e5e8314637693ace79555579c6e\"/>\r\n"), "{text}");
        assert!(text.contains(
            "name=\"Tom &amp; Jerry&apos;s &lt;Café&gt; &quot;x&quot;&#13;&#10;&#9;tab\""
        ));
        assert!(text.ends_with("</calls>\r\n"));
        let doc = CallsXml::parse(&bytes).unwrap();
        assert_eq!(doc.records(), sample());
        assert_eq!(doc.to_bytes(), bytes);
        assert_eq!(render(&[]), b"<?xml version=\"1.0\"?>\r\n<calls/>\r\n");
    }

    #[test]
    fn foreign_formatting_survives_and_edits_are_local() {
        let original = "\u{FEFF}<?xml version='1.0' encoding='utf-8'?>\n<!-- archive -->\n<calls exported='yes'>\n  <call type='in' name='A' number=\"1\" time=\"10\" duration=\"2\" info=\"\" extra=\"kept\"/>\n  <call type=\"miss\" name=\"B\" number=\"2\" time=\"20\"></call>\n  <note>hello</note>\n</calls>\n";
        let mut doc = CallsXml::parse(original.as_bytes()).unwrap();
        assert_eq!(doc.to_bytes(), original.as_bytes());
        let records = doc.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].duration, 0);
        assert!(records[1].call_id.starts_with("content:"));
        assert_eq!(doc.warnings().len(), 2, "{:?}", doc.warnings());

        assert_eq!(doc.retain(|r| r.name != "B"), 1);
        let mut new = records[0].clone();
        new.call_id = "x".into();
        new.name = "C".into();
        doc.push(new);
        let text = String::from_utf8(doc.to_bytes()).unwrap();
        assert_eq!(text, "\u{FEFF}<?xml version='1.0' encoding='utf-8'?>\n<!-- archive -->\n<calls exported='yes'>\n  <call type='in' name='A' number=\"1\" time=\"10\" duration=\"2\" info=\"\" extra=\"kept\"/>\n  <note>hello</note>\n  <call type=\"in\" name=\"C\" number=\"1\" time=\"10\" duration=\"2\" info=\"\" callId=\"x\"/>\n</calls>\n");
        let again = CallsXml::parse(text.as_bytes()).unwrap();
        assert_eq!(again.len(), 2);
    }

    #[test]
    fn empty_root_expands_when_calls_are_added() {
        let mut doc = CallsXml::new();
        assert!(doc.is_empty());
        doc.push(sample()[0].clone());
        let bytes = doc.to_bytes();
        assert_eq!(bytes, render(&sample()[..1]));
    }

    #[test]
    fn errors_have_positions() {
        let err = CallsXml::parse(b"<?xml version=\"1.0\"?>\r\n<calls>\r\n<call type=\"sideways\" time=\"1\"/>\r\n</calls>\r\n").unwrap_err();
        assert_eq!(err.position, Some((3, 1)));
        let err = CallsXml::parse(b"<contacts/>").unwrap_err();
        assert!(err.message.contains("not <calls>"), "{}", err.message);
        let err = CallsXml::parse(b"<calls>\n<call type=\"in\" time=\"1\">\n</calls>").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        let err = CallsXml::parse(b"<calls><call type=\"in\" time=\"1\" name=\"a & b\"/></calls>")
            .unwrap_err();
        assert!(err.message.contains("name"), "{}", err.message);
    }

    #[test]
    fn set_replaces_one_element() {
        let bytes = render(&sample());
        let mut doc = CallsXml::parse(&bytes).unwrap();
        assert!(doc.set(0, sample()[0].clone()));
        assert!(!doc.is_modified());
        let mut changed = sample()[0].clone();
        changed.duration = 1;
        assert!(doc.set(0, changed.clone()));
        let expected = render(&[changed, sample()[1].clone()]);
        assert_eq!(doc.to_bytes(), expected);
    }
}
