//! One contact as MicroSIP reads and writes it: the 17 attributes, their order, MicroSIP's escaping
//! and its default sort.
//!
//! [`Field`] names the 17 attributes in the order MicroSIP writes them (`microsip-formats.md`
//! §2.1), [`Contact`] holds their values as MicroSIP reads them (§2.2: text as decoded, flags true
//! only for `"1"`) plus any attribute MicroSIP does not know, and [`escape`] / [`decode`] are
//! MicroSIP's own character rules: exactly five characters escaped on write, those five plus
//! `&#39;` decoded on read, nothing else.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

/// One of the 17 attributes MicroSIP 3.21.6 and 3.22.16 write for every contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `name`: the display name (empty: derived, see [`Contact::display_name`]).
    Name,
    /// `number`: the key; a contact without one is dropped by MicroSIP.
    Number,
    /// `firstname`.
    Firstname,
    /// `lastname`.
    Lastname,
    /// `phone`.
    Phone,
    /// `mobile`.
    Mobile,
    /// `email`.
    Email,
    /// `address`.
    Address,
    /// `city`.
    City,
    /// `state`.
    State,
    /// `zip`.
    Zip,
    /// `comment`.
    Comment,
    /// `id`: free text (other tools store a CRM id here).
    Id,
    /// `info`: the last presence text (3.22.16 reads it only for presence or directory rows).
    Info,
    /// `presence`: flag, subscribe to BLF/presence.
    Presence,
    /// `starred`: flag, a favourite sorted to the top (3.21+).
    Starred,
    /// `directory`: flag, the row belongs to MicroSIP's remote phone book.
    Directory,
}

impl Field {
    /// All 17, in MicroSIP's write order (`microsip-formats.md` §2.1).
    pub const ALL: [Field; 17] = [
        Field::Name,
        Field::Number,
        Field::Firstname,
        Field::Lastname,
        Field::Phone,
        Field::Mobile,
        Field::Email,
        Field::Address,
        Field::City,
        Field::State,
        Field::Zip,
        Field::Comment,
        Field::Id,
        Field::Info,
        Field::Presence,
        Field::Starred,
        Field::Directory,
    ];

    /// The attribute name as MicroSIP spells it.
    pub fn attribute(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Number => "number",
            Field::Firstname => "firstname",
            Field::Lastname => "lastname",
            Field::Phone => "phone",
            Field::Mobile => "mobile",
            Field::Email => "email",
            Field::Address => "address",
            Field::City => "city",
            Field::State => "state",
            Field::Zip => "zip",
            Field::Comment => "comment",
            Field::Id => "id",
            Field::Info => "info",
            Field::Presence => "presence",
            Field::Starred => "starred",
            Field::Directory => "directory",
        }
    }

    /// The field for an attribute name, exactly as MicroSIP looks it up (case-sensitive, §2.2).
    pub fn from_attribute(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.attribute() == name)
    }

    /// Whether the field is one of the three `0`/`1` flags.
    pub fn is_flag(self) -> bool {
        matches!(self, Field::Presence | Field::Starred | Field::Directory)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attribute())
    }
}

/// A set of [`Field`]s: which fields an imported record actually gives (a CSV without a `city`
/// column leaves every contact's city alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FieldSet(u32);

impl FieldSet {
    /// No field.
    pub const EMPTY: FieldSet = FieldSet(0);
    /// All 17 fields.
    pub const ALL: FieldSet = FieldSet((1 << 17) - 1);

    /// Add a field.
    pub fn insert(&mut self, field: Field) {
        self.0 |= field.bit();
    }

    /// Whether the set holds `field`.
    pub fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }

    /// The fields in the set, in MicroSIP's order.
    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Field> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Field>>(iter: I) -> FieldSet {
        let mut set = FieldSet::EMPTY;
        for field in iter {
            set.insert(field);
        }
        set
    }
}

/// One contact: the 17 fields as MicroSIP reads them, and the attributes it does not know.
///
/// Text fields hold decoded values (`&amp;` is `&`). Flags are `true` only for the exact value
/// `"1"` (`microsip-formats.md` §2.2). `extra` keeps unknown attributes in file order; MicroSIP
/// itself drops them at its next save (§2.2), this tool never does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// `name`.
    pub name: String,
    /// `number`: the key contacts are matched by.
    pub number: String,
    /// `firstname`.
    pub firstname: String,
    /// `lastname`.
    pub lastname: String,
    /// `phone`.
    pub phone: String,
    /// `mobile`.
    pub mobile: String,
    /// `email`.
    pub email: String,
    /// `address`.
    pub address: String,
    /// `city`.
    pub city: String,
    /// `state`.
    pub state: String,
    /// `zip`.
    pub zip: String,
    /// `comment`.
    pub comment: String,
    /// `id`.
    pub id: String,
    /// `info`.
    pub info: String,
    /// `presence="1"`.
    pub presence: bool,
    /// `starred="1"`.
    pub starred: bool,
    /// `directory="1"`: owned by MicroSIP's remote phone book.
    pub directory: bool,
    /// Attributes MicroSIP does not know, `(name, decoded value)`, in file order.
    pub extra: Vec<(String, String)>,
}

impl Contact {
    /// A contact with a number and a name, every other field empty.
    pub fn new(number: impl Into<String>, name: impl Into<String>) -> Contact {
        Contact {
            number: number.into(),
            name: name.into(),
            ..Contact::default()
        }
    }

    /// A text field, `None` for the three flags.
    pub fn text(&self, field: Field) -> Option<&str> {
        Some(match field {
            Field::Name => &self.name,
            Field::Number => &self.number,
            Field::Firstname => &self.firstname,
            Field::Lastname => &self.lastname,
            Field::Phone => &self.phone,
            Field::Mobile => &self.mobile,
            Field::Email => &self.email,
            Field::Address => &self.address,
            Field::City => &self.city,
            Field::State => &self.state,
            Field::Zip => &self.zip,
            Field::Comment => &self.comment,
            Field::Id => &self.id,
            Field::Info => &self.info,
            Field::Presence | Field::Starred | Field::Directory => return None,
        })
    }

    fn text_mut(&mut self, field: Field) -> Option<&mut String> {
        Some(match field {
            Field::Name => &mut self.name,
            Field::Number => &mut self.number,
            Field::Firstname => &mut self.firstname,
            Field::Lastname => &mut self.lastname,
            Field::Phone => &mut self.phone,
            Field::Mobile => &mut self.mobile,
            Field::Email => &mut self.email,
            Field::Address => &mut self.address,
            Field::City => &mut self.city,
            Field::State => &mut self.state,
            Field::Zip => &mut self.zip,
            Field::Comment => &mut self.comment,
            Field::Id => &mut self.id,
            Field::Info => &mut self.info,
            Field::Presence | Field::Starred | Field::Directory => return None,
        })
    }

    /// A flag, `None` for text fields.
    pub fn flag(&self, field: Field) -> Option<bool> {
        match field {
            Field::Presence => Some(self.presence),
            Field::Starred => Some(self.starred),
            Field::Directory => Some(self.directory),
            _ => None,
        }
    }

    /// A field's value as MicroSIP writes it: the text, or `"1"`/`"0"` for a flag.
    pub fn get(&self, field: Field) -> &str {
        match self.flag(field) {
            Some(true) => "1",
            Some(false) => "0",
            None => self.text(field).unwrap_or_default(),
        }
    }

    /// Set a field from an attribute value as MicroSIP reads it: a flag becomes `true` only for
    /// exactly `"1"` (§2.2).
    pub fn set(&mut self, field: Field, value: &str) {
        match field {
            Field::Presence => self.presence = value == "1",
            Field::Starred => self.starred = value == "1",
            Field::Directory => self.directory = value == "1",
            _ => {
                if let Some(text) = self.text_mut(field) {
                    value.clone_into(text);
                }
            }
        }
    }

    /// Set a flag.
    pub fn set_flag(&mut self, field: Field, value: bool) {
        match field {
            Field::Presence => self.presence = value,
            Field::Starred => self.starred = value,
            Field::Directory => self.directory = value,
            _ => {}
        }
    }

    /// Whether `field` reads the same in both contacts (flags compared as MicroSIP reads them).
    pub fn same(&self, other: &Contact, field: Field) -> bool {
        self.get(field) == other.get(field)
    }

    /// An unknown attribute's value.
    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Set an attribute by name: one of the 17 fields, or an unknown attribute (added at the end
    /// of `extra` if new).
    pub fn set_attribute(&mut self, name: &str, value: &str) {
        if let Some(field) = Field::from_attribute(name) {
            self.set(field, value);
        } else if let Some(slot) = self.extra.iter_mut().find(|(n, _)| n == name) {
            value.clone_into(&mut slot.1);
        } else {
            self.extra.push((name.to_string(), value.to_string()));
        }
    }

    /// An attribute's value by name (fields as written, `"1"`/`"0"` for flags).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        match Field::from_attribute(name) {
            Some(field) => Some(self.get(field)),
            None => self.extra(name),
        }
    }

    /// The name MicroSIP shows and sorts by (`microsip-formats.md` §2.2, `ContactPrepare`):
    /// `name`; if empty, `firstname lastname` (or `firstname` alone when both are equal), trimmed;
    /// if still empty, `number`.
    pub fn display_name(&self) -> Cow<'_, str> {
        if !self.name.is_empty() {
            return Cow::Borrowed(&self.name);
        }
        let joined = if self.firstname == self.lastname {
            self.firstname.clone()
        } else {
            format!("{} {}", self.firstname, self.lastname)
        };
        let trimmed = joined.trim_matches(TRIM);
        if trimmed.is_empty() {
            Cow::Borrowed(&self.number)
        } else {
            Cow::Owned(trimmed.to_string())
        }
    }

    /// MicroSIP's default list order (`microsip-formats.md` §2.1, `CListCtrl_SortItemsEx`):
    /// starred first, then the display name compared by UTF-16 code unit (`_tcscmp`:
    /// case-sensitive, Latin before CJK, and characters beyond U+FFFF by their surrogates).
    pub fn microsip_order(&self, other: &Contact) -> Ordering {
        other
            .starred
            .cmp(&self.starred)
            .then_with(|| utf16_cmp(&self.display_name(), &other.display_name()))
    }

    /// The element exactly as MicroSIP writes it (§2.1): `<contact` and all 17 attributes in
    /// order, `name="value"` with one space between, MicroSIP's five escapes, no numeric
    /// character references, `/>` right after the last quote. Unknown attributes follow the 17
    /// (MicroSIP would drop them; this tool keeps what it was given).
    pub fn to_microsip_element(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<contact");
        for field in Field::ALL {
            push_attribute(&mut out, field.attribute(), self.get(field));
        }
        for (name, value) in &self.extra {
            push_attribute(&mut out, name, value);
        }
        out.push_str("/>");
        out
    }
}

/// The characters `CString::Trim` removes around the derived display name.
const TRIM: &[char] = &[' ', '\t', '\r', '\n'];

fn push_attribute(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    out.push_str(&escape(value));
    out.push('"');
}

/// Compare two strings by UTF-16 code units, as `wcscmp` does on Windows.
pub fn utf16_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// MicroSIP's escaping (`microsip-formats.md` §2.1, CMarkup `x_TextToDoc`): exactly `&` `<` `>`
/// `'` `"` become `&amp;` `&lt;` `&gt;` `&apos;` `&quot;`; everything else, control characters
/// and line breaks included, is written raw.
pub fn escape(value: &str) -> Cow<'_, str> {
    if !value.contains(['&', '<', '>', '\'', '"']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// What [`scan_references`] found wrong in a raw attribute value or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BadReference {
    /// `&` that does not start a reference.
    BareAmpersand,
    /// `&name;` for an entity XML does not predefine (never expanded).
    Undefined(String),
    /// `&#...;` that is not a valid character.
    BadCharRef(String),
}

/// Check every `&` in `raw`. Returns the offset of the first numeric character reference other
/// than `&#39;` (MicroSIP shows those literally, §2.1), or the offset and kind of the first
/// malformed or undefined reference.
pub(crate) fn scan_references(raw: &str) -> Result<Option<usize>, (usize, BadReference)> {
    let mut numeric = None;
    let bytes = raw.as_bytes();
    let mut from = 0;
    while let Some(found) = raw[from..].find('&') {
        let at = from + found;
        let rest = &raw[at + 1..];
        let Some(semi) = rest.find(';') else {
            return Err((at, BadReference::BareAmpersand));
        };
        let name = &rest[..semi];
        if let Some(number) = name.strip_prefix('#') {
            let value = match number.strip_prefix('x') {
                Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()
                }
                None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                    number.parse::<u32>().ok()
                }
                _ => None,
            };
            match value.and_then(char::from_u32) {
                Some(c) if c != '\0' => {
                    if name != "#39" && numeric.is_none() {
                        numeric = Some(at);
                    }
                }
                _ => return Err((at, BadReference::BadCharRef(format!("&{name};")))),
            }
        } else if !matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
            {
                return Err((at, BadReference::BareAmpersand));
            }
            return Err((at, BadReference::Undefined(name.to_string())));
        }
        from = at + 1 + semi + 1;
        debug_assert!(from <= bytes.len());
    }
    Ok(numeric)
}

/// Decode a raw attribute value as MicroSIP does (§2.1): the five named references and `&#39;`
/// become characters; every other `&...;` (numeric references included) stays literally.
pub fn decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains('&') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let mut matched = false;
        for (entity, c) in [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&apos;", '\''),
            ("&#39;", '\''),
        ] {
            if let Some(after) = tail.strip_prefix(entity) {
                out.push(c);
                rest = after;
                matched = true;
                break;
            }
        }
        if !matched {
            out.push('&');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Whether `name` can be written as an XML attribute name (a conservative subset of XML's
/// `Name`: a letter or `_` first, then letters, digits, `_`, `-`, `.`, `:`).
pub fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_exactly_microsips_five() {
        assert_eq!(
            escape("Tom & Jerry's <\"Café\">\t\r\n"),
            "Tom &amp; Jerry&apos;s &lt;&quot;Café&quot;&gt;\t\r\n"
        );
        assert!(matches!(escape("李雷 😀"), Cow::Borrowed(_)));
    }

    #[test]
    fn decoding_is_microsips_six() {
        assert_eq!(
            decode("&amp;&lt;&gt;&quot;&apos;&#39;&#233;&#x27;&amp"),
            "&<>\"''&#233;&#x27;&amp"
        );
        for text in ["", "a&b", "&&&", "李&amp;雷", "&#39;&#39"] {
            assert_eq!(decode(&escape(text)), text);
        }
    }

    #[test]
    fn references_are_checked() {
        assert_eq!(scan_references("a &amp; &#39; b"), Ok(None));
        assert_eq!(scan_references("x&#233;"), Ok(Some(1)));
        assert_eq!(scan_references("&#x1F600;"), Ok(Some(0)));
        assert_eq!(
            scan_references("ab & c"),
            Err((3, BadReference::BareAmpersand))
        );
        assert_eq!(
            scan_references("&lol;"),
            Err((0, BadReference::Undefined("lol".into())))
        );
        assert!(matches!(
            scan_references("&#0;"),
            Err((0, BadReference::BadCharRef(_)))
        ));
        assert!(matches!(
            scan_references("&#xD800;"),
            Err((0, BadReference::BadCharRef(_)))
        ));
    }

    #[test]
    fn display_name_follows_contact_prepare() {
        let mut c = Contact::new("100", "");
        assert_eq!(c.display_name(), "100");
        c.firstname = "Anna".into();
        assert_eq!(c.display_name(), "Anna");
        c.lastname = "Anna".into();
        assert_eq!(c.display_name(), "Anna");
        c.lastname = "Müller".into();
        assert_eq!(c.display_name(), "Anna Müller");
        c.firstname.clear();
        assert_eq!(c.display_name(), "Müller");
        c.name = "Boss".into();
        assert_eq!(c.display_name(), "Boss");
    }

    #[test]
    fn order_is_starred_then_utf16() {
        let mut names = [
            Contact::new("1", "李雷"),
            Contact::new("2", "\"Big Mike\""),
            Contact::new("3", "Reception"),
            Contact::new("4", "reception"),
            Contact::new("5", "😀"),
            Contact::new("6", "\u{FF21}"),
            Contact {
                starred: true,
                ..Contact::new("7", "Zed")
            },
        ];
        names.sort_by(|a, b| a.microsip_order(b));
        let order: Vec<&str> = names.iter().map(|c| c.number.as_str()).collect();
        // U+1F600 is D83D DE00 in UTF-16: before U+FF21, although its scalar value is larger.
        assert_eq!(order, ["7", "2", "3", "4", "1", "5", "6"]);
    }

    #[test]
    fn element_is_written_like_microsip() {
        let mut c = Contact::new("2002", "\"Big Mike\" O'Neil");
        c.info = "Ready".into();
        c.presence = true;
        assert_eq!(
            c.to_microsip_element(),
            "<contact name=\"&quot;Big Mike&quot; O&apos;Neil\" number=\"2002\" firstname=\"\" \
             lastname=\"\" phone=\"\" mobile=\"\" email=\"\" address=\"\" city=\"\" state=\"\" \
             zip=\"\" comment=\"\" id=\"\" info=\"Ready\" presence=\"1\" starred=\"0\" \
             directory=\"0\"/>"
        );
    }

    #[test]
    fn fields_and_sets() {
        assert_eq!(Field::ALL.len(), 17);
        for f in Field::ALL {
            assert_eq!(Field::from_attribute(f.attribute()), Some(f));
        }
        assert_eq!(Field::from_attribute("Name"), None);
        let set: FieldSet = [Field::Number, Field::Starred].into_iter().collect();
        assert!(set.contains(Field::Number) && !set.contains(Field::Name));
        assert_eq!(set.iter().count(), 2);
        assert_eq!(FieldSet::ALL.iter().count(), 17);
        assert!(
            is_attribute_name("x-crm:id") && !is_attribute_name("1x") && !is_attribute_name("a b")
        );
    }
}
