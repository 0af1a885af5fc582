//! The state file: what this tool remembers about a profile between runs.
//!
//! MicroSIP has no notion of "managed" accounts, and users rename labels, so a manifest account
//! is remembered by its stable id with the slot it occupies (`[AccountN]`) and the label,
//! username and domain it had when we last wrote it. MicroSIP encrypts a plaintext password in
//! place on first load (`microsip-formats.md` §1.8), so we can never compare the stored value
//! with the manifest's; instead the state keeps a salted SHA-256 of the secret we provisioned —
//! never the secret — and a password is only written again when that hash changes (rotation).
//!
//! The file is `<profile>\microsip-provision\state.json`, written atomically like everything else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Profile;
use crate::apply::atomic::{self, FsError};

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
    /// The file is not valid state JSON.
    #[error("{}: the state file is not valid ({source}); delete it to start over (managed accounts are then found again by label)", .path.display())]
    Invalid {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The file was written by a newer version of this tool.
    #[error("{}: state version {found} is newer than this tool understands ({STATE_VERSION}); upgrade microsip-provision", .path.display())]
    TooNew {
        /// The state file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
}

impl ProfileState {
    /// Where the profile's state file lives.
    pub fn path(profile: &Profile) -> PathBuf {
        profile.tool_dir().join("state.json")
    }

    /// A fresh state with a new random salt.
    pub fn new() -> ProfileState {
        let mut salt = [0u8; 16];
        // Without randomness the salt is still unique per profile and time; the hash only has to
        // keep the secret from being read back, not resist a targeted search.
        if getrandom::fill(&mut salt).is_err() {
            let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
            salt.copy_from_slice(&Sha256::digest(seed.as_bytes())[..16]);
        }
        ProfileState {
            version: STATE_VERSION,
            salt: hex(&salt),
            accounts: BTreeMap::new(),
            contacts: Default::default(),
        }
    }

    /// Load the state file; a missing file is a fresh state. Also returns the bytes read, so the
    /// caller can skip writing an unchanged state.
    pub fn load(path: &Path) -> Result<(ProfileState, Option<Vec<u8>>), StateError> {
        let Some(bytes) = atomic::read_file(path)? else {
            return Ok((ProfileState::new(), None));
        };
        let state: ProfileState =
            serde_json::from_slice(&bytes).map_err(|source| StateError::Invalid {
                path: path.to_path_buf(),
                source,
            })?;
        if state.version > STATE_VERSION {
            return Err(StateError::TooNew {
                path: path.to_path_buf(),
                found: state.version,
            });
        }
        Ok((state, Some(bytes)))
    }

    /// The file's bytes: pretty JSON and a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("state serialises");
        bytes.push(b'\n');
        bytes
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
    fn round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let (fresh, bytes) = ProfileState::load(&path).unwrap();
        assert!(bytes.is_none());
        std::fs::write(&path, fresh.to_bytes()).unwrap();
        assert_eq!(ProfileState::load(&path).unwrap().0, fresh);
        std::fs::write(&path, b"{not json").unwrap();
        let error = ProfileState::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("state.json") && error.contains("delete it"),
            "{error}"
        );
    }
}
