//! The lossless Win32 INI engine: the one component no library gives us.
//!
//! [`IniDocument`] reads an INI file exactly as `GetPrivateProfileStringW` does on Windows and
//! prints back, byte for byte, everything it did not change: comments, order, spacing, unknown
//! keys and sections, duplicates, the BOM, each line's own line ending, the encoding.
//! [`codec`] decides the encoding as Windows does (`FF FE` = UTF-16LE, anything else = the ANSI
//! code page), [`document`] holds the lines and their Win32 meaning and makes edits, and
//! [`lint`] reports what MicroSIP or Windows will silently ignore or misread.
//!
//! Specification: `shared/docs/win32-ini-rules.md`, `windows-build.md` and `microsip-formats.md`
//! §1.2–1.3. rust-ini is not used here: it drops comments and the BOM, reorders keys and cannot
//! read UTF-16 (`crates.md` §2).

pub mod codec;
pub mod document;
pub mod lint;

pub use codec::{CodePage, DecodeError, Encoding, Eol, ForeignBom, Unrepresentable};
pub use document::{
    EditError, IniDocument, IniView, KeyView, Newline, SectionView, SetOutcome, WIN32_VALUE_WRAP,
};
pub use lint::{Lint, LintKind};
