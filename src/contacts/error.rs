//! Errors and warnings of the contacts document, each with a 1-based line and column.
//!
//! A [`ContactsError`] means the file was refused as a whole: it is not read, and nothing is
//! written. A [`Warning`] is something MicroSIP reads differently from what a person might expect
//! (a contact without a number, a numeric character reference shown literally); the file is still
//! usable.

use std::fmt;

/// Why a `Contacts.xml` (or an XML import file) was refused. Nothing is ever written after one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (line {line}, column {column})")]
pub struct ContactsError {
    /// Byte offset of the problem from the start of the file (BOM included).
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub kind: ContactsErrorKind,
}

/// What is wrong with a refused file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContactsErrorKind {
    /// The file is larger than [`super::MAX_FILE_SIZE`].
    #[error("the file is {size} bytes, more than the {limit} bytes a contacts file may have")]
    TooLarge {
        /// The file's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A UTF-16 byte-order mark: MicroSIP reads Contacts.xml as UTF-8 only (§2.1).
    #[error("the file is UTF-16, but MicroSIP reads Contacts.xml as UTF-8 only")]
    Utf16,
    /// Bytes that are not UTF-8.
    #[error("invalid UTF-8 (MicroSIP reads Contacts.xml as UTF-8)")]
    InvalidUtf8,
    /// The XML is not well-formed (quick-xml's diagnosis, or ours).
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// A `<!DOCTYPE`: refused, so no entity is ever declared, let alone expanded.
    #[error("a DOCTYPE declaration is refused (MicroSIP never writes one, and entities are never expanded)")]
    Doctype,
    /// A `<!DOCTYPE` declaring entities (billion laughs, external entities).
    #[error("an entity declaration is refused (no entity is ever expanded)")]
    EntityDeclaration,
    /// `&name;` for an entity XML does not predefine.
    #[error("undefined entity `&{0};` (only &amp; &lt; &gt; &quot; &apos; and character references are allowed; nothing is expanded)")]
    UndefinedEntity(String),
    /// `&` that does not start a reference.
    #[error("`&` must be written `&amp;`")]
    BareAmpersand,
    /// A character reference that is not a character.
    #[error("`{0}` is not a valid character reference")]
    BadCharRef(String),
    /// `<` inside an attribute value.
    #[error("`<` inside an attribute value must be written `&lt;`")]
    LtInAttribute,
    /// Elements nested deeper than [`super::MAX_DEPTH`].
    #[error("elements are nested more than {0} levels deep")]
    TooDeep(usize),
    /// The root element is not `<contacts>`.
    #[error("the root element is `<{0}>`, but MicroSIP reads only `<contacts>`")]
    WrongRoot(String),
    /// A second root element, or text after the root.
    #[error("content after the `<contacts>` element: {0}")]
    AfterRoot(String),
    /// Text outside the root element.
    #[error("text outside the `<contacts>` element")]
    TextOutsideRoot,
    /// The file ends inside an element.
    #[error("the file ends inside `<{element}>` (opened at line {line}, column {column})")]
    Unclosed {
        /// The innermost open element.
        element: String,
        /// Where it was opened.
        line: usize,
        /// Where it was opened.
        column: usize,
    },
}

impl ContactsError {
    pub(crate) fn at(text: &str, offset: usize, bom: usize, kind: ContactsErrorKind) -> Self {
        let (line, column) = line_column(text, offset);
        ContactsError {
            offset: offset + bom,
            line,
            column,
            kind,
        }
    }
}

/// Something MicroSIP reads in a way worth telling the admin about. The file is still read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What MicroSIP will do.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// An edit that was refused; the document is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// No contact has this number.
    #[error("no contact has the number {0:?}")]
    NoSuchContact(String),
    /// An empty number: MicroSIP drops such a contact when it loads the file (§2.2).
    #[error("a contact needs a number: MicroSIP drops contacts without one")]
    EmptyNumber,
    /// A name that cannot be an XML attribute name, or an unknown attribute spelled like a field.
    #[error("{0:?} cannot be used as an attribute name: {1}")]
    BadAttributeName(String, &'static str),
    /// A NUL character, which MicroSIP's C strings would cut the value at.
    #[error("the value of `{0}` contains a NUL character, which MicroSIP would cut the value at")]
    Nul(String),
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let text = "ab\r\n李雷x\ny";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (2, 1));
        assert_eq!(line_column(text, 10), (2, 3));
        assert_eq!(line_column(text, 12), (3, 1));
        assert_eq!(line_column(text, 99), (3, 2));
    }
}
