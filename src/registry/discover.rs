//! Finding MicroSIP's executable when the manifest does not name it.
//!
//! The order follows how MicroSIP itself decides it is installed (`microsip-formats.md` §1.1,
//! `settings.cpp` `Init`): the default value of `HKCU\Software\MicroSIP`, then of
//! `HKLM\Software\MicroSIP`, names the install folder. A 32-bit installer on 64-bit Windows writes
//! the HKLM one to the 32-bit view, so `HKLM\Software\WOW6432Node\MicroSIP` is read too. Then the
//! usual install folders: `%ProgramFiles%\MicroSIP`, `%ProgramFiles(x86)%\MicroSIP`,
//! `%LOCALAPPDATA%\MicroSIP` (a per-user install: MicroSIP's `/reset` spares that folder when it
//! holds `Uninstall.exe`, §4) and `%LOCALAPPDATA%\Programs\MicroSIP`. The first candidate whose
//! `microsip.exe` exists wins; a registry value pointing at a folder without it is skipped.
//!
//! Environment variables and file checks go through [`DiscoveryEnv`] so tests can fake them.
//! Paths are Windows paths held as strings (joined with `\` on every platform).

use std::fmt;

use serde::Serialize;

use super::desired::sandboxed;
use super::{Hive, RegData, Registry, RegistryError, ValuePath, INSTALL_KEY, MICROSIP_EXE_NAME};

/// Environment variables and file checks, as discovery needs them.
pub trait DiscoveryEnv {
    /// The value of an environment variable, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
    /// Whether `path` (a Windows path) is an existing regular file.
    fn is_file(&self, path: &str) -> bool;
}

/// The real environment and file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEnv;

impl DiscoveryEnv for SystemEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn is_file(&self, path: &str) -> bool {
        std::path::Path::new(path).is_file()
    }
}

/// Where the executable path came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ExeSource {
    /// Given in the manifest (or by the caller).
    Given,
    /// The install folder named by a registry default value (`HKEY_CURRENT_USER\Software\MicroSIP`
    /// and so on).
    InstallKey {
        /// The full key path that named the folder.
        key: String,
    },
    /// A usual install folder below an environment variable.
    KnownFolder {
        /// The variable, e.g. `ProgramFiles(x86)`.
        variable: String,
    },
}

impl fmt::Display for ExeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExeSource::Given => f.write_str("given"),
            ExeSource::InstallKey { key } => write!(f, "install folder named by {key}"),
            ExeSource::KnownFolder { variable } => write!(f, "found below %{variable}%"),
        }
    }
}

/// The executable and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveredExe {
    /// Full Windows path of `microsip.exe`.
    pub path: String,
    /// Where the path came from.
    pub source: ExeSource,
}

/// The registry keys whose default value names MicroSIP's install folder, in the order they are
/// read (the last one is the 32-bit view of HKLM on 64-bit Windows).
pub const INSTALL_KEYS: [(Hive, &str); 3] = [
    (Hive::CurrentUser, INSTALL_KEY),
    (Hive::LocalMachine, INSTALL_KEY),
    (Hive::LocalMachine, r"Software\WOW6432Node\MicroSIP"),
];

/// The usual install folders: (environment variable, folder below it), in the order tried.
pub const KNOWN_FOLDERS: [(&str, &str); 4] = [
    ("ProgramFiles", "MicroSIP"),
    ("ProgramFiles(x86)", "MicroSIP"),
    ("LOCALAPPDATA", "MicroSIP"),
    ("LOCALAPPDATA", r"Programs\MicroSIP"),
];

/// Find `microsip.exe`: the install folder named in the registry ([`INSTALL_KEYS`], below
/// `sandbox` if given), then [`KNOWN_FOLDERS`]. A registry read error is returned (it names the
/// key); a missing key, value or file moves on to the next candidate.
pub fn discover_exe(
    registry: &dyn Registry,
    env: &dyn DiscoveryEnv,
    sandbox: Option<&str>,
) -> Result<DiscoveredExe, RegistryError> {
    let mut searched = Vec::new();
    for (hive, key) in INSTALL_KEYS {
        let path = ValuePath::new(hive, sandboxed(sandbox, key), None);
        let data = registry
            .get(&path)
            .map_err(|e| RegistryError::io("read", path.to_string(), e))?;
        let folder = match data {
            Some(RegData::Sz(folder)) if !folder.trim().is_empty() => folder,
            _ => {
                searched.push(format!("{path} (not set)"));
                continue;
            }
        };
        let exe = join_windows(folder.trim(), MICROSIP_EXE_NAME);
        if env.is_file(&exe) && validate_exe(&exe).is_ok() {
            return Ok(DiscoveredExe {
                path: exe,
                source: ExeSource::InstallKey {
                    key: path.key_path(),
                },
            });
        }
        searched.push(format!("{exe} (named by {path})"));
    }
    for (variable, folder) in KNOWN_FOLDERS {
        let Some(base) = env.var(variable) else {
            searched.push(format!("%{variable}%\\{folder} (variable not set)"));
            continue;
        };
        let exe = join_windows(&join_windows(&base, folder), MICROSIP_EXE_NAME);
        if env.is_file(&exe) && validate_exe(&exe).is_ok() {
            return Ok(DiscoveredExe {
                path: exe,
                source: ExeSource::KnownFolder {
                    variable: variable.to_string(),
                },
            });
        }
        searched.push(exe);
    }
    Err(RegistryError::ExeNotFound { searched })
}

/// `folder\name`, with exactly one backslash between them.
pub(crate) fn join_windows(folder: &str, name: &str) -> String {
    format!("{}\\{name}", folder.trim_end_matches(['\\', '/']))
}

/// Can `exe` be written into `"<exe>" /minimized` and `"<exe>" "%1"`? It must be an absolute
/// Windows path (`C:\...` or `\\server\share\...`) without quotes or control characters.
pub fn validate_exe(exe: &str) -> Result<(), RegistryError> {
    let bytes = exe.as_bytes();
    let drive_absolute =
        bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'\\';
    let reason = if exe.trim().is_empty() {
        Some("it is empty")
    } else if exe.contains('"') {
        Some("it contains a double quote, which cannot be quoted in a command line")
    } else if exe.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if !(drive_absolute || exe.starts_with(r"\\")) {
        Some("it is not an absolute Windows path (C:\\... or \\\\server\\share\\...)")
    } else if exe.ends_with(['\\', ' ']) {
        Some("it ends with a backslash or a blank, so it names no file")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RegistryError::InvalidExe {
            exe: exe.to_string(),
            reason: reason.to_string(),
        }),
        None => Ok(()),
    }
}
