//! The lossless `Contacts.xml` document: original bytes kept, edits patched in.
//!
//! Modelled on the INI engine ([`crate::ini::document`]) and on `crates.md` §3: quick-xml's event
//! reader checks the file and finds, for every `<contact>` directly inside `<contacts>`, the byte
//! range of its element and of its line; the source text is never rebuilt from events. Printing
//! copies the source, and only where something was edited does it print something else: a changed
//! attribute value (only the bytes between its quotes), a new attribute after the last one, a new
//! contact line at the position MicroSIP's default sort gives it, or nothing where a removed
//! contact's line was. A document nobody edited prints its own bytes, BOM included, whatever the
//! declaration, quoting, entity spelling, comments, unknown elements or line breaks.
//!
//! Reading follows MicroSIP (`microsip-formats.md` §2.2): only `<contact>` children of
//! `<contacts>` count, attributes are found by name, flags are true only for `"1"`, and a contact
//! without a number is reported and ignored. Hostile input is refused before anything is built:
//! a DOCTYPE (and so any entity declaration), undefined entities, more than [`MAX_DEPTH`] levels,
//! more than [`MAX_FILE_SIZE`] bytes, and anything quick-xml or our checks find malformed.

use std::cell::OnceCell;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::contact::{decode, escape, is_attribute_name, scan_references, BadReference};
use super::contact::{Contact, Field, FieldSet};
use super::error::{line_column, ContactsError, ContactsErrorKind, EditError, Warning};

/// The largest file accepted: 64 MiB (a 100,000-contact file is about 27 MB).
pub const MAX_FILE_SIZE: usize = 64 * 1024 * 1024;

/// The deepest element nesting accepted (MicroSIP's own files have two levels).
pub const MAX_DEPTH: usize = 64;

/// What MicroSIP writes for zero contacts (`microsip-formats.md` §2.1, `samples/Contacts.empty.xml`).
pub const MICROSIP_EMPTY: &str = "<?xml version=\"1.0\"?>\r\n<contacts/>\r\n";

/// MicroSIP's declaration and line break (§2.1).
const MICROSIP_DECLARATION: &str = "<?xml version=\"1.0\"?>\r\n";

/// MicroSIP's line break (§2.1: CMarkup writes CRLF after every element).
const CRLF: &str = "\r\n";

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A contact in the document: one read from the file, or one added since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NodeId {
    Original(u32),
    New(u32),
}

/// A `<contact>` directly inside `<contacts>` in the source.
#[derive(Debug, Clone)]
struct Original {
    /// What removing it deletes: its whole line (indentation and line break included) when the
    /// element stands alone on that line, otherwise just the element.
    extent: Range<u32>,
    /// The element, from `<` to the end of `/>` or `</contact>`.
    element: Range<u32>,
    /// The start tag's content: from after `<` to before `>` or `/>`.
    tag: Range<u32>,
    /// The current number (empty: MicroSIP ignores the contact).
    number: Number,
    /// Removed by an edit: printed as nothing.
    removed: bool,
    /// Attribute values set by edits, `(name, decoded value)`, in the order they were first set.
    edits: Vec<(String, String)>,
}

impl Original {
    fn alone_on_line(&self) -> bool {
        self.extent != self.element
    }
}

/// A contact's number: still the source's bytes when they need no decoding (no allocation for
/// the usual file), else decoded.
#[derive(Debug, Clone)]
enum Number {
    Source(Range<u32>),
    Decoded(Box<str>),
}

impl Number {
    fn get<'a>(&'a self, src: &'a str) -> &'a str {
        match self {
            Number::Source(range) => &src[range.start as usize..range.end as usize],
            Number::Decoded(text) => text,
        }
    }
}

/// A contact added since parsing, printed as MicroSIP prints one.
#[derive(Debug, Clone)]
struct NewContact {
    contact: Contact,
    indent: String,
    eol: String,
    removed: bool,
}

/// The `<contacts>` element.
#[derive(Debug, Clone)]
struct Root {
    /// The start tag (`<contacts>`), or the whole `<contacts/>`.
    start: Range<u32>,
    /// The end tag `</contacts>`; `None` for `<contacts/>`.
    end: Option<Range<u32>>,
    /// Whether the root holds anything but whitespace and its contacts (comments, unknown
    /// elements, text): then it is never collapsed to `<contacts/>`.
    other_content: bool,
}

/// One attribute of a start tag, as ranges in the source.
#[derive(Debug, Clone)]
struct RawAttribute {
    name: Range<usize>,
    /// The value between the quotes, still escaped.
    value: Range<usize>,
}

/// What [`ContactsDocument::upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A new contact line was inserted.
    Added,
    /// An existing contact's attributes were patched.
    Updated(Vec<FieldChange>),
    /// The contact already read back as given.
    Unchanged,
}

impl UpsertOutcome {
    /// Whether the document changed.
    pub fn changed(&self) -> bool {
        !matches!(self, UpsertOutcome::Unchanged)
    }
}

/// One attribute's change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldChange {
    /// The attribute name.
    pub attribute: String,
    /// The value before (decoded; `"0"`/`"1"` for flags; empty when the attribute was absent).
    pub old: String,
    /// The value after.
    pub new: String,
}

/// A `Contacts.xml` held losslessly: prints back byte for byte, edits touch only their bytes.
#[derive(Debug, Clone)]
pub struct ContactsDocument {
    bom: bool,
    src: String,
    root: Option<Root>,
    originals: Vec<Original>,
    news: Vec<NewContact>,
    /// New contacts by the original they are printed before (`originals.len()`: at the end), in
    /// print order.
    anchors: BTreeMap<u32, Vec<u32>>,
    /// Contacts by number, built on first use: a round trip never needs it.
    index: OnceCell<NumberIndex>,
    /// The scan's warnings.
    warnings: Vec<Warning>,
    /// Warnings about duplicate numbers, found when the index is built.
    duplicate_warnings: OnceCell<Vec<Warning>>,
}

/// Contacts by number.
#[derive(Debug, Clone, Default)]
struct NumberIndex {
    /// The first live contact with each number (unreliable for numbers in `duplicated`).
    first: HashMap<Box<str>, NodeId>,
    /// Numbers seen on more than one contact: looked up by scanning.
    duplicated: HashSet<Box<str>>,
}

impl NumberIndex {
    fn insert(&mut self, number: &str, id: NodeId) {
        if number.is_empty() || self.duplicated.contains(number) {
            return;
        }
        if self.first.contains_key(number) {
            self.duplicated.insert(number.into());
        } else {
            self.first.insert(number.into(), id);
        }
    }

    fn remove(&mut self, number: &str) {
        if !self.duplicated.contains(number) {
            self.first.remove(number);
        }
    }
}

impl Default for ContactsDocument {
    fn default() -> Self {
        ContactsDocument::new_empty()
    }
}

impl ContactsDocument {
    /// The file MicroSIP writes for zero contacts ([`MICROSIP_EMPTY`]).
    pub fn new_empty() -> ContactsDocument {
        ContactsDocument::parse(MICROSIP_EMPTY.as_bytes()).expect("MicroSIP's empty file parses")
    }

    /// Read a file's bytes. UTF-8 with or without BOM; an empty (or blank) file is a document
    /// with no contacts that prints as it was.
    pub fn parse(bytes: &[u8]) -> Result<ContactsDocument, ContactsError> {
        check_size_and_encoding(bytes)?;
        ContactsDocument::parse_owned(bytes.to_vec())
    }

    /// [`Self::parse`] taking the bytes, so a large file is not held twice.
    pub fn parse_owned(mut bytes: Vec<u8>) -> Result<ContactsDocument, ContactsError> {
        check_size_and_encoding(&bytes)?;
        // Third-party generators write a UTF-8 BOM (§2.2); it is kept, never added.
        let bom = bytes.starts_with(UTF8_BOM);
        let bom_len = if bom { UTF8_BOM.len() } else { 0 };
        if bom {
            bytes.drain(..bom_len);
        }
        let src = String::from_utf8(bytes).map_err(|e| {
            let body = e.as_bytes();
            let valid =
                std::str::from_utf8(&body[..e.utf8_error().valid_up_to()]).unwrap_or_default();
            ContactsError::at(valid, valid.len(), bom_len, ContactsErrorKind::InvalidUtf8)
        })?;
        let scanned = Scanner::new(&src, bom_len).run()?;
        let document = ContactsDocument {
            bom,
            src,
            root: scanned.root,
            originals: scanned.originals,
            news: Vec::new(),
            anchors: BTreeMap::new(),
            index: OnceCell::new(),
            warnings: scanned.warnings,
            duplicate_warnings: OnceCell::new(),
        };
        Ok(document)
    }

    fn index(&self) -> &NumberIndex {
        self.index.get_or_init(|| self.build_index())
    }

    fn index_mut(&mut self) -> &mut NumberIndex {
        if self.index.get().is_none() {
            let built = self.build_index();
            let _ = self.index.set(built);
        }
        self.index.get_mut().expect("built above")
    }

    /// Index every live contact by number; the first build also finds the duplicate numbers
    /// to warn about (the index is built before any edit needs it, so that is the file as
    /// parsed).
    fn build_index(&self) -> NumberIndex {
        let mut index = NumberIndex::default();
        let mut duplicates: Vec<(u32, u32)> = Vec::new();
        index.first.reserve(self.originals.len());
        for (i, original) in self.originals.iter().enumerate() {
            let number = original.number.get(&self.src);
            if number.is_empty() || original.removed {
                continue;
            }
            match index.first.entry(number.into()) {
                Entry::Occupied(first) => {
                    if let NodeId::Original(first) = *first.get() {
                        duplicates.push((first, i as u32));
                    }
                    index.duplicated.insert(number.into());
                }
                Entry::Vacant(slot) => {
                    slot.insert(NodeId::Original(i as u32));
                }
            }
        }
        for (n, new) in self.news.iter().enumerate() {
            if !new.removed {
                index.insert(&new.contact.number, NodeId::New(n as u32));
            }
        }
        let _ = self
            .duplicate_warnings
            .set(self.duplicate_warnings(duplicates));
        index
    }

    fn duplicate_warnings(&self, duplicates: Vec<(u32, u32)>) -> Vec<Warning> {
        let mut warnings = Vec::new();
        if duplicates.is_empty() {
            return warnings;
        }
        // One pass of the line cursor over every offset a message needs.
        let mut offsets: Vec<usize> = duplicates
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .map(|i| self.originals[i as usize].element.start as usize)
            .collect();
        offsets.sort_unstable();
        offsets.dedup();
        let mut cursor = LineCursor::default();
        let positions: HashMap<usize, (usize, usize)> = offsets
            .into_iter()
            .map(|offset| (offset, cursor.locate(&self.src, offset)))
            .collect();
        for (first, duplicate) in duplicates {
            let original = &self.originals[duplicate as usize];
            let (line, column) = positions[&(original.element.start as usize)];
            let (first_line, _) =
                positions[&(self.originals[first as usize].element.start as usize)];
            warnings.push(Warning {
                line,
                column,
                message: format!(
                    "the number {:?} is also on the contact at line {first_line}: MicroSIP lists \
                     both; edits by number change the first",
                    original.number.get(&self.src)
                ),
            });
        }
        warnings
    }

    /// Print the document. Untouched bytes are copied from the source.
    pub fn to_bytes(&self) -> Vec<u8> {
        if !self.is_edited() {
            let mut out = Vec::with_capacity(self.src.len() + UTF8_BOM.len());
            if self.bom {
                out.extend_from_slice(UTF8_BOM);
            }
            out.extend_from_slice(self.src.as_bytes());
            return out;
        }
        let mut out = Vec::with_capacity(self.src.len() + 64 + 300 * self.news.len());
        if self.bom {
            out.extend_from_slice(UTF8_BOM);
        }
        let src = self.src.as_str();
        let Some(root) = &self.root else {
            out.extend_from_slice(src.as_bytes());
            return out;
        };
        let live_news = self.news.iter().any(|n| !n.removed);
        if root.end.is_none() {
            // `<contacts/>`: expanded as MicroSIP writes a non-empty list (§2.1) once it has one.
            if !live_news {
                out.extend_from_slice(src.as_bytes());
                return out;
            }
            let start = root.start.start as usize..root.start.end as usize;
            out.extend_from_slice(&src.as_bytes()[..start.start]);
            let tag = src[start.clone()]
                .trim_end_matches('>')
                .trim_end_matches('/');
            out.extend_from_slice(tag.trim_end().as_bytes());
            out.push(b'>');
            let eol = self.default_eol();
            out.extend_from_slice(eol.as_bytes());
            self.print_news(&mut out, self.originals.len() as u32);
            out.extend_from_slice(b"</contacts>");
            out.extend_from_slice(&src.as_bytes()[start.end..]);
            return out;
        }
        if !live_news
            && !root.other_content
            && !self.originals.is_empty()
            && self.originals.iter().all(|o| o.removed)
        {
            // Every contact removed: `<contacts/>`, as MicroSIP writes an empty list (§2.1).
            let end = root.end.clone().expect("checked above");
            let tag = &src[root.start.start as usize..root.start.end as usize];
            out.extend_from_slice(&src.as_bytes()[..root.start.start as usize]);
            out.extend_from_slice(tag.trim_end_matches('>').trim_end().as_bytes());
            out.extend_from_slice(b"/>");
            out.extend_from_slice(&src.as_bytes()[end.end as usize..]);
            return out;
        }
        let mut cursor = 0usize;
        for (i, original) in self.originals.iter().enumerate() {
            let i = i as u32;
            if self.anchors.contains_key(&i) {
                let at = original.extent.start as usize;
                out.extend_from_slice(&src.as_bytes()[cursor..at]);
                cursor = at;
                self.print_anchor(&mut out, i, at);
            }
            if original.removed {
                out.extend_from_slice(&src.as_bytes()[cursor..original.extent.start as usize]);
                cursor = original.extent.end as usize;
            } else if !original.edits.is_empty() {
                let edits = &original.edits;
                out.extend_from_slice(&src.as_bytes()[cursor..original.tag.start as usize]);
                self.print_tag(&mut out, original, edits);
                cursor = original.tag.end as usize;
            }
        }
        let end = self.originals.len() as u32;
        if self.anchors.contains_key(&end) {
            let at = self.end_insertion_point();
            out.extend_from_slice(&src.as_bytes()[cursor..at]);
            cursor = at;
            self.print_anchor(&mut out, end, at);
        }
        out.extend_from_slice(&src.as_bytes()[cursor..]);
        out
    }

    /// Print a start tag's content with edited values patched in and new attributes appended.
    fn print_tag(&self, out: &mut Vec<u8>, original: &Original, edits: &[(String, String)]) {
        let src = self.src.as_str();
        let attributes = self.attributes_of(original);
        let mut cursor = original.tag.start as usize;
        for attribute in &attributes {
            let name = &src[attribute.name.clone()];
            if let Some((_, value)) = edits.iter().find(|(n, _)| n == name) {
                out.extend_from_slice(&src.as_bytes()[cursor..attribute.value.start]);
                out.extend_from_slice(escape(value).as_bytes());
                cursor = attribute.value.end;
            }
        }
        let append_at = attributes
            .last()
            .map_or(original.tag.start as usize + "contact".len(), |a| {
                a.value.end + 1
            });
        out.extend_from_slice(&src.as_bytes()[cursor..append_at]);
        for (name, value) in edits {
            if !attributes.iter().any(|a| &src[a.name.clone()] == name) {
                out.extend_from_slice(format!(" {name}=\"{}\"", escape(value)).as_bytes());
            }
        }
        out.extend_from_slice(&src.as_bytes()[append_at..original.tag.end as usize]);
    }

    /// Print the new contacts anchored at `anchor`, each on its own line, at source offset `at`.
    fn print_anchor(&self, out: &mut Vec<u8>, anchor: u32, at: usize) {
        if !self.at_line_start(at)
            && self.anchors[&anchor]
                .iter()
                .any(|&n| !self.news[n as usize].removed)
        {
            let eol = self.default_eol();
            out.extend_from_slice(eol.as_bytes());
        }
        self.print_news(out, anchor);
    }

    fn print_news(&self, out: &mut Vec<u8>, anchor: u32) {
        let Some(list) = self.anchors.get(&anchor) else {
            return;
        };
        for &n in list {
            let new = &self.news[n as usize];
            if new.removed {
                continue;
            }
            out.extend_from_slice(new.indent.as_bytes());
            out.extend_from_slice(new.contact.to_microsip_element().as_bytes());
            out.extend_from_slice(new.eol.as_bytes());
        }
    }

    fn at_line_start(&self, at: usize) -> bool {
        at == 0 || matches!(self.src.as_bytes()[at - 1], b'\n' | b'\r')
    }

    /// Where contacts added after every existing one go: the start of the `</contacts>` line
    /// (or right before `</contacts>` when something else shares its line).
    fn end_insertion_point(&self) -> usize {
        let root = self.root.as_ref().expect("only called with a root");
        let end = root
            .end
            .clone()
            .expect("only called with </contacts>")
            .start as usize;
        let bytes = self.src.as_bytes();
        let mut at = end;
        while at > 0 && matches!(bytes[at - 1], b' ' | b'\t') {
            at -= 1;
        }
        if self.at_line_start(at) {
            at
        } else {
            end
        }
    }

    /// The line break new lines get where no neighbouring contact shows one: the first line
    /// break after the root's start tag, else the file's first, else MicroSIP's CRLF.
    fn default_eol(&self) -> &str {
        let src = self.src.as_str();
        let after_root = self.root.as_ref().map_or(0, |r| r.start.end as usize);
        let find = |from: usize| -> Option<&str> {
            let at = src[from..].find(['\r', '\n'])? + from;
            Some(if src[at..].starts_with("\r\n") {
                &src[at..at + 2]
            } else {
                &src[at..at + 1]
            })
        };
        find(after_root).or_else(|| find(0)).unwrap_or(CRLF)
    }

    /// Indentation and line break of the contact line nearest to `anchor` that stands alone on
    /// its line; MicroSIP's (none, CRLF; §2.1) when there is none.
    fn line_style_near(&self, anchor: u32) -> (String, String) {
        let anchor = anchor as usize;
        let candidates = [Some(anchor), anchor.checked_sub(1)];
        for i in candidates.into_iter().flatten() {
            let Some(original) = self.originals.get(i) else {
                continue;
            };
            if original.alone_on_line() {
                let src = self.src.as_str();
                let indent = &src[original.extent.start as usize..original.element.start as usize];
                let tail = &src[original.element.end as usize..original.extent.end as usize];
                let eol = tail.trim_start_matches([' ', '\t']);
                return (indent.to_string(), eol.to_string());
            }
        }
        (String::new(), self.default_eol().to_string())
    }

    /// Whether the file started with a UTF-8 BOM (kept; never added).
    pub fn has_bom(&self) -> bool {
        self.bom
    }

    /// What MicroSIP reads in a way worth telling the admin about (contacts without a number,
    /// duplicate numbers, numeric character references, misplaced `<contact>` elements), in file
    /// order, for the file as parsed.
    pub fn warnings(&self) -> Vec<Warning> {
        self.index();
        let mut warnings = self.warnings.clone();
        warnings.extend(self.duplicate_warnings.get().into_iter().flatten().cloned());
        warnings.sort_by_key(|w| (w.line, w.column));
        warnings
    }

    /// The start tags' attributes of an original contact, from its source bytes.
    fn attributes_of(&self, original: &Original) -> Vec<RawAttribute> {
        let src = self.src.as_str();
        let content = &src[original.tag.start as usize..original.tag.end as usize];
        let base = original.tag.start as usize;
        let start = BytesStart::from_content(content, "contact".len());
        start
            .attributes()
            .filter_map(Result::ok)
            .filter_map(|attribute| {
                let key: &str = attribute.key.as_ref();
                let value: &str = match &attribute.value {
                    std::borrow::Cow::Borrowed(v) => v,
                    std::borrow::Cow::Owned(_) => return None,
                };
                let name = key.as_ptr() as usize - content.as_ptr() as usize + base;
                let value_start = value.as_ptr() as usize - content.as_ptr() as usize + base;
                Some(RawAttribute {
                    name: name..name + key.len(),
                    value: value_start..value_start + value.len(),
                })
            })
            .collect()
    }

    /// The contact as MicroSIP reads it, with edits applied, and which fields the file has.
    fn read_original(&self, original: &Original) -> (Contact, FieldSet) {
        let src = self.src.as_str();
        let mut contact = Contact::default();
        let mut present = FieldSet::EMPTY;
        for attribute in self.attributes_of(original) {
            let name = &src[attribute.name.clone()];
            let value = decode(&src[attribute.value.clone()]);
            if let Some(field) = Field::from_attribute(name) {
                present.insert(field);
            }
            contact.set_attribute(name, &value);
        }
        {
            for (name, value) in &original.edits {
                if let Some(field) = Field::from_attribute(name) {
                    present.insert(field);
                }
                contact.set_attribute(name, value);
            }
        }
        (contact, present)
    }

    /// Just what MicroSIP sorts by (`starred`, and the fields the display name comes from), for
    /// the binary search of [`Self::add`].
    fn sort_view(&self, original: &Original) -> Contact {
        const SORT_FIELDS: [&str; 5] = ["name", "number", "firstname", "lastname", "starred"];
        let src = self.src.as_str();
        let mut contact = Contact::default();
        for attribute in self.attributes_of(original) {
            let name = &src[attribute.name.clone()];
            if SORT_FIELDS.contains(&name) {
                contact.set_attribute(name, &decode(&src[attribute.value.clone()]));
            }
        }
        for (name, value) in &original.edits {
            if SORT_FIELDS.contains(&name.as_str()) {
                contact.set_attribute(name, value);
            }
        }
        contact
    }

    fn read(&self, id: NodeId) -> Contact {
        match id {
            NodeId::Original(i) => self.read_original(&self.originals[i as usize]).0,
            NodeId::New(n) => self.news[n as usize].contact.clone(),
        }
    }

    /// Every contact MicroSIP would list, in file order: contacts without a number are left out
    /// (MicroSIP drops them on load, §2.2).
    pub fn contacts(&self) -> Vec<Contact> {
        self.live_nodes().map(|id| self.read(id)).collect()
    }

    /// Every contact with the set of the 17 fields its element actually has (an older file may
    /// lack `starred`, a third-party one anything). New contacts have all 17.
    pub fn contacts_with_fields(&self) -> Vec<(Contact, FieldSet)> {
        self.live_nodes()
            .map(|id| match id {
                NodeId::Original(i) => self.read_original(&self.originals[i as usize]),
                NodeId::New(n) => (self.news[n as usize].contact.clone(), FieldSet::ALL),
            })
            .collect()
    }

    /// Every contact with its fields (as in [`Self::contacts_with_fields`]) and its 1-based line
    /// (0 for a contact added since parsing).
    pub(crate) fn contacts_with_lines(&self) -> Vec<(Contact, FieldSet, usize)> {
        let mut cursor = LineCursor::default();
        self.live_nodes()
            .map(|id| match id {
                NodeId::Original(i) => {
                    let original = &self.originals[i as usize];
                    let (contact, fields) = self.read_original(original);
                    let (line, _) = cursor.locate(&self.src, original.element.start as usize);
                    (contact, fields, line)
                }
                NodeId::New(n) => (self.news[n as usize].contact.clone(), FieldSet::ALL, 0),
            })
            .collect()
    }

    /// Every contact with this number, in file order (MicroSIP keeps duplicates, §2.2).
    pub fn contacts_with_number(&self, number: &str) -> Vec<Contact> {
        self.occurrences(number)
            .into_iter()
            .map(|id| self.read(id))
            .collect()
    }

    /// How many contacts MicroSIP would list.
    pub fn len(&self) -> usize {
        self.live_nodes().count()
    }

    /// Whether MicroSIP would list no contact.
    pub fn is_empty(&self) -> bool {
        self.live_nodes().next().is_none()
    }

    /// The first contact with this number.
    pub fn get(&self, number: &str) -> Option<Contact> {
        self.find(number, 0).map(|id| self.read(id))
    }

    /// Live, numbered contacts in print order.
    fn live_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        let end = self.originals.len() as u32;
        (0..=end).flat_map(move |i| {
            let news = self
                .anchors
                .get(&i)
                .into_iter()
                .flatten()
                .filter(|&&n| !self.news[n as usize].removed)
                .map(|&n| NodeId::New(n));
            let original = self
                .originals
                .get(i as usize)
                .filter(|o| !o.removed && !o.number.get(&self.src).is_empty())
                .map(|_| NodeId::Original(i));
            news.chain(original)
        })
    }

    fn number_of(&self, id: NodeId) -> &str {
        match id {
            NodeId::Original(i) => self.originals[i as usize].number.get(&self.src),
            NodeId::New(n) => &self.news[n as usize].contact.number,
        }
    }

    /// Every live contact with this number, in print order.
    fn occurrences(&self, number: &str) -> Vec<NodeId> {
        if number.is_empty() {
            return Vec::new();
        }
        let index = self.index();
        if index.duplicated.contains(number) {
            return self
                .live_nodes()
                .filter(|&id| self.number_of(id) == number)
                .collect();
        }
        index.first.get(number).copied().into_iter().collect()
    }

    /// The `nth` (0-based) live contact with this number.
    fn find(&self, number: &str, nth: usize) -> Option<NodeId> {
        let index = self.index();
        if nth == 0 && !index.duplicated.contains(number) {
            return index.first.get(number).copied();
        }
        self.occurrences(number).get(nth).copied()
    }

    /// How many live contacts have this number (MicroSIP does not merge duplicates, §2.2).
    pub fn count(&self, number: &str) -> usize {
        self.occurrences(number).len()
    }

    /// Set one attribute of the first contact with `number`. Only that value's bytes change
    /// (escaped as MicroSIP escapes, §2.1); an attribute the element lacks is appended after its
    /// last attribute. Values compare as MicroSIP reads them: an absent attribute reads as empty
    /// (a flag as `"0"`), so setting it to that changes nothing. Returns whether the document
    /// changed.
    pub fn set_attribute(
        &mut self,
        number: &str,
        name: &str,
        value: &str,
    ) -> Result<bool, EditError> {
        check_attribute(name, value)?;
        if name == Field::Number.attribute() && value.is_empty() {
            return Err(EditError::EmptyNumber);
        }
        let id = self
            .find(number, 0)
            .ok_or_else(|| EditError::NoSuchContact(number.to_string()))?;
        let current = self.read(id);
        if current.attribute(name).unwrap_or_default() == value {
            return Ok(false);
        }
        self.set_raw(id, name, value);
        Ok(true)
    }

    /// Record an edit; the caller checked it.
    fn set_raw(&mut self, id: NodeId, name: &str, value: &str) {
        if name == Field::Number.attribute() {
            let old = self.number_of(id).to_string();
            let index = self.index_mut();
            index.remove(&old);
            index.insert(value, id);
        }
        match id {
            NodeId::Original(i) => {
                let original = &mut self.originals[i as usize];
                if name == Field::Number.attribute() {
                    original.number = Number::Decoded(value.into());
                }
                let edits = &mut original.edits;
                match edits.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => value.clone_into(&mut slot.1),
                    None => edits.push((name.to_string(), value.to_string())),
                }
            }
            NodeId::New(n) => self.news[n as usize].contact.set_attribute(name, value),
        }
    }

    /// Add `contact`, or update the first contact with its number: see [`Self::upsert_fields`].
    pub fn upsert(&mut self, contact: &Contact) -> Result<UpsertOutcome, EditError> {
        self.upsert_fields(contact, FieldSet::ALL)
    }

    /// Add `contact`, or update the first contact with its number, taking only the fields in
    /// `given` (and every attribute in `contact.extra`). An update patches only the values that
    /// read differently (flags compared as MicroSIP reads them); it does not move the contact. A
    /// new contact is written as MicroSIP writes one, at the place MicroSIP's default sort gives
    /// it (see [`Self::add`]).
    pub fn upsert_fields(
        &mut self,
        contact: &Contact,
        given: FieldSet,
    ) -> Result<UpsertOutcome, EditError> {
        self.upsert_nth(contact, given, 0)
    }

    /// [`Self::upsert_fields`] against the `nth` contact with the number (duplicates are matched
    /// in order); a new contact is added when there are not that many.
    pub(crate) fn upsert_nth(
        &mut self,
        contact: &Contact,
        given: FieldSet,
        nth: usize,
    ) -> Result<UpsertOutcome, EditError> {
        check_contact(contact)?;
        let Some(id) = self.find(&contact.number, nth) else {
            let mut new = contact.clone();
            for field in Field::ALL {
                if !given.contains(field) && field != Field::Number {
                    new.set(field, if field.is_flag() { "0" } else { "" });
                }
            }
            self.add_unchecked(new);
            return Ok(UpsertOutcome::Added);
        };
        let changes = self.update_node(id, contact, given);
        Ok(if changes.is_empty() {
            UpsertOutcome::Unchanged
        } else {
            UpsertOutcome::Updated(changes)
        })
    }

    /// Patch the `given` fields and the extra attributes of one contact; returns what changed.
    fn update_node(&mut self, id: NodeId, contact: &Contact, given: FieldSet) -> Vec<FieldChange> {
        let current = self.read(id);
        let mut changes = Vec::new();
        for field in given.iter() {
            if !current.same(contact, field) {
                changes.push(FieldChange {
                    attribute: field.attribute().to_string(),
                    old: current.get(field).to_string(),
                    new: contact.get(field).to_string(),
                });
            }
        }
        for (name, value) in &contact.extra {
            let old = current.extra(name);
            if old != Some(value.as_str()) {
                changes.push(FieldChange {
                    attribute: name.clone(),
                    old: old.unwrap_or_default().to_string(),
                    new: value.clone(),
                });
            }
        }
        for change in &changes {
            self.set_raw(id, &change.attribute, &change.new);
        }
        changes
    }

    /// Add a contact, written exactly as MicroSIP writes one (all 17 attributes in its order,
    /// its five escapes, `/>`; §2.1), on its own line with the neighbouring contact's
    /// indentation and line break (MicroSIP's: none and CRLF), before the first contact that
    /// MicroSIP's default sort puts after it (starred first, then display name by UTF-16 code
    /// unit; equal keys keep insertion order), so MicroSIP's next save moves nothing. In a file
    /// the user sorted by another column the place is found by binary search over the file's
    /// order. Duplicate numbers are allowed, as in MicroSIP.
    pub fn add(&mut self, contact: Contact) -> Result<(), EditError> {
        check_contact(&contact)?;
        self.add_unchecked(contact);
        Ok(())
    }

    fn add_unchecked(&mut self, contact: Contact) {
        if self.root.is_none() {
            self.create_root();
        }
        // Build the index (if it is not yet) before the new contact exists.
        self.index_mut();
        // Binary search over the originals MicroSIP lists (MicroSIP's own files are sorted,
        // §2.1); removed contacts and contacts without a number (MicroSIP drops them on load,
        // §2.2) take no part in the order.
        let listed = |o: &Original| !o.removed && !o.number.get(&self.src).is_empty();
        let mut low = 0usize;
        let mut high = self.originals.len();
        while low < high {
            let mid = (low + high) / 2;
            match (mid..high).find(|&j| listed(&self.originals[j])) {
                Some(j) => {
                    let existing = self.sort_view(&self.originals[j]);
                    if existing.microsip_order(&contact).is_le() {
                        low = j + 1;
                    } else {
                        high = mid;
                    }
                }
                None => high = mid,
            }
        }
        let anchor = low as u32;
        let (indent, eol) = self.line_style_near(anchor);
        let position = {
            let list = self.anchors.get(&anchor).map(Vec::as_slice).unwrap_or(&[]);
            list.partition_point(|&n| {
                self.news[n as usize]
                    .contact
                    .microsip_order(&contact)
                    .is_le()
            })
        };
        let n = self.news.len() as u32;
        let number = contact.number.clone();
        self.news.push(NewContact {
            contact,
            indent,
            eol,
            removed: false,
        });
        self.anchors.entry(anchor).or_default().insert(position, n);
        self.index_mut().insert(&number, NodeId::New(n));
    }

    /// A file without a root element (empty, or only a declaration and comments) gets MicroSIP's
    /// `<contacts/>` before its first contact.
    fn create_root(&mut self) {
        let text = if self.src.trim().is_empty() {
            MICROSIP_EMPTY.to_string()
        } else {
            let mut text = self.src.clone();
            let eol = self.default_eol().to_string();
            if !text.ends_with(['\n', '\r']) {
                text.push_str(&eol);
            }
            if !text.starts_with("<?xml") {
                text.insert_str(0, MICROSIP_DECLARATION);
            }
            text.push_str("<contacts/>");
            text.push_str(&eol);
            text
        };
        let mut bytes = Vec::new();
        if self.bom {
            bytes.extend_from_slice(UTF8_BOM);
        }
        bytes.extend_from_slice(text.as_bytes());
        let warnings = std::mem::take(&mut self.warnings);
        *self = ContactsDocument::parse(&bytes).expect("a root added to a parsed prolog parses");
        self.warnings = warnings;
    }

    /// Remove every contact with `number` (MicroSIP does not merge duplicates, so neither does
    /// this), each with its line. Returns whether any was removed.
    pub fn remove(&mut self, number: &str) -> bool {
        let ids = self.occurrences(number);
        for &id in &ids {
            self.remove_node(id);
        }
        !ids.is_empty()
    }

    /// Remove the contacts with `number` for which `keep` is false; returns the removed ones.
    pub(crate) fn remove_unless(
        &mut self,
        number: &str,
        keep: impl Fn(&Contact) -> bool,
    ) -> Vec<Contact> {
        let mut removed = Vec::new();
        for id in self.occurrences(number) {
            let contact = self.read(id);
            if !keep(&contact) {
                self.remove_node(id);
                removed.push(contact);
            }
        }
        removed
    }

    fn remove_node(&mut self, id: NodeId) {
        let number = self.number_of(id).to_string();
        self.index_mut().remove(&number);
        match id {
            NodeId::Original(i) => self.originals[i as usize].removed = true,
            NodeId::New(n) => self.news[n as usize].removed = true,
        }
    }

    /// Whether anything was edited since parsing (the bytes may still be the same).
    pub fn is_edited(&self) -> bool {
        !self.news.is_empty()
            || self
                .originals
                .iter()
                .any(|o| o.removed || !o.edits.is_empty())
    }
}

/// Refuse a file above [`MAX_FILE_SIZE`] or with a UTF-16 BOM before reading any further.
fn check_size_and_encoding(bytes: &[u8]) -> Result<(), ContactsError> {
    let kind = if bytes.len() > MAX_FILE_SIZE {
        ContactsErrorKind::TooLarge {
            size: bytes.len(),
            limit: MAX_FILE_SIZE,
        }
    } else if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        // MicroSIP reads Contacts.xml as UTF-8 only (§2.1, `Utf8DecodeUni`).
        ContactsErrorKind::Utf16
    } else {
        return Ok(());
    };
    Err(ContactsError {
        offset: 0,
        line: 1,
        column: 1,
        kind,
    })
}

/// Refuse what MicroSIP could not read back: an empty number, NUL characters, and unknown
/// attributes that are not XML names or that spell one of the 17 fields.
fn check_contact(contact: &Contact) -> Result<(), EditError> {
    if contact.number.is_empty() {
        return Err(EditError::EmptyNumber);
    }
    for field in Field::ALL {
        if contact.get(field).contains('\0') {
            return Err(EditError::Nul(field.attribute().to_string()));
        }
    }
    for (name, value) in &contact.extra {
        if Field::from_attribute(name).is_some() {
            return Err(EditError::BadAttributeName(
                name.clone(),
                "it is one of MicroSIP's 17 fields, not an extra attribute",
            ));
        }
        check_attribute(name, value)?;
    }
    let mut names: Vec<&str> = contact.extra.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(EditError::BadAttributeName(
            names
                .windows(2)
                .find(|w| w[0] == w[1])
                .map(|w| w[0].to_string())
                .unwrap_or_default(),
            "it is given twice",
        ));
    }
    Ok(())
}

fn check_attribute(name: &str, value: &str) -> Result<(), EditError> {
    if !is_attribute_name(name) {
        return Err(EditError::BadAttributeName(
            name.to_string(),
            "an XML attribute name starts with a letter or `_` and holds letters, digits, `_`, `-`, `.` and `:`",
        ));
    }
    if value.contains('\0') {
        return Err(EditError::Nul(name.to_string()));
    }
    Ok(())
}

/// Line and column for increasing offsets without rescanning from the start each time.
#[derive(Debug, Default)]
struct LineCursor {
    offset: usize,
    line: usize,
    line_start: usize,
}

impl LineCursor {
    fn locate(&mut self, text: &str, offset: usize) -> (usize, usize) {
        if self.line == 0 || offset < self.offset {
            *self = LineCursor {
                offset: 0,
                line: 1,
                line_start: 0,
            };
        }
        let offset = offset.min(text.len());
        let chunk = &text.as_bytes()[self.offset..offset];
        for (i, &b) in chunk.iter().enumerate() {
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.offset + i + 1;
            }
        }
        self.offset = offset;
        let mut start = self.line_start;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        let mut end = offset;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let column = text.get(start..end).map_or(0, |s| s.chars().count()) + 1;
        (self.line, column)
    }
}

/// What the scan of a source text found.
struct Scanned {
    root: Option<Root>,
    originals: Vec<Original>,
    warnings: Vec<Warning>,
}

/// An element open during the scan.
struct Open<'a> {
    name: &'a str,
    start: usize,
    /// Index into `originals` when this is a contact directly inside the root.
    contact: Option<usize>,
}

/// One pass of quick-xml's reader over the text: checks everything, records ranges.
struct Scanner<'a> {
    text: &'a str,
    bom_len: usize,
    cursor: LineCursor,
    stack: Vec<Open<'a>>,
    root: Option<Root>,
    root_closed: bool,
    originals: Vec<Original>,
    warnings: Vec<Warning>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str, bom_len: usize) -> Self {
        Scanner {
            text,
            bom_len,
            cursor: LineCursor::default(),
            stack: Vec::new(),
            root: None,
            root_closed: false,
            originals: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn error(&self, offset: usize, kind: ContactsErrorKind) -> ContactsError {
        ContactsError::at(self.text, offset, self.bom_len, kind)
    }

    fn warn(&mut self, offset: usize, message: String) {
        let (line, column) = self.cursor.locate(self.text, offset);
        self.warnings.push(Warning {
            line,
            column,
            message,
        });
    }

    fn offset_of(&self, slice: &str) -> usize {
        slice.as_ptr() as usize - self.text.as_ptr() as usize
    }

    fn run(mut self) -> Result<Scanned, ContactsError> {
        let text = self.text;
        let mut reader = Reader::from_str(text);
        reader.config_mut().enable_all_checks(true);
        loop {
            let pos = reader.buffer_position() as usize;
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let at = reader.error_position() as usize;
                    return Err(self.error(at, ContactsErrorKind::Malformed(e.to_string())));
                }
            };
            let end = reader.buffer_position() as usize;
            match event {
                Event::Eof => break,
                Event::Decl(_) => {
                    if pos != 0 {
                        return Err(self.error(
                            pos,
                            ContactsErrorKind::Malformed(
                                "the XML declaration must be the very first thing in the file"
                                    .into(),
                            ),
                        ));
                    }
                }
                Event::DocType(doctype) => {
                    // No DTD is ever read: refusing the DOCTYPE refuses every entity
                    // declaration, internal (billion laughs) or external (XXE).
                    let kind = if doctype.contains("<!ENTITY") {
                        ContactsErrorKind::EntityDeclaration
                    } else {
                        ContactsErrorKind::Doctype
                    };
                    return Err(self.error(pos, kind));
                }
                Event::Text(t) => {
                    if !t.trim_matches(is_xml_space).is_empty() {
                        self.content(pos, "text")?;
                    }
                }
                Event::GeneralRef(r) => {
                    self.check_reference(&r, pos)?;
                    self.content(pos, "text")?;
                }
                Event::CData(_) => self.content(pos, "a CDATA section")?,
                Event::Comment(_) | Event::PI(_) => {
                    if self.stack.len() == 1 {
                        self.root
                            .as_mut()
                            .expect("depth 1 is the root")
                            .other_content = true;
                    }
                }
                Event::Start(start) => self.open(&start, pos, end, false)?,
                Event::Empty(start) => self.open(&start, pos, end, true)?,
                Event::End(_) => {
                    let open = self.stack.pop().expect("quick-xml checks end tags");
                    self.close(open, pos, end);
                }
            }
        }
        if let Some(open) = self.stack.last() {
            let (line, column) = line_column(text, open.start);
            return Err(self.error(
                text.len(),
                ContactsErrorKind::Unclosed {
                    element: open.name.to_string(),
                    line,
                    column,
                },
            ));
        }
        if self.root.is_none() && !text.trim_matches(is_xml_space).is_empty() {
            self.warn(
                0,
                "no `<contacts>` element: MicroSIP lists no contacts (one is added with the first \
                 contact)"
                    .into(),
            );
        }
        Ok(Scanned {
            root: self.root,
            originals: self.originals,
            warnings: self.warnings,
        })
    }

    /// Text, references or CDATA at `pos`: only inside the root.
    fn content(&mut self, pos: usize, what: &str) -> Result<(), ContactsError> {
        match self.stack.len() {
            0 if self.root_closed => {
                Err(self.error(pos, ContactsErrorKind::AfterRoot(what.into())))
            }
            0 => Err(self.error(pos, ContactsErrorKind::TextOutsideRoot)),
            1 => {
                self.root
                    .as_mut()
                    .expect("depth 1 is the root")
                    .other_content = true;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn check_reference(&self, name: &str, pos: usize) -> Result<(), ContactsError> {
        match scan_references(&format!("&{name};")) {
            Ok(_) => Ok(()),
            Err((_, bad)) => Err(self.error(pos, bad_reference(bad))),
        }
    }

    fn open(
        &mut self,
        start: &BytesStart<'_>,
        pos: usize,
        end: usize,
        empty: bool,
    ) -> Result<(), ContactsError> {
        let content: &str = start.as_ref();
        let tag_start = self.offset_of(content);
        let tag = tag_start..tag_start + content.len();
        let name_len = AsRef::<str>::as_ref(&start.name()).len();
        let name: &'a str = &self.text[tag_start..tag_start + name_len];
        let depth = self.stack.len();
        if depth + 1 > MAX_DEPTH {
            return Err(self.error(pos, ContactsErrorKind::TooDeep(MAX_DEPTH)));
        }
        let is_contact = depth == 1 && name == "contact";
        let number = self.check_attributes(start, is_contact)?;
        let mut contact = None;
        match depth {
            0 => {
                if self.root_closed {
                    return Err(self.error(
                        pos,
                        ContactsErrorKind::AfterRoot(format!("a second root element `<{name}>`")),
                    ));
                }
                if name != "contacts" {
                    return Err(self.error(pos, ContactsErrorKind::WrongRoot(name.to_string())));
                }
                self.root = Some(Root {
                    start: pos as u32..end as u32,
                    end: None,
                    other_content: false,
                });
                if empty {
                    self.root_closed = true;
                }
            }
            1 if is_contact => {
                let number = number.unwrap_or(Number::Source(0..0));
                if number.get(self.text).is_empty() {
                    self.warn(
                        pos,
                        "contact without a number: MicroSIP drops it when it loads the file; it \
                         is kept as it is but not listed"
                            .into(),
                    );
                }
                self.originals.push(Original {
                    extent: 0..0,
                    element: pos as u32..end as u32,
                    tag: tag.start as u32..tag.end as u32,
                    number,
                    removed: false,
                    edits: Vec::new(),
                });
                let index = self.originals.len() - 1;
                if empty {
                    self.finish_contact(index, end);
                } else {
                    contact = Some(index);
                }
            }
            1 => {
                self.root
                    .as_mut()
                    .expect("depth 1 is the root")
                    .other_content = true;
            }
            _ => {
                if name == "contact" {
                    self.warn(
                        pos,
                        "`<contact>` not directly inside `<contacts>`: MicroSIP ignores it".into(),
                    );
                }
            }
        }
        if !empty {
            self.stack.push(Open {
                name,
                start: pos,
                contact,
            });
        }
        Ok(())
    }

    fn close(&mut self, open: Open<'a>, pos: usize, end: usize) {
        if let Some(index) = open.contact {
            self.finish_contact(index, end);
        }
        if self.stack.is_empty() {
            if let Some(root) = self.root.as_mut() {
                root.end = Some(pos as u32..end as u32);
            }
            self.root_closed = true;
        }
    }

    fn finish_contact(&mut self, index: usize, end: usize) {
        let bytes = self.text.as_bytes();
        let original = &mut self.originals[index];
        original.element.end = end as u32;
        let element = original.element.start as usize..end;
        let mut start = element.start;
        while start > 0 && matches!(bytes[start - 1], b' ' | b'\t') {
            start -= 1;
        }
        let starts_line = start == 0 || matches!(bytes[start - 1], b'\n' | b'\r');
        let mut stop = element.end;
        while stop < bytes.len() && matches!(bytes[stop], b' ' | b'\t') {
            stop += 1;
        }
        let eol = if bytes[stop..].starts_with(b"\r\n") {
            2
        } else if stop < bytes.len() && matches!(bytes[stop], b'\n' | b'\r') {
            1
        } else {
            0
        };
        original.extent = if starts_line && eol > 0 {
            start as u32..(stop + eol) as u32
        } else {
            element.start as u32..element.end as u32
        };
    }

    /// Check every attribute of a start tag; returns the `number` when asked.
    fn check_attributes(
        &mut self,
        start: &BytesStart<'_>,
        want_number: bool,
    ) -> Result<Option<Number>, ContactsError> {
        let content: &str = start.as_ref();
        let base = self.offset_of(content);
        let content_end = base + content.len();
        let bytes = self.text.as_bytes();
        let mut number = None;
        for attribute in start.attributes() {
            let attribute = match attribute {
                Ok(a) => a,
                Err(e) => {
                    let at = match &e {
                        AttrError::ExpectedEq(p)
                        | AttrError::ExpectedValue(p)
                        | AttrError::UnquotedValue(p)
                        | AttrError::ExpectedQuote(p, _)
                        | AttrError::Duplicated(p, _) => *p,
                    };
                    let message = e.to_string();
                    let message = message
                        .split_once(": ")
                        .map_or(message.as_str(), |(_, m)| m)
                        .to_string();
                    return Err(self.error(base + at, ContactsErrorKind::Malformed(message)));
                }
            };
            let value: &str = match &attribute.value {
                std::borrow::Cow::Borrowed(v) => v,
                std::borrow::Cow::Owned(_) => {
                    return Err(self.error(
                        base,
                        ContactsErrorKind::Malformed("unreadable attribute".into()),
                    ))
                }
            };
            let value_start = self.offset_of(value);
            let value_end = value_start + value.len();
            // quick-xml accepts `a="1"b="2"`; XML wants a space between attributes.
            let after = value_end + 1;
            if after < content_end && !is_xml_space(bytes[after] as char) {
                return Err(self.error(
                    after,
                    ContactsErrorKind::Malformed(
                        "attributes must be separated by whitespace".into(),
                    ),
                ));
            }
            // One pass over the bytes finds both characters that need a closer look.
            let special = value.bytes().position(|b| b == b'<' || b == b'&');
            let Some(first_special) = special else {
                let key: &str = attribute.key.as_ref();
                if want_number && key == Field::Number.attribute() {
                    number = Some(Number::Source(value_start as u32..value_end as u32));
                }
                continue;
            };
            if let Some(lt) = value[first_special..].find('<') {
                return Err(self.error(
                    value_start + first_special + lt,
                    ContactsErrorKind::LtInAttribute,
                ));
            }
            match scan_references(value) {
                Err((at, bad)) => return Err(self.error(value_start + at, bad_reference(bad))),
                Ok(Some(at)) => {
                    let reference = &value[at..at + value[at..].find(';').unwrap_or(0) + 1];
                    let message = format!(
                        "`{reference}` is shown literally by MicroSIP, which decodes only &amp; \
                         &lt; &gt; &quot; &apos; and &#39; (write the character itself)"
                    );
                    self.warn(value_start + at, message);
                }
                Ok(None) => {}
            }
            let key: &str = attribute.key.as_ref();
            if want_number && key == Field::Number.attribute() {
                number = Some(Number::Decoded(decode(value).into()));
            }
        }
        Ok(number)
    }
}

fn bad_reference(bad: BadReference) -> ContactsErrorKind {
    match bad {
        BadReference::BareAmpersand => ContactsErrorKind::BareAmpersand,
        BadReference::Undefined(name) => ContactsErrorKind::UndefinedEntity(name),
        BadReference::BadCharRef(text) => ContactsErrorKind::BadCharRef(text),
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

#[cfg(test)]
mod tests;
