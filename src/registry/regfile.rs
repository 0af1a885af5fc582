//! `.reg` export: the same registry entries as a file that `regedit`, `reg import` or Group
//! Policy Preferences can apply.
//!
//! Format, per Microsoft KB 310516 ("How to add, modify, or delete registry subkeys and values by
//! using a .reg file") and checked byte for byte against Wine's `reg export`
//! (`programs/reg/export.c`), which the Windows test stage also runs as an oracle:
//!
//! * UTF-16LE with a byte order mark (`FF FE`), CRLF line ends;
//! * first line `Windows Registry Editor Version 5.00`;
//! * each key block starts with a blank line, then `[HKEY_CURRENT_USER\<key>]` (full hive name);
//!   `[-HKEY_CURRENT_USER\<key>]` deletes the key with everything below it;
//! * one line per value: `"name"=` or `@=` for the default value, then `"data"` for `REG_SZ`,
//!   `dword:0000000a` (eight lowercase hex digits) for `REG_DWORD`, `-` to delete the value, or
//!   `hex:`/`hex(<type>):` comma-separated bytes for other types;
//! * inside quotes `\` is written `\\` and `"` is written `\"` (regedit's own escaping; Wine's
//!   `escape_string` does the same and also writes CR and LF in a *name* as `\r` and `\n`);
//! * a `REG_SZ` holding CR, LF or NUL, which regedit cannot write as quoted text, is written as
//!   `hex(1):` with its UTF-16LE bytes and terminating NUL, lines wrapped like Wine's export
//!   (`,\` then two blanks once a line reaches 77 characters);
//! * the file ends with a blank line.

use super::desired::{DesiredEntry, DesiredRegistry};
use super::plan::{RegistryChange, RegistryChangeKind};
use super::{key_path, utf16_bytes_with_nul, Hive, RegData, RegistryValue, ValuePath};
use super::{REG_BINARY, REG_SZ};

/// The first line of every file.
pub const REG_HEADER: &str = "Windows Registry Editor Version 5.00";

/// Wine's export wraps hex data once a line reaches this many characters.
const MAX_HEX_CHARS: usize = 77;

/// One entry of a `.reg` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegEntry {
    /// Set a value (creating its key).
    Set(RegistryValue),
    /// Delete a value: `"name"=-`.
    DeleteValue(ValuePath),
    /// Delete a key with all its values and subkeys: `[-HKEY_...\key]`.
    DeleteKey {
        /// The hive.
        hive: Hive,
        /// The key below the hive.
        key: String,
    },
    /// A comment line (`; text`), in a block of its own.
    Comment(String),
}

impl From<RegistryValue> for RegEntry {
    fn from(value: RegistryValue) -> Self {
        RegEntry::Set(value)
    }
}

impl From<&RegistryChange> for RegEntry {
    /// The change as a `.reg` entry: `Added`/`Updated` set the new data, `Removed` deletes the
    /// value, `KeyRemoved` deletes the key.
    fn from(change: &RegistryChange) -> Self {
        match (change.kind, change.new_value()) {
            (RegistryChangeKind::Added | RegistryChangeKind::Updated, Some(value)) => {
                RegEntry::Set(value)
            }
            (RegistryChangeKind::KeyRemoved, _) => RegEntry::DeleteKey {
                hive: change.hive,
                key: change.key.clone(),
            },
            _ => RegEntry::DeleteValue(change.path()),
        }
    }
}

impl RegEntry {
    /// The whole desired state as `.reg` entries, independent of any machine's registry (what
    /// `registry export` writes for Group Policy Preferences). A conditional handler removal
    /// cannot be expressed in a `.reg` file (it would delete another program's handler too), so it
    /// becomes a comment saying so.
    pub fn from_desired(desired: &DesiredRegistry) -> Vec<RegEntry> {
        desired
            .entries
            .iter()
            .map(|entry| match entry {
                DesiredEntry::Value(value) => RegEntry::Set(value.clone()),
                DesiredEntry::NoValue(path) => RegEntry::DeleteValue(path.clone()),
                DesiredEntry::NoMicrosipHandler {
                    protocol,
                    key,
                    exe_name,
                } => RegEntry::Comment(format!(
                    "{protocol}: not exported: the tool removes HKEY_CURRENT_USER\\{key} only \
                     when its open command starts {exe_name}, which a .reg file cannot check"
                )),
            })
            .collect()
    }

    /// The key this entry is in, if it is a value entry.
    fn value_key(&self) -> Option<(Hive, &str)> {
        match self {
            RegEntry::Set(value) => Some((value.hive, &value.key)),
            RegEntry::DeleteValue(path) => Some((path.hive, &path.key)),
            _ => None,
        }
    }
}

/// Render `entries` as a `.reg` file (UTF-16LE with BOM). Consecutive values of one key share a
/// `[key]` block; entries keep their order, so a key deletion followed by values re-creates it.
pub fn to_reg_file(entries: &[RegEntry]) -> Vec<u8> {
    let mut text = String::new();
    text.push_str(REG_HEADER);
    text.push_str("\r\n");
    let mut open_key: Option<(Hive, &str)> = None;
    for entry in entries {
        match entry {
            RegEntry::Set(_) | RegEntry::DeleteValue(_) => {
                let here = entry.value_key();
                if open_key.is_none() || open_key != here {
                    let (hive, key) = here.unwrap_or((Hive::CurrentUser, ""));
                    text.push_str(&format!("\r\n[{}]\r\n", key_path(hive, key)));
                    open_key = here;
                }
                match entry {
                    RegEntry::Set(value) => value_line(&mut text, value),
                    RegEntry::DeleteValue(path) => {
                        text.push_str(&name_part(path.name.as_deref()));
                        text.push('-');
                    }
                    _ => {}
                }
                text.push_str("\r\n");
            }
            RegEntry::DeleteKey { hive, key } => {
                text.push_str(&format!("\r\n[-{}]\r\n", key_path(*hive, key)));
                open_key = None;
            }
            RegEntry::Comment(comment) => {
                text.push_str("\r\n");
                for line in comment.lines() {
                    text.push_str(&format!("; {line}\r\n"));
                }
                open_key = None;
            }
        }
    }
    text.push_str("\r\n");
    let mut bytes = Vec::with_capacity(2 + text.len() * 2);
    bytes.extend_from_slice(&[0xFF, 0xFE]);
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

/// `"name"=` (escaped) or `@=`.
fn name_part(name: Option<&str>) -> String {
    match name {
        Some(name) if !name.is_empty() => format!("\"{}\"=", escape(name, true)),
        _ => "@=".to_string(),
    }
}

/// One `name=data` line, without the line end.
fn value_line(text: &mut String, value: &RegistryValue) {
    let name = name_part(value.name.as_deref());
    text.push_str(&name);
    match &value.data {
        RegData::Sz(data) if !data.contains(['\r', '\n', '\0']) => {
            text.push('"');
            text.push_str(&escape(data, false));
            text.push('"');
        }
        RegData::Sz(data) => hex_data(text, &name, REG_SZ, &utf16_bytes_with_nul(data)),
        RegData::Dword(n) => text.push_str(&format!("dword:{n:08x}")),
        RegData::Other { kind, bytes } => hex_data(text, &name, *kind, bytes),
    }
}

/// `\` -> `\\`, `"` -> `\"`; in names also CR -> `\r`, LF -> `\n` (Wine's convention).
fn escape(text: &str, name: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\r' if name => out.push_str("\\r"),
            '\n' if name => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `hex:` or `hex(<type>):` and the bytes, wrapped as Wine's export wraps them.
fn hex_data(text: &mut String, name: &str, kind: u32, bytes: &[u8]) {
    let prefix = if kind == REG_BINARY {
        "hex:".to_string()
    } else {
        format!("hex({kind:x}):")
    };
    text.push_str(&prefix);
    let mut line_len = name.encode_utf16().count() + prefix.len();
    for (i, byte) in bytes.iter().enumerate() {
        text.push_str(&format!("{byte:02x}"));
        if i + 1 == bytes.len() {
            break;
        }
        text.push(',');
        line_len += 3;
        if line_len >= MAX_HEX_CHARS {
            text.push_str("\\\r\n  ");
            line_len = 2;
        }
    }
}
