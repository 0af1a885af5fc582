//! Desired registry state -> changes -> writes.
//!
//! [`plan_registry`] only reads: it compares each [`DesiredEntry`] with the registry and returns
//! one [`RegistryChange`] per difference (none when everything is already right). No value here is
//! secret: the data are command lines, display names and empty strings, shown as they are.
//! [`apply_registry`] writes those changes, re-reading each value first and skipping any that
//! already holds the wanted state, so a repeated apply writes nothing.

use serde::Serialize;

use super::desired::{command_starts, DesiredEntry, DesiredRegistry};
use super::{
    display_name, key_path, Hive, RegData, Registry, RegistryError, RegistryValue, ValuePath,
};

/// What happens to one value or key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistryChangeKind {
    /// A value is created (and its key, if missing).
    Added,
    /// A value's data (or type) changes.
    Updated,
    /// A value is deleted.
    Removed,
    /// A whole key is deleted with its values and subkeys (a URL protocol handler).
    KeyRemoved,
}

/// One planned registry change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryChange {
    /// The hive.
    pub hive: Hive,
    /// The key below the hive.
    pub key: String,
    /// The value name (`None`: the default value; always `None` for [`RegistryChangeKind::KeyRemoved`]).
    pub name: Option<String>,
    /// What happens.
    pub kind: RegistryChangeKind,
    /// The data before (for `Updated` and `Removed`; for `KeyRemoved`, the handler's
    /// `shell\open\command` that showed it is MicroSIP's: apply deletes the key only while that
    /// command is unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<RegData>,
    /// The data after (for `Added` and `Updated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<RegData>,
    /// Why, when it is not obvious.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RegistryChange {
    /// The value this change is about (meaningless for `KeyRemoved`, whose name is `None`).
    pub fn path(&self) -> ValuePath {
        ValuePath {
            hive: self.hive,
            key: self.key.clone(),
            name: self.name.clone(),
        }
    }

    /// The full key path: `HKEY_CURRENT_USER\Software\...`.
    pub fn key_path(&self) -> String {
        key_path(self.hive, &self.key)
    }

    /// A one-line description, e.g.
    /// `[HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run] "MicroSIP" added = REG_SZ: "C:\...\microsip.exe" /minimized`.
    pub fn describe(&self) -> String {
        let data = |d: &Option<RegData>| d.as_ref().map_or_else(String::new, RegData::describe);
        let name = display_name(self.name.as_deref());
        let key = self.key_path();
        let mut text = match self.kind {
            RegistryChangeKind::Added => format!("[{key}] {name} added = {}", data(&self.new)),
            RegistryChangeKind::Updated => {
                format!("[{key}] {name}: {} -> {}", data(&self.old), data(&self.new))
            }
            RegistryChangeKind::Removed => {
                format!("[{key}] {name} removed (was {})", data(&self.old))
            }
            RegistryChangeKind::KeyRemoved => format!(
                "[{key}] removed with all its values and subkeys (open command was {})",
                data(&self.old)
            ),
        };
        if let Some(reason) = &self.reason {
            text.push_str(&format!(" ({reason})"));
        }
        text
    }

    /// The value this change writes, for `Added` and `Updated`.
    pub fn new_value(&self) -> Option<RegistryValue> {
        self.new.as_ref().map(|data| RegistryValue {
            hive: self.hive,
            key: self.key.clone(),
            name: self.name.clone(),
            data: data.clone(),
        })
    }
}

/// Compare `desired` with `registry` and list what must change. Writes nothing. A read error
/// names the key and stops planning.
pub fn plan_registry(
    desired: &DesiredRegistry,
    registry: &dyn Registry,
) -> Result<Vec<RegistryChange>, RegistryError> {
    let read = |path: &ValuePath| {
        registry
            .get(path)
            .map_err(|e| RegistryError::io("read", path.to_string(), e))
    };
    let mut changes = Vec::new();
    for entry in &desired.entries {
        match entry {
            DesiredEntry::Value(value) => {
                let current = read(&value.path())?;
                let kind = match &current {
                    None => RegistryChangeKind::Added,
                    Some(data) if *data == value.data => continue,
                    Some(_) => RegistryChangeKind::Updated,
                };
                changes.push(RegistryChange {
                    hive: value.hive,
                    key: value.key.clone(),
                    name: value.name.clone(),
                    kind,
                    old: current,
                    new: Some(value.data.clone()),
                    reason: None,
                });
            }
            DesiredEntry::NoValue(path) => {
                if let Some(current) = read(path)? {
                    changes.push(RegistryChange {
                        hive: path.hive,
                        key: path.key.clone(),
                        name: path.name.clone(),
                        kind: RegistryChangeKind::Removed,
                        old: Some(current),
                        new: None,
                        reason: None,
                    });
                }
            }
            DesiredEntry::NoMicrosipHandler {
                protocol,
                key,
                exe_name,
            } => {
                let command = handler_command(Hive::CurrentUser, key);
                let current = read(&command)?;
                let ours = match &current {
                    Some(RegData::Sz(text)) => command_starts(text, exe_name),
                    _ => false,
                };
                if ours {
                    changes.push(RegistryChange {
                        hive: Hive::CurrentUser,
                        key: key.clone(),
                        name: None,
                        kind: RegistryChangeKind::KeyRemoved,
                        old: current,
                        new: None,
                        reason: Some(format!(
                            "{protocol}: links open {exe_name}, and the manifest no longer lists {protocol}"
                        )),
                    });
                }
            }
        }
    }
    Ok(changes)
}

/// Write `changes` (from [`plan_registry`]) to `registry`, in order. Each value is re-read first:
/// one that already holds the new data (or is already gone) is not written again. Stops at the
/// first failure; the error names the key and value.
pub fn apply_registry(
    changes: &[RegistryChange],
    registry: &dyn Registry,
) -> Result<(), RegistryError> {
    for change in changes {
        let path = change.path();
        let current = || {
            registry
                .get(&path)
                .map_err(|e| RegistryError::io("read", path.to_string(), e))
        };
        match change.kind {
            RegistryChangeKind::Added | RegistryChangeKind::Updated => {
                let Some(value) = change.new_value() else {
                    continue;
                };
                if current()?.as_ref() == Some(&value.data) {
                    continue;
                }
                registry
                    .set(&value)
                    .map_err(|e| RegistryError::io("write", path.to_string(), e))?;
            }
            RegistryChangeKind::Removed => {
                if current()?.is_none() {
                    continue;
                }
                registry
                    .delete(&path)
                    .map_err(|e| RegistryError::io("delete", path.to_string(), e))?;
            }
            RegistryChangeKind::KeyRemoved => {
                // Delete only while the open command that marked the handler as MicroSIP's is
                // still there: gone means already removed, changed means another program took the
                // scheme over since the plan.
                let command = handler_command(change.hive, &change.key);
                let now = registry
                    .get(&command)
                    .map_err(|e| RegistryError::io("read", command.to_string(), e))?;
                if now.is_none() || (change.old.is_some() && now != change.old) {
                    continue;
                }
                registry
                    .delete_key(change.hive, &change.key)
                    .map_err(|e| RegistryError::io("delete", change.key_path(), e))?;
            }
        }
    }
    Ok(())
}

/// The default value of `<key>\shell\open\command`: what a URL protocol handler starts.
fn handler_command(hive: Hive, key: &str) -> ValuePath {
    ValuePath::new(hive, format!("{key}\\shell\\open\\command"), None)
}
