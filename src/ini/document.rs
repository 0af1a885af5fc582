//! The lossless INI document: every line keeps its own bytes, Win32 semantics on top.
//!
//! Modelled on `toml_edit`: each line keeps its original representation (the exact bytes it had
//! in the file, terminator included) beside its meaning (header, entry, comment, ...). Printing an
//! unmodified document copies those bytes back, so a no-op round trip is byte-identical for every
//! input that decodes. An edit re-spells only the line it touches, and only that line's value text:
//! the key's spelling, the indentation, the spacing around `=` and the terminator stay.
//!
//! Lookups follow `GetPrivateProfileStringW` on Windows (`win32-ini-rules.md`): first section
//! block wins, first key wins, names are case-insensitive, blanks are trimmed, one pair of
//! matching outer quotes is removed, only lines starting with `;` are comments, the first `=`
//! splits, a section name ends at the first `]`, a header without `]` still opens a section,
//! `[]` is section `""`, and keys before the first header are unreachable.

use std::ops::Range;

use serde::Serialize;

use super::codec::{self, CodePage, DecodeError, Encoding, Eol, ForeignBom, Unrepresentable};

/// Blanks the profile API trims around names and values and skips before `;` and `[`
/// (`win32-ini-rules.md`, rule 5: space, tab and `\v`).
const BLANKS: &[char] = &[' ', '\t', '\u{0B}'];

/// Windows returns a value of 65,536 UTF-16 units or more as its length modulo 65,536
/// (`win32-ini-rules.md`, rule 9).
pub const WIN32_VALUE_WRAP: usize = 65_536;

/// What a line means to the profile API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// Only blanks.
    Blank,
    /// First non-blank character is `;` (never matches, not even as key `;key`: rule 5).
    Comment,
    /// First non-blank character is `[`; `name` is the trimmed text up to the first `]`.
    Header { name: Range<usize> },
    /// `key=value`: `key` trimmed, `value` is the trimmed raw value (quotes included).
    Entry {
        key: Range<usize>,
        value: Range<usize>,
    },
    /// Anything else (a line without `=`): ignored by lookups, kept byte for byte.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub text: String,
    pub eol: Eol,
    /// Byte range in the source buffer while the line is untouched; `None` once edited or new.
    pub origin: Option<Range<usize>>,
    pub kind: LineKind,
}

impl Line {
    fn new(text: String, eol: Eol) -> Line {
        let kind = classify(&text);
        Line {
            text,
            eol,
            origin: None,
            kind,
        }
    }

    pub(crate) fn header_name(&self) -> Option<&str> {
        match &self.kind {
            LineKind::Header { name } => Some(&self.text[name.clone()]),
            _ => None,
        }
    }

    pub(crate) fn entry(&self) -> Option<(&str, &str)> {
        match &self.kind {
            LineKind::Entry { key, value } => {
                Some((&self.text[key.clone()], &self.text[value.clone()]))
            }
            _ => None,
        }
    }
}

/// One block of lines that starts with a header: `[Name]` and everything up to the next header.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// Folded name for case-insensitive comparison.
    pub folded: String,
    /// Index of the header line.
    pub header: usize,
    /// One past the last line of the block.
    pub end: usize,
}

fn classify(text: &str) -> LineKind {
    let rest = text.trim_start_matches(BLANKS);
    let indent = text.len() - rest.len();
    match rest.chars().next() {
        None => LineKind::Blank,
        Some(';') => LineKind::Comment,
        Some('[') => {
            // Rule 1: the name ends at the FIRST `]`; rule 2: a header without `]` still opens a
            // section named by the rest of the line, trimmed.
            let inner_start = indent + 1;
            let inner = &text[inner_start..];
            let inner_end = inner.find(']').unwrap_or(inner.len());
            LineKind::Header {
                name: trimmed_range(text, inner_start..inner_start + inner_end),
            }
        }
        Some(_) => match text.find('=') {
            Some(eq) => LineKind::Entry {
                key: trimmed_range(text, 0..eq),
                value: trimmed_range(text, eq + 1..text.len()),
            },
            None => LineKind::Other,
        },
    }
}

/// The sub-range of `text[range]` without leading and trailing blanks. An all-blank range
/// collapses to an empty range at its end.
fn trimmed_range(text: &str, range: Range<usize>) -> Range<usize> {
    let slice = &text[range.clone()];
    let start_trimmed = slice.trim_start_matches(BLANKS);
    let start = range.end - start_trimmed.len();
    let end = start + start_trimmed.trim_end_matches(BLANKS).len();
    start..end
}

/// Remove one pair of matching outer quotes (`"` or `'`), as `GetPrivateProfileStringW` does.
pub(crate) fn unquote(raw: &str) -> &str {
    let bytes = raw.as_bytes();
    if bytes.len() >= 2 {
        let first = bytes[0];
        if (first == b'"' || first == b'\'') && bytes[bytes.len() - 1] == first {
            return &raw[1..raw.len() - 1];
        }
    }
    raw
}

/// The value exactly as Windows returns it: unquoted, and wrapped modulo 65,536 UTF-16 units
/// (rule 9).
fn windows_value(raw: &str) -> String {
    let value = unquote(raw);
    let units = value.encode_utf16().count();
    if units < WIN32_VALUE_WRAP {
        return value.to_string();
    }
    let keep = units % WIN32_VALUE_WRAP;
    let mut taken = 0usize;
    let mut out = String::new();
    for c in value.chars() {
        if taken + c.len_utf16() > keep {
            break;
        }
        taken += c.len_utf16();
        out.push(c);
    }
    out
}

/// Case folding for section and key names. Windows folds beyond ASCII; Wine folds ASCII only,
/// so the oracle corpus avoids non-ASCII case variants (`win32-ini-rules.md`).
pub(crate) fn fold(name: &str) -> String {
    if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        name.to_lowercase()
    }
}

/// `fold(name) == folded`, without allocating for an ASCII name (nearly every INI name): lookups
/// compare many names per call.
pub(crate) fn folds_to(name: &str, folded: &str) -> bool {
    if name.is_ascii() {
        name.len() == folded.len()
            && name
                .bytes()
                .zip(folded.bytes())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
    } else {
        fold(name) == folded
    }
}

/// Lookup arguments are trimmed of spaces only (rule 6): an argument with a tab, `\v`, `\r` or
/// `\n` at an end can never equal a trimmed name from the file, so it is simply not found.
fn fold_argument(name: &str) -> String {
    fold(name.trim_matches(' '))
}

/// Line-ending style of a whole file, as reported by `ini dump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Newline {
    /// Every line break is `\r\n` (or the file has none).
    Crlf,
    /// Every line break is `\n`.
    Lf,
    /// More than one style.
    Mixed,
}

impl Newline {
    /// The name used in `ini dump --format json`.
    pub fn json_name(self) -> &'static str {
        match self {
            Newline::Crlf => "crlf",
            Newline::Lf => "lf",
            Newline::Mixed => "mixed",
        }
    }
}

/// The Windows-visible view of a document: what `ini dump` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IniView {
    /// `"utf-16le"` or `"ansi"`.
    pub encoding: &'static str,
    /// `"crlf"`, `"lf"` or `"mixed"`.
    pub newline: &'static str,
    /// Each section once (first block, first spelling), in file order.
    pub sections: Vec<SectionView>,
}

/// One visible section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionView {
    /// The name as spelled in its first header.
    pub name: String,
    /// Each key once (first occurrence), in file order.
    pub keys: Vec<KeyView>,
}

/// One visible key and the value `GetPrivateProfileStringW` returns for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyView {
    /// The key as spelled at its first occurrence.
    pub name: String,
    /// The value as a lookup returns it.
    pub value: String,
}

/// What [`IniDocument::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// The key already read back as the value: nothing changed.
    Unchanged,
    /// An existing key's value text was replaced in place.
    Updated,
    /// The key was added to an existing section.
    AddedKey,
    /// The section was added at the end of the file, with the key.
    AddedSection,
}

impl SetOutcome {
    /// Whether the document changed.
    pub fn changed(self) -> bool {
        self != SetOutcome::Unchanged
    }
}

/// An edit that cannot be made without changing its meaning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The text contains a line break, which an INI line cannot hold.
    #[error("the {what} {text:?} contains a line break, which an INI line cannot hold")]
    LineBreak {
        /// "section name", "key" or "value".
        what: &'static str,
        /// The offending text.
        text: String,
    },
    /// A name Windows could never look up as given.
    #[error("the {what} {text:?} cannot be written so that Windows reads it back: {why}")]
    BadName {
        /// "section name" or "key".
        what: &'static str,
        /// The offending text.
        text: String,
        /// Why, in a few words.
        why: &'static str,
    },
    /// The file is ANSI and the text does not fit its code page.
    #[error("{0}; convert the file to UTF-16LE first (`microsip-provision ini convert FILE`), which MicroSIP would do itself at its next start")]
    Unrepresentable(#[from] Unrepresentable),
}

/// An INI file held losslessly, read and edited with Win32 semantics.
#[derive(Debug, Clone)]
pub struct IniDocument {
    encoding: Encoding,
    foreign_bom: Option<ForeignBom>,
    source: Vec<u8>,
    pub(crate) lines: Vec<Line>,
    pub(crate) blocks: Vec<Block>,
}

impl Default for IniDocument {
    fn default() -> Self {
        IniDocument::new()
    }
}

impl IniDocument {
    /// An empty document for a new file: UTF-16LE with BOM, CRLF line ends (what MicroSIP and
    /// the profile API both read losslessly, `microsip-formats.md` §1.2).
    pub fn new() -> IniDocument {
        IniDocument {
            encoding: Encoding::Utf16Le,
            foreign_bom: None,
            source: Vec::new(),
            lines: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// Read a file's bytes. `ansi` is the code page for files without a UTF-16LE BOM.
    pub fn parse(bytes: &[u8], ansi: CodePage) -> Result<IniDocument, DecodeError> {
        let decoded = codec::decode(bytes, ansi)?;
        let lines = decoded
            .lines
            .into_iter()
            .map(|raw| {
                let kind = classify(&raw.text);
                Line {
                    text: raw.text,
                    eol: raw.eol,
                    origin: Some(raw.start..raw.end),
                    kind,
                }
            })
            .collect();
        let mut document = IniDocument {
            encoding: decoded.encoding,
            foreign_bom: decoded.foreign_bom,
            source: bytes.to_vec(),
            lines,
            blocks: Vec::new(),
        };
        document.reindex();
        Ok(document)
    }

    /// Print the document. Untouched lines are copied from the original bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.source.len() + 64);
        // Line ranges never include the BOM, so it is printed once here for every document.
        out.extend_from_slice(self.encoding.preamble());
        for line in &self.lines {
            match &line.origin {
                Some(range) => out.extend_from_slice(&self.source[range.clone()]),
                None => {
                    // Edited and new lines were checked to be representable when they were made.
                    self.encoding
                        .encode_into(&line.text, &mut out)
                        .expect("edited text was checked for the file's encoding");
                    self.encoding
                        .encode_into(line.eol.as_str(), &mut out)
                        .expect("line breaks are ASCII");
                }
            }
        }
        out
    }

    /// The file's encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// A UTF-8 or UTF-16BE byte-order mark Windows does not recognise, if the file starts with one.
    pub fn foreign_bom(&self) -> Option<ForeignBom> {
        self.foreign_bom
    }

    /// The line-ending style of the file.
    pub fn newline(&self) -> Newline {
        let (crlf, lf, cr) = self.eol_counts();
        match (crlf > 0, lf > 0, cr > 0) {
            (_, false, false) => Newline::Crlf,
            (false, true, false) => Newline::Lf,
            _ => Newline::Mixed,
        }
    }

    fn eol_counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for line in &self.lines {
            match line.eol {
                Eol::CrLf => counts.0 += 1,
                Eol::Lf => counts.1 += 1,
                Eol::Cr => counts.2 += 1,
                Eol::None => {}
            }
        }
        counts
    }

    /// The line break new lines get: the file's most common one, CRLF when it has none or a tie.
    fn preferred_eol(&self) -> Eol {
        let (crlf, lf, cr) = self.eol_counts();
        if lf > crlf && lf >= cr {
            Eol::Lf
        } else if cr > crlf && cr > lf {
            Eol::Cr
        } else {
            Eol::CrLf
        }
    }

    /// Number of lines in the file.
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    fn reindex(&mut self) {
        self.blocks.clear();
        for (index, line) in self.lines.iter().enumerate() {
            if let Some(name) = line.header_name() {
                if let Some(last) = self.blocks.last_mut() {
                    last.end = index;
                }
                self.blocks.push(Block {
                    folded: fold(name),
                    header: index,
                    end: self.lines.len(),
                });
            }
        }
    }

    /// The first block of the section, as Windows searches it (later blocks are unreachable).
    fn first_block(&self, section: &str) -> Option<usize> {
        let wanted = fold_argument(section);
        self.blocks.iter().position(|b| b.folded == wanted)
    }

    /// Line index of the first entry named `key` in block `block`.
    fn first_entry(&self, block: usize, key: &str) -> Option<usize> {
        let wanted = fold_argument(key);
        let block = &self.blocks[block];
        (block.header + 1..block.end).find(|&i| {
            self.lines[i]
                .entry()
                .is_some_and(|(name, _)| folds_to(name, &wanted))
        })
    }

    /// Look a value up exactly as `GetPrivateProfileStringW` does. `None` when absent (an empty
    /// value is `Some("")`: empty is not missing, `microsip-formats.md` §1.3).
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        let block = self.first_block(section)?;
        let line = self.first_entry(block, key)?;
        let (_, raw) = self.lines[line].entry()?;
        Some(windows_value(raw))
    }

    /// Whether Windows sees the section (it has a header, even with no keys).
    pub fn has_section(&self, section: &str) -> bool {
        self.first_block(section).is_some()
    }

    /// The 1-based line number of the key Windows reads, for diagnostics.
    pub fn line_of(&self, section: &str, key: &str) -> Option<usize> {
        let block = self.first_block(section)?;
        self.first_entry(block, key).map(|i| i + 1)
    }

    /// Each visible section once (first spelling), in file order.
    pub fn section_names(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.blocks
            .iter()
            .filter(|b| seen.insert(b.folded.clone()))
            .map(|b| {
                self.lines[b.header]
                    .header_name()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// The visible keys of a section (first occurrence of each, in file order) with their values.
    pub fn entries(&self, section: &str) -> Vec<KeyView> {
        match self.first_block(section) {
            Some(block) => self.block_entries(block),
            None => Vec::new(),
        }
    }

    fn block_entries(&self, block: usize) -> Vec<KeyView> {
        let block = &self.blocks[block];
        let mut seen = std::collections::HashSet::new();
        self.lines[block.header + 1..block.end]
            .iter()
            .filter_map(Line::entry)
            .filter(|(name, _)| seen.insert(fold(name)))
            .map(|(name, raw)| KeyView {
                name: name.to_string(),
                value: windows_value(raw),
            })
            .collect()
    }

    /// The whole Windows-visible view (what `ini dump` prints).
    pub fn view(&self) -> IniView {
        let mut seen = std::collections::HashSet::new();
        let sections = (0..self.blocks.len())
            .filter(|&b| seen.insert(self.blocks[b].folded.clone()))
            .map(|b| SectionView {
                name: self.lines[self.blocks[b].header]
                    .header_name()
                    .unwrap_or_default()
                    .to_string(),
                keys: self.block_entries(b),
            })
            .collect();
        IniView {
            encoding: self.encoding.json_name(),
            newline: self.newline().json_name(),
            sections,
        }
    }

    /// Set `key` in `section` to `value` so that `GetPrivateProfileStringW` returns exactly
    /// `value`.
    ///
    /// An existing key is changed in place on its first occurrence (spelling, indentation and
    /// spacing around `=` kept; only the value text changes). A missing key goes after the last
    /// entry of the section's first block; a missing section goes at the end of the file
    /// (`microsip-formats.md` §1.3). A value Win32 would alter on read (edge blanks, or wrapped
    /// in matching quotes) is written inside `"…"` so it reads back as given.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<SetOutcome, EditError> {
        check_name("section name", section)?;
        check_name("key", key)?;
        if key.starts_with('[') || key.starts_with(';') {
            return Err(EditError::BadName {
                what: "key",
                text: key.to_string(),
                why: "a key starting with `[` or `;` would read as a header or a comment",
            });
        }
        if key.contains('=') {
            return Err(EditError::BadName {
                what: "key",
                text: key.to_string(),
                why: "the first `=` of a line ends the key",
            });
        }
        if value.contains(['\r', '\n']) {
            return Err(EditError::LineBreak {
                what: "value",
                text: value.to_string(),
            });
        }
        let spelled = spell_value(value);
        self.encoding.can_encode(&spelled)?;

        let Some(block) = self.first_block(section) else {
            self.encoding.can_encode(section)?;
            self.encoding.can_encode(key)?;
            self.terminate_last_line();
            let eol = self.preferred_eol();
            self.lines.push(Line::new(format!("[{section}]"), eol));
            self.lines.push(Line::new(format!("{key}={spelled}"), eol));
            self.reindex();
            return Ok(SetOutcome::AddedSection);
        };

        if let Some(index) = self.first_entry(block, key) {
            let line = &self.lines[index];
            let LineKind::Entry { value: span, .. } = line.kind.clone() else {
                unreachable!("first_entry returns entries");
            };
            if windows_value(&line.text[span.clone()]) == value {
                return Ok(SetOutcome::Unchanged);
            }
            let mut text = String::with_capacity(line.text.len() + spelled.len());
            text.push_str(&line.text[..span.start]);
            text.push_str(&spelled);
            text.push_str(&line.text[span.end..]);
            let eol = line.eol;
            self.lines[index] = Line::new(text, eol);
            return Ok(SetOutcome::Updated);
        }

        self.encoding.can_encode(key)?;
        let block = &self.blocks[block];
        let after = (block.header..block.end)
            .rev()
            .find(|&i| i == block.header || matches!(self.lines[i].kind, LineKind::Entry { .. }))
            .expect("the header itself qualifies");
        let eol = match self.lines[after].eol {
            Eol::None => self.preferred_eol(),
            eol => eol,
        };
        self.terminate_line(after);
        self.lines
            .insert(after + 1, Line::new(format!("{key}={spelled}"), eol));
        self.reindex();
        Ok(SetOutcome::AddedKey)
    }

    /// Delete `key` from the section Windows reads (every occurrence in its first block, so no
    /// duplicate becomes visible in its place). Returns whether anything was deleted.
    pub fn remove_key(&mut self, section: &str, key: &str) -> bool {
        let Some(block) = self.first_block(section) else {
            return false;
        };
        let wanted = fold_argument(key);
        let Block { header, end, .. } = self.blocks[block].clone();
        let before = self.lines.len();
        let mut index = 0usize;
        self.lines.retain(|line| {
            let keep = !(index > header
                && index < end
                && line
                    .entry()
                    .is_some_and(|(name, _)| folds_to(name, &wanted)));
            index += 1;
            keep
        });
        let removed = self.lines.len() != before;
        if removed {
            self.reindex();
        }
        removed
    }

    /// Delete every block of `section` (so no later duplicate block becomes visible): its header,
    /// keys and inner comments. Comment and blank lines at the very end of a block are kept, as
    /// they describe what follows (toml_edit's convention). Returns whether anything was deleted.
    pub fn remove_section(&mut self, section: &str) -> bool {
        let wanted = fold_argument(section);
        let mut doomed = vec![false; self.lines.len()];
        let mut any = false;
        for block in self.blocks.iter().filter(|b| b.folded == wanted) {
            any = true;
            let mut keep_from = block.end;
            if block.end < self.lines.len() {
                while keep_from > block.header + 1
                    && matches!(
                        self.lines[keep_from - 1].kind,
                        LineKind::Comment | LineKind::Blank
                    )
                {
                    keep_from -= 1;
                }
            }
            for flag in &mut doomed[block.header..keep_from] {
                *flag = true;
            }
        }
        if !any {
            return false;
        }
        let mut index = 0usize;
        self.lines.retain(|_| {
            let keep = !doomed[index];
            index += 1;
            keep
        });
        self.reindex();
        true
    }

    /// Rename the first block of `from` to `to` (the header's text is rewritten, keeping its
    /// indentation). Returns whether the section existed.
    pub fn rename_section(&mut self, from: &str, to: &str) -> Result<bool, EditError> {
        check_name("section name", to)?;
        self.encoding.can_encode(to)?;
        let Some(block) = self.first_block(from) else {
            return Ok(false);
        };
        let header = self.blocks[block].header;
        let line = &self.lines[header];
        let indent = line.text.len() - line.text.trim_start_matches(BLANKS).len();
        let text = format!("{}[{to}]", &line.text[..indent]);
        let eol = line.eol;
        self.lines[header] = Line::new(text, eol);
        self.reindex();
        Ok(true)
    }

    /// Re-encode the whole document as UTF-16LE with BOM, keeping every line's text and
    /// terminator (what `ini convert` does, on purpose, never silently).
    pub fn convert_to_utf16le(&mut self) {
        if self.encoding == Encoding::Utf16Le {
            return;
        }
        self.encoding = Encoding::Utf16Le;
        self.source.clear();
        for line in &mut self.lines {
            line.origin = None;
        }
    }

    /// Re-read a file whose foreign BOM Windows ignores (UTF-8 or UTF-16BE) in the encoding the
    /// BOM announces, as a UTF-16LE document. `None` when the file has no foreign BOM.
    pub fn repair_foreign_bom(bytes: &[u8]) -> Result<Option<IniDocument>, DecodeError> {
        let Some(bom) = codec::decode(bytes, CodePage::WINDOWS_1252)?.foreign_bom else {
            return Ok(None);
        };
        let text = codec::decode_foreign(bytes, bom)?;
        let mut utf16 = vec![0xFF, 0xFE];
        Encoding::Utf16Le
            .encode_into(&text, &mut utf16)
            .expect("UTF-16 encodes everything");
        IniDocument::parse(&utf16, CodePage::WINDOWS_1252).map(Some)
    }

    /// Give the last line a terminator if it has none, before lines are added after it.
    fn terminate_last_line(&mut self) {
        if let Some(last) = self.lines.len().checked_sub(1) {
            self.terminate_line(last);
        }
    }

    fn terminate_line(&mut self, index: usize) {
        if self.lines[index].eol == Eol::None {
            let eol = self.preferred_eol();
            let line = &mut self.lines[index];
            line.eol = eol;
            // The text bytes are unchanged but the line now needs a terminator: print it anew.
            // Safe for every encoding: the text decoded from these very bytes, and re-encoding is
            // checked below.
            if let Some(range) = line.origin.take() {
                let original = &self.source[range];
                let mut reencoded = Vec::new();
                if self
                    .encoding
                    .encode_into(&line.text, &mut reencoded)
                    .is_err()
                    || reencoded != original
                {
                    // A code page whose decoding is not one-to-one: keep the original bytes by
                    // appending the terminator to a copy of them.
                    let mut bytes = original.to_vec();
                    self.encoding
                        .encode_into(eol.as_str(), &mut bytes)
                        .expect("line breaks are ASCII");
                    let start = self.source.len();
                    self.source.extend_from_slice(&bytes);
                    line.origin = Some(start..self.source.len());
                }
            }
        }
    }

    /// Every line's text for display (diffs, plans), with the value of each secret key replaced:
    /// `<redacted>`, or `<redacted, changed>` on a line this document edited. `is_secret` gets
    /// the section a line is in (`""` before the first header) and the key.
    pub fn display_lines(&self, is_secret: impl Fn(&str, &str) -> bool) -> Vec<String> {
        let mut section = "";
        self.lines
            .iter()
            .map(|line| {
                if let Some(name) = line.header_name() {
                    section = name;
                }
                match &line.kind {
                    LineKind::Entry { key, value }
                        if is_secret(section, &line.text[key.clone()]) =>
                    {
                        let marker = if line.origin.is_some() {
                            "<redacted>"
                        } else {
                            "<redacted, changed>"
                        };
                        format!(
                            "{}{marker}{}",
                            &line.text[..value.start],
                            &line.text[value.end..]
                        )
                    }
                    _ => line.text.clone(),
                }
            })
            .collect()
    }

    /// The 1-based line, for lints and diagnostics, with its decoded text.
    pub fn line_text(&self, line_number: usize) -> Option<&str> {
        self.lines
            .get(line_number.checked_sub(1)?)
            .map(|l| l.text.as_str())
    }
}

fn check_name(what: &'static str, name: &str) -> Result<(), EditError> {
    if name.contains(['\r', '\n']) {
        return Err(EditError::LineBreak {
            what,
            text: name.to_string(),
        });
    }
    if name.is_empty() {
        return Err(EditError::BadName {
            what,
            text: name.to_string(),
            why: "it is empty",
        });
    }
    if name.trim_matches(BLANKS) != name {
        return Err(EditError::BadName {
            what,
            text: name.to_string(),
            why: "Windows trims blanks around names",
        });
    }
    if what == "section name" && name.contains(']') {
        return Err(EditError::BadName {
            what,
            text: name.to_string(),
            why: "a section name ends at the first `]`",
        });
    }
    Ok(())
}

/// How a value is spelled in the file so that Windows reads back exactly `value`: quoted when
/// trimming or quote removal would otherwise alter it (`windows-build.md`, "Consequences").
pub(crate) fn spell_value(value: &str) -> String {
    let trimmed = value.trim_matches(BLANKS);
    if trimmed.len() != value.len() || unquote(value).len() != value.len() {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ansi(text: &str) -> IniDocument {
        IniDocument::parse(text.as_bytes(), CodePage::WINDOWS_1252).unwrap()
    }

    #[test]
    fn windows_lookup_rules() {
        let doc = ansi(concat!(
            "orphan=before any header\r\n",
            "[General]\r\n",
            "Name=first\r\n",
            "name = second\r\n",
            "  Spaced Key   =   spaced value   \r\n",
            "quoted=\"  keep inner  \"\r\n",
            "single='x'\r\n",
            "open=\"only\r\n",
            "inline=value ; not a comment\r\n",
            "# hash=x\r\n",
            "; semi=comment\r\n",
            "eq=a=b=c\r\n",
            "empty=\r\n",
            "=no key name\r\n",
            "noequals line\r\n",
            "[general]\r\n",
            "late=unreachable\r\n",
            "[sec]whoops]\r\n",
            "k=1\r\n",
            "[Broken   \r\n",
            "b=2\r\n",
            "[]\r\n",
            "e=3\r\n",
        ));
        assert_eq!(doc.get("GENERAL", "NAME").as_deref(), Some("first"));
        assert_eq!(
            doc.get(" general ", " spaced key ").as_deref(),
            Some("spaced value")
        );
        assert_eq!(
            doc.get("general", "quoted").as_deref(),
            Some("  keep inner  ")
        );
        assert_eq!(doc.get("general", "single").as_deref(), Some("x"));
        assert_eq!(doc.get("general", "open").as_deref(), Some("\"only"));
        assert_eq!(
            doc.get("general", "inline").as_deref(),
            Some("value ; not a comment")
        );
        assert_eq!(doc.get("general", "# hash").as_deref(), Some("x"));
        assert_eq!(doc.get("general", "; semi"), None);
        assert_eq!(doc.get("general", "eq").as_deref(), Some("a=b=c"));
        assert_eq!(doc.get("general", "empty").as_deref(), Some(""));
        assert_eq!(doc.get("general", "").as_deref(), Some("no key name"));
        assert_eq!(doc.get("general", "noequals line"), None);
        assert_eq!(doc.get("general", "late"), None);
        assert_eq!(doc.get("", "orphan"), None);
        assert_eq!(doc.get("sec", "k").as_deref(), Some("1"));
        assert_eq!(doc.get("Broken", "b").as_deref(), Some("2"));
        assert_eq!(doc.get("", "e").as_deref(), Some("3"));
        assert_eq!(doc.get("general\t", "name"), None);
        assert_eq!(doc.section_names(), ["General", "sec", "Broken", ""]);
    }

    #[test]
    fn unmodified_document_prints_its_bytes() {
        let inputs: [&[u8]; 5] = [
            b"",
            b"no newline at end",
            b"[a]\r\nx=1\n\ry=2\r",
            b"\xEF\xBB\xBF[a]\r\nx=\xE9\r\n",
            b"\xFF\xFE[\x00a\x00]\x00",
        ];
        for input in inputs {
            let doc = IniDocument::parse(input, CodePage::WINDOWS_1252).unwrap();
            assert_eq!(doc.to_bytes(), input);
        }
    }

    #[test]
    fn set_changes_only_the_value_text() {
        let mut doc = ansi("[A]\r\n  Key \t=  old  \r\nother=1\r\n");
        assert_eq!(doc.set("a", "KEY", "new").unwrap(), SetOutcome::Updated);
        assert_eq!(doc.to_bytes(), b"[A]\r\n  Key \t=  new  \r\nother=1\r\n");
        assert_eq!(doc.set("a", "key", "new").unwrap(), SetOutcome::Unchanged);
    }

    #[test]
    fn set_quotes_values_windows_would_alter() {
        let mut doc = ansi("[A]\r\n");
        for value in ["  padded  ", "\"quoted\"", "'q'", "", "\"", "a\"b\"c"] {
            doc.set("A", "k", value).unwrap();
            assert_eq!(doc.get("A", "k").as_deref(), Some(value), "{value:?}");
            let reparsed = IniDocument::parse(&doc.to_bytes(), CodePage::WINDOWS_1252).unwrap();
            assert_eq!(reparsed.get("A", "k").as_deref(), Some(value));
        }
    }

    #[test]
    fn new_keys_go_after_the_last_entry_and_new_sections_at_the_end() {
        let mut doc = ansi("[A]\nx=1\n; about B\n[B]\ny=2");
        assert_eq!(doc.set("A", "z", "3").unwrap(), SetOutcome::AddedKey);
        assert_eq!(doc.set("B", "w", "4").unwrap(), SetOutcome::AddedKey);
        assert_eq!(doc.set("C", "v", "5").unwrap(), SetOutcome::AddedSection);
        assert_eq!(
            String::from_utf8(doc.to_bytes()).unwrap(),
            "[A]\nx=1\nz=3\n; about B\n[B]\ny=2\nw=4\n[C]\nv=5\n"
        );
    }

    #[test]
    fn new_document_is_utf16le_with_bom_and_crlf() {
        let mut doc = IniDocument::new();
        doc.set("Settings", "accountId", "1").unwrap();
        let expected: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "[Settings]\r\naccountId=1\r\n"
                    .encode_utf16()
                    .flat_map(|u| u.to_le_bytes()),
            )
            .collect();
        assert_eq!(doc.to_bytes(), expected);
    }

    #[test]
    fn microsip_fresh_file_without_newline_gets_one() {
        // MicroSIP creates `FF FE [Global]` with no CRLF (microsip-formats.md §1.2).
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend("[Global]".encode_utf16().flat_map(|u| u.to_le_bytes()));
        let mut doc = IniDocument::parse(&bytes, CodePage::WINDOWS_1252).unwrap();
        doc.set("Global", "version", "3.22.16").unwrap();
        let text = String::from_utf16(
            &doc.to_bytes()[2..]
                .chunks(2)
                .map(|p| u16::from_le_bytes([p[0], p[1]]))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert_eq!(text, "[Global]\r\nversion=3.22.16\r\n");
    }

    #[test]
    fn remove_key_and_section() {
        let mut doc = ansi(
            "[A]\r\nx=1\r\nX=2\r\n; inner\r\ny=3\r\n; about B\r\n[B]\r\nz=1\r\n[a]\r\nx=9\r\n",
        );
        assert!(doc.remove_key("a", "x"));
        assert_eq!(doc.get("A", "x"), None);
        assert!(!doc.remove_key("a", "x"));
        assert!(doc.remove_section("A"));
        assert_eq!(
            String::from_utf8(doc.to_bytes()).unwrap(),
            "; about B\r\n[B]\r\nz=1\r\n"
        );
        assert!(!doc.remove_section("A"));
    }

    #[test]
    fn ansi_file_refuses_unrepresentable_values() {
        let mut doc = ansi("[A]\r\nk=v\r\n");
        let error = doc.set("A", "k", "李雷").unwrap_err();
        assert!(matches!(error, EditError::Unrepresentable(_)));
        assert_eq!(doc.to_bytes(), b"[A]\r\nk=v\r\n");
        doc.convert_to_utf16le();
        doc.set("A", "k", "李雷").unwrap();
        let reparsed = IniDocument::parse(&doc.to_bytes(), CodePage::WINDOWS_1252).unwrap();
        assert_eq!(reparsed.encoding(), Encoding::Utf16Le);
        assert_eq!(reparsed.get("A", "k").as_deref(), Some("李雷"));
    }

    #[test]
    fn long_values_wrap_like_windows() {
        let value = "x".repeat(WIN32_VALUE_WRAP + 3);
        let doc = ansi(&format!("[A]\r\nk={value}\r\n"));
        assert_eq!(doc.get("A", "k").as_deref(), Some("xxx"));
    }

    #[test]
    fn rename_section_keeps_indentation() {
        let mut doc = ansi("  [Account2] \r\nlabel=x\r\n");
        assert!(doc.rename_section("account2", "Account1").unwrap());
        assert_eq!(doc.to_bytes(), b"  [Account1]\r\nlabel=x\r\n");
    }

    #[test]
    fn repair_utf8_bom_file() {
        let doc = IniDocument::repair_foreign_bom("\u{FEFF}[A]\r\nk=Müller\r\n".as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(doc.encoding(), Encoding::Utf16Le);
        assert_eq!(doc.get("A", "k").as_deref(), Some("Müller"));
    }
}
