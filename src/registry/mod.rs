//! The registry side of provisioning: MicroSIP's autostart value and the `sip:`, `tel:` and
//! `callto:` URL protocol handlers, planned and applied like the files are.
//!
//! Why the tool touches the registry at all (`microsip-formats.md` §1.1): MicroSIP registers its
//! own autostart (`HKCU\Software\Microsoft\Windows\CurrentVersion\Run\MicroSIP` =
//! `"<exe>" /minimized`) only on a first run in installed mode, that is only when no INI existed;
//! a pre-provisioned `microsip.ini` therefore skips it, and the tool must set the Run value itself
//! when autostart is wanted. The exe path comes from the manifest or is discovered the way
//! MicroSIP finds its own install folder: the default value of `HKCU\Software\MicroSIP`, then
//! `HKLM\Software\MicroSIP` (§1.1), then the usual install folders ([`discover`]). URL protocol
//! handlers follow Microsoft's "Registering an Application to a URI Scheme" (key named after the
//! scheme, default value `URL:<name> Protocol`, an empty `URL Protocol` string, `DefaultIcon`, and
//! `shell\open\command` = `"<exe>" "%1"`), written below `HKCU\Software\Classes`, the per-user
//! half of `HKEY_CLASSES_ROOT`, so no administrator rights are needed.
//!
//! The pipeline mirrors [`crate::plan`] and [`crate::apply`]: [`RegistryOptions`] (from the
//! manifest) resolve to a [`DesiredRegistry`]; [`plan_registry`] compares it with a [`Registry`]
//! and returns [`RegistryChange`]s without writing anything; [`apply_registry`] writes exactly
//! those changes, skipping any value that already holds the wanted data, so a second run plans and
//! writes nothing. [`to_reg_file`] renders the same entries as a `.reg` file for admins who deploy
//! registry settings through Group Policy Preferences instead.
//!
//! Three [`Registry`] implementations exist: [`SystemRegistry`], the real one through the Win32
//! registry API on Windows, which on any other platform cannot be opened and reports
//! [`RegistryError::NotApplicable`] instead (never a fake); and [`MemoryRegistry`], an in-memory
//! fake for tests. Every key the desired state names can be moved below a sandbox key
//! ([`RegistryOptions::sandbox`]) so tests write into `HKCU\Software\<sandbox>\...` and never into
//! the real Run or Classes keys.
//!
//! Known limit, not fixable here: since Windows 8 a per-user choice made in Settings > Default
//! apps (`...\Shell\Associations\UrlAssociations\<scheme>\UserChoice`, hash-protected) wins over
//! `HKEY_CLASSES_ROOT`; where a user picked another app for `tel:`, the handler written here is
//! only used once the user (or a default-associations policy) picks MicroSIP.

pub mod desired;
pub mod discover;
mod memory;
pub mod plan;
pub mod regfile;
mod system;

use std::fmt;
use std::io;

use serde::Serialize;

pub use desired::{DesiredEntry, DesiredRegistry, RegistryOptions, UrlProtocol};
pub use discover::{discover_exe, DiscoveredExe, DiscoveryEnv, ExeSource, SystemEnv};
pub use memory::MemoryRegistry;
pub use plan::{apply_registry, plan_registry, RegistryChange, RegistryChangeKind};
pub use regfile::{to_reg_file, RegEntry};
pub use system::SystemRegistry;

/// The name MicroSIP registers under: the Run value's name and the `Software\MicroSIP` key
/// (`_GLOBAL_NAME_NICE`, `microsip-formats.md` §1.1).
pub const MICROSIP_NAME: &str = "MicroSIP";
/// The executable's file name in an installed copy (§1.1: the INI name follows it).
pub const MICROSIP_EXE_NAME: &str = "microsip.exe";
/// The key MicroSIP reads its install folder from (default value), below HKCU then HKLM (§1.1).
pub const INSTALL_KEY: &str = r"Software\MicroSIP";
/// The per-user autostart key; MicroSIP's own value there is named [`MICROSIP_NAME`] (§1.1).
pub const RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
/// The per-user half of `HKEY_CLASSES_ROOT`, where URL protocol handlers are registered.
pub const CLASSES_KEY: &str = r"Software\Classes";

/// A registry hive (root key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hive {
    /// `HKEY_CURRENT_USER`: everything this tool writes.
    CurrentUser,
    /// `HKEY_LOCAL_MACHINE`: only read, to find a machine-wide MicroSIP install.
    LocalMachine,
}

impl Hive {
    /// The full name, as `.reg` files and `regedit` spell it: `HKEY_CURRENT_USER`.
    pub fn long_name(self) -> &'static str {
        match self {
            Hive::CurrentUser => "HKEY_CURRENT_USER",
            Hive::LocalMachine => "HKEY_LOCAL_MACHINE",
        }
    }

    /// The abbreviation `reg.exe` accepts: `HKCU`.
    pub fn short_name(self) -> &'static str {
        match self {
            Hive::CurrentUser => "HKCU",
            Hive::LocalMachine => "HKLM",
        }
    }
}

impl fmt::Display for Hive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.long_name())
    }
}

impl Serialize for Hive {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.long_name())
    }
}

/// `REG_SZ`, as `winnt.h` numbers the value types.
pub const REG_SZ: u32 = 1;
/// `REG_EXPAND_SZ`.
pub const REG_EXPAND_SZ: u32 = 2;
/// `REG_BINARY`.
pub const REG_BINARY: u32 = 3;
/// `REG_DWORD` (little-endian).
pub const REG_DWORD: u32 = 4;
/// `REG_MULTI_SZ`.
pub const REG_MULTI_SZ: u32 = 7;
/// `REG_QWORD` (little-endian).
pub const REG_QWORD: u32 = 11;

/// The data of one registry value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegData {
    /// `REG_SZ`: a string, stored as UTF-16LE with its terminating NUL. It must not contain NUL
    /// itself (readers would stop there); [`Registry::set`] refuses one.
    Sz(String),
    /// `REG_DWORD`: a 32-bit number.
    Dword(u32),
    /// Any other type, or a `REG_SZ`/`REG_DWORD` whose bytes are not a valid string/number, as
    /// found in the registry: the raw type code and bytes. This tool never plans to write one, but
    /// reads them so that a wrong type shows as an update.
    Other {
        /// The type code (`REG_EXPAND_SZ` = 2, `REG_BINARY` = 3, ...).
        kind: u32,
        /// The raw data.
        bytes: Vec<u8>,
    },
}

impl RegData {
    /// The type code: [`REG_SZ`], [`REG_DWORD`] or the stored one.
    pub fn kind(&self) -> u32 {
        match self {
            RegData::Sz(_) => REG_SZ,
            RegData::Dword(_) => REG_DWORD,
            RegData::Other { kind, .. } => *kind,
        }
    }

    /// The type's name as `reg.exe` prints it: `REG_SZ`, `REG_DWORD`, ... (`REG_TYPE_<n>` for an
    /// unusual one).
    pub fn type_name(&self) -> String {
        type_name(self.kind())
    }

    /// The bytes the registry stores: UTF-16LE plus the terminating NUL for `REG_SZ`, four
    /// little-endian bytes for `REG_DWORD`.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            RegData::Sz(text) => utf16_bytes_with_nul(text),
            RegData::Dword(n) => n.to_le_bytes().to_vec(),
            RegData::Other { bytes, .. } => bytes.clone(),
        }
    }

    /// Decode stored bytes the way readers see them: a `REG_SZ` up to its first NUL, a 4-byte
    /// `REG_DWORD`; anything else (or undecodable) stays [`RegData::Other`].
    pub fn from_bytes(kind: u32, bytes: &[u8]) -> RegData {
        match kind {
            REG_SZ => {
                let units: Vec<u16> = bytes
                    .chunks_exact(2)
                    .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                    .take_while(|&unit| unit != 0)
                    .collect();
                match String::from_utf16(&units) {
                    Ok(text) => RegData::Sz(text),
                    Err(_) => RegData::Other {
                        kind,
                        bytes: bytes.to_vec(),
                    },
                }
            }
            REG_DWORD if bytes.len() == 4 => {
                RegData::Dword(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            _ => RegData::Other {
                kind,
                bytes: bytes.to_vec(),
            },
        }
    }

    /// The data for people: `REG_SZ: "C:\...\microsip.exe" /minimized` (the text as stored, not
    /// escaped), `REG_SZ: (empty string)`, `REG_DWORD: 10 (0x0000000a)`, `REG_BINARY: 01,02`.
    pub fn describe(&self) -> String {
        match self {
            RegData::Sz(text) if text.is_empty() => "REG_SZ: (empty string)".to_string(),
            RegData::Sz(text) => format!("REG_SZ: {text}"),
            RegData::Dword(n) => format!("REG_DWORD: {n} (0x{n:08x})"),
            RegData::Other { kind, bytes } => {
                let shown = if matches!(*kind, REG_EXPAND_SZ | REG_SZ) {
                    match RegData::from_bytes(REG_SZ, bytes) {
                        RegData::Sz(text) => text,
                        _ => hex_list(bytes),
                    }
                } else {
                    hex_list(bytes)
                };
                format!("{}: {shown}", type_name(*kind))
            }
        }
    }
}

impl Serialize for RegData {
    /// `{"type": "REG_SZ", "data": "..."}`, `{"type": "REG_DWORD", "data": 10}`; other types give
    /// their [`RegData::describe`] text without the type prefix.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("RegData", 2)?;
        state.serialize_field("type", &self.type_name())?;
        match self {
            RegData::Sz(text) => state.serialize_field("data", text)?,
            RegData::Dword(n) => state.serialize_field("data", n)?,
            RegData::Other { .. } => {
                let text = self.describe();
                let data = text.split_once(": ").map_or("", |(_, rest)| rest);
                state.serialize_field("data", data)?
            }
        }
        state.end()
    }
}

/// `REG_SZ`, `REG_DWORD`, ... for a type code.
fn type_name(kind: u32) -> String {
    match kind {
        0 => "REG_NONE".into(),
        REG_SZ => "REG_SZ".into(),
        REG_EXPAND_SZ => "REG_EXPAND_SZ".into(),
        REG_BINARY => "REG_BINARY".into(),
        REG_DWORD => "REG_DWORD".into(),
        5 => "REG_DWORD_BIG_ENDIAN".into(),
        6 => "REG_LINK".into(),
        REG_MULTI_SZ => "REG_MULTI_SZ".into(),
        REG_QWORD => "REG_QWORD".into(),
        other => format!("REG_TYPE_{other}"),
    }
}

/// `01,02,ff`: bytes as `.reg` files and `reg.exe` list them.
fn hex_list(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// UTF-16LE bytes of `text` followed by a NUL unit: how `REG_SZ` data is stored.
pub(crate) fn utf16_bytes_with_nul(text: &str) -> Vec<u8> {
    text.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// Where one value lives: hive, key below it, and value name (`None` = the key's default value,
/// `(Default)` in regedit, `@` in `.reg` files).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValuePath {
    /// The hive.
    pub hive: Hive,
    /// The key below the hive, backslash-separated, e.g.
    /// `Software\Microsoft\Windows\CurrentVersion\Run`.
    pub key: String,
    /// The value name; `None` for the default value.
    pub name: Option<String>,
}

impl ValuePath {
    /// A path from its parts.
    pub fn new(hive: Hive, key: impl Into<String>, name: Option<&str>) -> ValuePath {
        ValuePath {
            hive,
            key: key.into(),
            name: name.map(str::to_string),
        }
    }

    /// The full key path: `HKEY_CURRENT_USER\Software\...`.
    pub fn key_path(&self) -> String {
        key_path(self.hive, &self.key)
    }

    /// The value's name for people: `"MicroSIP"` (quoted), or `(Default)`.
    pub fn display_name(&self) -> String {
        display_name(self.name.as_deref())
    }
}

impl fmt::Display for ValuePath {
    /// `HKEY_CURRENT_USER\Software\...\Run, value "MicroSIP"` or `..., value (Default)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, value {}", self.key_path(), self.display_name())
    }
}

/// `HKEY_CURRENT_USER\<key>` (just the hive for an empty key).
pub(crate) fn key_path(hive: Hive, key: &str) -> String {
    if key.is_empty() {
        hive.long_name().to_string()
    } else {
        format!("{}\\{key}", hive.long_name())
    }
}

/// `"name"` or `(Default)`.
pub(crate) fn display_name(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{name:?}"),
        None => "(Default)".to_string(),
    }
}

/// One registry value with its data: what the desired state asks for, and what `set` writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryValue {
    /// The hive.
    pub hive: Hive,
    /// The key below the hive, e.g. `Software\Microsoft\Windows\CurrentVersion\Run`.
    pub key: String,
    /// The value name; `None` for the key's default value.
    pub name: Option<String>,
    /// The data.
    pub data: RegData,
}

impl RegistryValue {
    /// A value from its parts.
    pub fn new(hive: Hive, key: impl Into<String>, name: Option<&str>, data: RegData) -> Self {
        RegistryValue {
            hive,
            key: key.into(),
            name: name.map(str::to_string),
            data,
        }
    }

    /// Where the value lives.
    pub fn path(&self) -> ValuePath {
        ValuePath {
            hive: self.hive,
            key: self.key.clone(),
            name: self.name.clone(),
        }
    }
}

/// Read and write access to a registry. Implementations: [`SystemRegistry`] (Windows only) and
/// [`MemoryRegistry`] (tests). Names of keys and values are case-insensitive, as in Windows.
pub trait Registry {
    /// The value at `path`, or `None` when the value or its key does not exist.
    fn get(&self, path: &ValuePath) -> io::Result<Option<RegData>>;
    /// Create the key if needed and write the value (replacing data of any type).
    fn set(&self, value: &RegistryValue) -> io::Result<()>;
    /// Delete the value; a value or key that does not exist is not an error.
    fn delete(&self, path: &ValuePath) -> io::Result<()>;
    /// Delete `key` with all its values and subkeys; a key that does not exist is not an error.
    /// An empty `key` (a whole hive) is refused.
    fn delete_key(&self, hive: Hive, key: &str) -> io::Result<()>;
}

/// Errors of the registry side. Every message names the full key path and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// There is no Windows registry here: the registry part is reported as not applicable.
    #[error(
        "the Windows registry is not applicable on this platform ({platform}): autostart and URL \
         protocol handlers are only planned and applied on Windows; run the tool there, or use \
         `registry export` to produce a .reg file"
    )]
    NotApplicable {
        /// `std::env::consts::OS`, e.g. `linux`.
        platform: &'static str,
    },
    /// A registry operation failed.
    #[error("cannot {action} {target}: {}; {}", describe(.source), hint(.source, .target))]
    Io {
        /// What was being done, phrased to follow "cannot": `"read"`, `"write"`, `"delete"`.
        action: &'static str,
        /// The full key path, and the value when the operation was about one, e.g.
        /// `HKEY_CURRENT_USER\Software\...\Run, value "MicroSIP"`.
        target: String,
        /// The underlying error (its Win32 code is in the source chain).
        source: io::Error,
    },
    /// No MicroSIP executable was found and none was given.
    #[error(
        "MicroSIP's executable was not found (looked for: {}); install MicroSIP for this user or \
         machine first, or give its full path explicitly in the manifest",
        .searched.join("; ")
    )]
    ExeNotFound {
        /// Every place looked at, in order.
        searched: Vec<String>,
    },
    /// The MicroSIP executable path cannot be written into a command line.
    #[error("cannot use {exe:?} as MicroSIP's executable: {reason}; give the full path of microsip.exe, e.g. C:\\Program Files\\MicroSIP\\microsip.exe")]
    InvalidExe {
        /// The path as given or found.
        exe: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key name given in the options is not a valid relative key path.
    #[error("invalid registry key {key:?}: {reason}; use a relative path like Software\\Example without leading, trailing or doubled backslashes")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl RegistryError {
    /// Shorthand for [`RegistryError::Io`].
    pub(crate) fn io(action: &'static str, target: String, source: io::Error) -> Self {
        RegistryError::Io {
            action,
            target,
            source,
        }
    }

    /// The error for a platform without a Windows registry.
    pub fn not_applicable() -> Self {
        RegistryError::NotApplicable {
            platform: std::env::consts::OS,
        }
    }

    /// Whether this is [`RegistryError::NotApplicable`] (reported as such, not as a failure).
    pub fn is_not_applicable(&self) -> bool {
        matches!(self, RegistryError::NotApplicable { .. })
    }
}

/// Short description of an I/O error from the registry API.
fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "access is denied".into(),
        io::ErrorKind::NotFound => "the key does not exist".into(),
        _ => e.to_string(),
    }
}

/// What the admin can do about it.
fn hint(e: &io::Error, target: &str) -> &'static str {
    match e.kind() {
        io::ErrorKind::PermissionDenied if target.starts_with("HKEY_LOCAL_MACHINE") => {
            "HKEY_LOCAL_MACHINE needs administrator rights; this tool only reads it"
        }
        io::ErrorKind::PermissionDenied => {
            "HKEY_CURRENT_USER belongs to the logged-on user: run the tool as that user (not as \
             SYSTEM or another account), and check that no Group Policy or security software \
             locks the key"
        }
        io::ErrorKind::InvalidInput => "fix the value in the manifest",
        _ => "check the key with regedit and retry",
    }
}

#[cfg(test)]
mod tests;
