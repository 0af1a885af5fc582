//! Fleet discovery: every MicroSIP profile folder under a root, safely.
//!
//! An admin points the tool at a share of roaming profiles or at `C:\Users`. A layout pattern
//! (default `{user}/AppData/Roaming/MicroSIP`) says where MicroSIP's folder sits below each user
//! folder. Roaming-profile version suffixes (`jdoe.V2` … `jdoe.V6`) map to the user `jdoe`; when two
//! folders map to one user the newest profile version wins and the other is reported.
//!
//! A user can plant a symbolic link, junction or other reparse point in their own profile to turn
//! an admin's run against another file, so no component below the root is ever followed through a
//! link: such a profile is refused with the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Profile;

/// The default layout: a user folder, then `AppData\Roaming\MicroSIP`.
pub const DEFAULT_LAYOUT: &str = "{user}/AppData/Roaming/MicroSIP";

/// A folder under the root that maps to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    /// A profile to work on.
    Profile(Profile),
    /// A folder that cannot be used, and why (counted as failed).
    Refused {
        /// The user folder's name.
        user: String,
        /// The path concerned.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// A folder passed over on purpose (counted as skipped).
    Superseded {
        /// The user.
        user: String,
        /// The older profile folder.
        path: PathBuf,
        /// The folder used instead.
        by: PathBuf,
    },
}

/// A layout pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("layout {0:?} must be a relative path whose first component is {{user}} (e.g. {DEFAULT_LAYOUT}); {1}")]
pub struct LayoutError(pub String, pub &'static str);

/// Why discovery could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The layout is unusable.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The root cannot be listed.
    #[error("cannot list the profiles root {}: {source}; check the path and your permissions", .path.display())]
    Root {
        /// The root.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Split a user folder name into the user and its roaming-profile version: `jdoe.V6` -> (`jdoe`,
/// 6); a folder without a suffix is version 1.
pub fn profile_version(folder: &str) -> (&str, u32) {
    if let Some((user, suffix)) = folder.rsplit_once('.') {
        if let Some(digits) = suffix.strip_prefix(['V', 'v']) {
            if let Ok(version) = digits.parse::<u32>() {
                if (2..=99).contains(&version) && !user.is_empty() {
                    return (user, version);
                }
            }
        }
    }
    (folder, 1)
}

/// What walking one user folder found: a MicroSIP folder, none, or a refusal (path, reason).
type Walk = Result<Option<PathBuf>, (PathBuf, String)>;

/// One user folder: its roaming-profile version, its name, and what walking it found.
type Candidate = (u32, String, Walk);

/// Is this path a link of any kind (symlink, junction, other reparse point)?
fn is_link(meta: &std::fs::Metadata) -> bool {
    if meta.file_type().is_symlink() {
        return true;
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return true;
        }
    }
    false
}

/// Walk `rest` below `base` without following a link anywhere. `Ok(None)`: a component is
/// missing (no MicroSIP there); `Err(reason)`: a link or a non-folder stands in the way.
fn walk_no_links(base: &Path, rest: &[&str]) -> Walk {
    let mut path = base.to_path_buf();
    for component in rest {
        path.push(component);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err((path, format!("cannot inspect it: {e}"))),
            Ok(meta) if is_link(&meta) => {
                return Err((
                    path,
                    "it is a symbolic link, junction or reparse point; refusing to follow it (it \
                     could point at another user's files)"
                        .to_string(),
                ))
            }
            Ok(meta) if !meta.is_dir() => {
                return Err((path, "it is not a folder".to_string()));
            }
            Ok(_) => {}
        }
    }
    // The INI itself must not be a link either (the write path refuses it again, atomically).
    let ini = path.join("microsip.ini");
    if let Ok(meta) = std::fs::symlink_metadata(&ini) {
        if is_link(&meta) {
            return Err((
                ini,
                "microsip.ini is a symbolic link or reparse point; refusing to follow it".into(),
            ));
        }
        if meta.is_dir() {
            return Err((ini, "microsip.ini is a folder, not a file".into()));
        }
    }
    Ok(Some(path))
}

/// Find every MicroSIP profile under `root` laid out as `layout`, in user-name order.
pub fn discover(root: &Path, layout: &str) -> Result<Vec<Discovered>, DiscoverError> {
    let parts: Vec<&str> = layout
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.first() != Some(&"{user}") {
        return Err(LayoutError(layout.to_string(), "it does not start with {user}").into());
    }
    if parts[1..].iter().any(|p| p.contains('{') || *p == "..") {
        return Err(LayoutError(
            layout.to_string(),
            "only the first component may be a placeholder",
        )
        .into());
    }
    let rest = &parts[1..];
    let entries = std::fs::read_dir(root).map_err(|source| DiscoverError::Root {
        path: root.to_path_buf(),
        source,
    })?;

    // user (folded) -> candidates (version, folder name, result)
    let mut by_user: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let result = match std::fs::symlink_metadata(&path) {
            Ok(meta) if is_link(&meta) => Err((
                path.clone(),
                "the user folder is a symbolic link, junction or reparse point; refusing to follow it"
                    .to_string(),
            )),
            Ok(meta) if !meta.is_dir() => continue,
            Ok(_) => walk_no_links(&path, rest),
            Err(e) => Err((path.clone(), format!("cannot inspect it: {e}"))),
        };
        let (user, version) = profile_version(&name);
        by_user
            .entry(user.to_lowercase())
            .or_default()
            .push((version, name.clone(), result));
    }

    let mut found = Vec::new();
    for (_, mut candidates) in by_user {
        // Newest profile version first; only folders that hold MicroSIP count.
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut winner: Option<PathBuf> = None;
        for (_, folder, result) in candidates {
            let (user, _) = profile_version(&folder);
            match result {
                Ok(None) => {}
                Ok(Some(dir)) => match &winner {
                    None => {
                        winner = Some(dir.clone());
                        found.push(Discovered::Profile(Profile::in_dir(dir, user)));
                    }
                    Some(by) => found.push(Discovered::Superseded {
                        user: user.to_string(),
                        path: dir,
                        by: by.clone(),
                    }),
                },
                Err((path, reason)) => found.push(Discovered::Refused {
                    user: user.to_string(),
                    path,
                    reason,
                }),
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roaming_versions() {
        assert_eq!(profile_version("jdoe.V6"), ("jdoe", 6));
        assert_eq!(profile_version("john.doe"), ("john.doe", 1));
        assert_eq!(profile_version("john.doe.v2"), ("john.doe", 2));
        assert_eq!(profile_version("jdoe"), ("jdoe", 1));
        assert_eq!(profile_version(".V2"), (".V2", 1));
    }

    #[test]
    fn layouts_must_start_with_the_user() {
        let dir = tempfile::tempdir().unwrap();
        assert!(discover(dir.path(), "MicroSIP/{user}").is_err());
        assert!(discover(dir.path(), "{user}/../x").is_err());
        assert!(discover(dir.path(), "{user}/MicroSIP").unwrap().is_empty());
    }

    #[test]
    fn newest_version_wins_and_links_are_refused() {
        let root = tempfile::tempdir().unwrap();
        for user in ["jdoe", "jdoe.V6", "anna", "nomicrosip"] {
            let dir = root.path().join(user);
            std::fs::create_dir_all(&dir).unwrap();
            if user != "nomicrosip" {
                std::fs::create_dir_all(dir.join("MicroSIP")).unwrap();
            }
        }
        #[cfg(unix)]
        {
            std::fs::create_dir_all(root.path().join("mallory")).unwrap();
            std::os::unix::fs::symlink(
                root.path().join("anna/MicroSIP"),
                root.path().join("mallory/MicroSIP"),
            )
            .unwrap();
        }
        let found = discover(root.path(), "{user}/MicroSIP").unwrap();
        let profiles: Vec<_> = found
            .iter()
            .filter_map(|d| match d {
                Discovered::Profile(p) => Some((p.user.clone(), p.dir.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            profiles,
            [
                ("anna".to_string(), root.path().join("anna/MicroSIP")),
                ("jdoe".to_string(), root.path().join("jdoe.V6/MicroSIP")),
            ]
        );
        assert!(found
            .iter()
            .any(|d| matches!(d, Discovered::Superseded { user, .. } if user == "jdoe")));
        #[cfg(unix)]
        assert!(found
            .iter()
            .any(|d| matches!(d, Discovered::Refused { user, .. } if user == "mallory")));
    }
}
