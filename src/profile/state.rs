//! The state: what this tool remembers about a profile between runs, kept in the profile's own
//! `microsip.ini`.
//!
//! MicroSIP has no notion of "managed" accounts, and users rename labels, so a manifest account
//! is remembered by its stable id with the slot it occupies (`[AccountN]`) and the label,
//! username and domain it had when we last wrote it. MicroSIP encrypts a plaintext password in
//! place on first load (`microsip-formats.md` §1.8), so we can never compare the stored value
//! with the manifest's; instead the state keeps a salted SHA-256 of the secret we provisioned —
//! never the secret — and a password is only written again when that hash changes (rotation).
//!
//! The state is one compact JSON value, `state=…`, in a section of our own, `[microsip-provision]`,
//! of the INI it describes. MicroSIP keeps sections it does not know (§5: it only writes named
//! keys, never the whole file), so the state travels with the settings: both change in the same
//! atomic replace (a crash cannot leave one updated without the other), a restored backup brings
//! its matching state back, and a user who deletes `microsip.ini` to start over deletes the state
//! with it. It also means a first apply creates no file but the INI's own temp file. Earlier
//! versions kept `<profile>\microsip-provision\state.json`; it is still read when the INI has no
//! state, and removed once the state has moved into the INI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Profile;
use crate::apply::atomic::{self, FsError};
use crate::ini::{EditError, IniDocument};

/// The INI section holding the state (and the fingerprint of [`super::fingerprint`]).
pub const STATE_SECTION: &str = "microsip-provision";

/// The key holding the state's JSON in [`STATE_SECTION`].
pub const STATE_KEY: &str = "state";

/// The state file's format version.
pub const STATE_VERSION: u32 = 1;

/// What we remember about one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// Per-profile random salt (hex) for password hashes.
    pub salt: String,
    /// Managed accounts by manifest id.
    #[serde(default)]
    pub accounts: BTreeMap<String, ManagedAccount>,
    /// Numbers of the `Contacts.xml` entries the company directory manages.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub contacts: std::collections::BTreeSet<String>,
}

/// One account this tool manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedAccount {
    /// The `N` of `[AccountN]`.
    pub slot: u32,
    /// The label we last wrote (the user may have renamed it since).
    pub label: String,
    /// The username we last wrote.
    #[serde(default)]
    pub username: String,
    /// The domain we last wrote.
    #[serde(default)]
    pub domain: String,
    /// Salted hash of the password we last provisioned (never the password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

/// A state file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The state is not valid JSON.
    #[error("{}: the state this tool keeps there is not valid ({source}); delete {} to start over (managed accounts are then found again by label)", .path.display(), state_location(.path))]
    Invalid {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The state was written by a newer version of this tool.
    #[error("{}: state version {found} is newer than this tool understands ({STATE_VERSION}); upgrade microsip-provision", .path.display())]
    TooNew {
        /// The state file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
}

/// Where a state came from, for the message that says how to start over.
fn state_location(path: &Path) -> String {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        "that file".to_string()
    } else {
        format!("its [{STATE_SECTION}] section")
    }
}

/// Where [`ProfileState::load`] found the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSource {
    /// In the INI's `[microsip-provision]` section.
    Ini,
    /// In the legacy `state.json` of earlier versions (to be moved into the INI).
    Legacy(PathBuf),
    /// Nowhere: a fresh state.
    Fresh,
}

impl ProfileState {
    /// Where earlier versions kept the state: `<profile>\microsip-provision\state.json`.
    pub fn legacy_path(profile: &Profile) -> PathBuf {
        profile.tool_dir().join("state.json")
    }

    /// A fresh state with a new random salt.
    pub fn new() -> ProfileState {
        ProfileState {
            version: STATE_VERSION,
            salt: random_salt(),
            accounts: BTreeMap::new(),
            contacts: Default::default(),
        }
    }

    /// The profile's state: from the `[microsip-provision]` section of `document` (the INI at
    /// `ini_path`, `None` when it does not exist), else from the legacy `state.json` at `legacy`,
    /// else a fresh state.
    pub fn load(
        ini_path: &Path,
        document: Option<&IniDocument>,
        legacy: &Path,
    ) -> Result<(ProfileState, StateSource), StateError> {
        if let Some(json) = document.and_then(|d| d.get(STATE_SECTION, STATE_KEY)) {
            let state = ProfileState::parse(json.as_bytes(), ini_path)?;
            return Ok((state, StateSource::Ini));
        }
        // The legacy folder is the user's to plant a link at: never read through one.
        if let Some(folder) = legacy.parent() {
            if std::fs::symlink_metadata(folder).is_ok_and(|m| m.is_symlink()) {
                return Err(StateError::Fs(FsError::SymlinkRefused {
                    path: folder.to_path_buf(),
                }));
            }
        }
        match atomic::read_file(legacy)? {
            Some(bytes) => Ok((
                ProfileState::parse(&bytes, legacy)?,
                StateSource::Legacy(legacy.to_path_buf()),
            )),
            None => Ok((ProfileState::new(), StateSource::Fresh)),
        }
    }

    /// Parse the state's JSON, read from `path` (named in errors).
    fn parse(json: &[u8], path: &Path) -> Result<ProfileState, StateError> {
        let state: ProfileState =
            serde_json::from_slice(json).map_err(|source| StateError::Invalid {
                path: path.to_path_buf(),
                source,
            })?;
        if state.version > STATE_VERSION {
            return Err(StateError::TooNew {
                path: path.to_path_buf(),
                found: state.version,
            });
        }
        Ok(state)
    }

    /// The state as one line of compact JSON (an INI value: no line break, ASCII for everything
    /// this tool generates).
    pub fn to_value(&self) -> String {
        serde_json::to_string(self).expect("state serialises")
    }

    /// Write the state into `document`'s `[microsip-provision]` section.
    pub fn store(&self, document: &mut IniDocument) -> Result<(), EditError> {
        document.set(STATE_SECTION, STATE_KEY, &self.to_value())?;
        Ok(())
    }

    /// The salted hash stored for a provisioned password.
    pub fn password_hash(&self, account_id: &str, secret: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.salt.as_bytes());
        hasher.update([0]);
        hasher.update(account_id.as_bytes());
        hasher.update([0]);
        hasher.update(secret.as_bytes());
        format!("sha256:{}", hex(&hasher.finalize()))
    }
}

impl Default for ProfileState {
    fn default() -> Self {
        ProfileState::new()
    }
}

/// 16 random bytes as 32 hex digits. Without randomness the salt is still unique per profile
/// and time; a salted hash only has to keep the secret from being read back, not resist a
/// targeted search.
pub(crate) fn random_salt() -> String {
    let mut salt = [0u8; 16];
    if getrandom::fill(&mut salt).is_err() {
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        salt.copy_from_slice(&Sha256::digest(seed.as_bytes())[..16]);
    }
    hex(&salt)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_never_contain_the_secret() {
        let a = ProfileState::new();
        let b = ProfileState::new();
        assert_ne!(a.salt, b.salt);
        let hash = a.password_hash("office", "s3cret");
        assert!(!hash.contains("s3cret"));
        assert_eq!(hash, a.password_hash("office", "s3cret"));
        assert_ne!(hash, b.password_hash("office", "s3cret"));
        assert_ne!(hash, a.password_hash("office", "s3cret2"));
    }

    #[test]
    fn round_trips_through_the_ini_and_reads_the_legacy_file() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("state.json");
        let ini = dir.path().join("microsip.ini");
        let (fresh, source) = ProfileState::load(&ini, None, &legacy).unwrap();
        assert_eq!(source, StateSource::Fresh);
        let mut document = IniDocument::new();
        fresh.store(&mut document).unwrap();
        let (again, source) = ProfileState::load(&ini, Some(&document), &legacy).unwrap();
        assert_eq!((again, source), (fresh.clone(), StateSource::Ini));

        std::fs::write(&legacy, serde_json::to_vec_pretty(&fresh).unwrap()).unwrap();
        let (old, source) = ProfileState::load(&ini, None, &legacy).unwrap();
        assert_eq!(
            (old, source),
            (fresh.clone(), StateSource::Legacy(legacy.clone()))
        );
        // The INI's own state wins over a legacy file.
        let (mine, _) = ProfileState::load(&ini, Some(&document), &legacy).unwrap();
        assert_eq!(mine, fresh);
    }

    #[test]
    fn rejects_garbage_naming_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("state.json");
        let ini = dir.path().join("microsip.ini");
        std::fs::write(&legacy, b"{not json").unwrap();
        let error = ProfileState::load(&ini, None, &legacy)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("state.json") && error.contains("delete that file"),
            "{error}"
        );
        let mut document = IniDocument::new();
        document.set(STATE_SECTION, STATE_KEY, "{oops").unwrap();
        let error = ProfileState::load(&ini, Some(&document), &legacy)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("microsip.ini")
                && error.contains("delete its [microsip-provision] section"),
            "{error}"
        );
    }
}
