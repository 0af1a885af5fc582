//! MicroSIP's `Contacts.xml`, read and edited without loss.
//!
//! [`ContactsDocument`] keeps the file's original bytes and the byte ranges quick-xml finds in
//! them; printing an unmodified document gives back the same bytes, and an edit changes only the
//! bytes it is about (a value between its quotes, a new line for a new contact, a removed line),
//! written exactly as MicroSIP writes them (`microsip-formats.md` §2.1) so MicroSIP's next save
//! moves nothing. [`contact`] holds the 17 fields, MicroSIP's escaping and its sort order;
//! [`exchange`] converts contacts to and from CSV, JSON and MicroSIP XML; [`import`] plans an
//! import (matched by `number`) and the managed company-directory merge; [`store`] reads and
//! writes a profile's `Contacts.xml` under the same lock, backup and atomic-write rules as the
//! INI.
//!
//! Specification: `shared/docs/microsip-formats.md` §2 (bytes written, reading semantics) and
//! `crates.md` §3 (why the bytes are patched and never re-serialised).

pub mod contact;
pub mod document;
pub mod error;
pub mod exchange;
pub mod import;
pub mod store;

pub use contact::{decode, escape, utf16_cmp, Contact, Field, FieldSet};
pub use document::{
    ContactsDocument, FieldChange, UpsertOutcome, MAX_DEPTH, MAX_FILE_SIZE, MICROSIP_EMPTY,
};
pub use error::{ContactsError, ContactsErrorKind, EditError, Warning};
pub use exchange::{ContactRecord, ExchangeError, Format};
pub use import::{import_records, merge_managed, ContactChange, ImportSummary, ManagedMerge};
