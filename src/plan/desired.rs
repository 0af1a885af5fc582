//! The target state of one profile, already rendered for its user: plain values, no templates.
//!
//! Both the manifest pipeline (`plan`/`apply`) and the imperative `account` verbs build one of
//! these, so they share every merge rule.

use crate::manifest::Secret;

/// Everything the manifest wants in one profile's `microsip.ini`.
#[derive(Debug, Default)]
pub struct DesiredProfile {
    /// Accounts to create or keep in line, in manifest order.
    pub accounts: Vec<DesiredAccount>,
    /// Ids of managed accounts to remove.
    pub removed_accounts: Vec<String>,
    /// `[Settings]` keys with their policies.
    pub settings: Vec<DesiredSetting>,
    /// Speed-dial buttons, if the manifest provisions them.
    pub shortcuts: Option<DesiredShortcuts>,
    /// `true` when `accounts` lists every account this tool should manage (a manifest): ids
    /// missing from it become unmanaged. `false` for the one-off `account` verbs, which leave
    /// the other managed accounts' records alone.
    pub complete: bool,
    /// The company directory to merge into `Contacts.xml` (shared by every user of a manifest).
    pub directory: Option<std::sync::Arc<Vec<crate::contacts::Contact>>>,
    /// Delete calls older than this many days from the profile's history.
    pub history_retention_days: Option<u32>,
    /// What this target was rendered from, when it came from a manifest without warnings: the
    /// inputs of the no-change fingerprint (`crate::profile::fingerprint`).
    pub inputs: Option<RenderInputs>,
}

/// Everything a manifest target is rendered from for one user, without rendering it: the
/// manifest and its templates, the user's row and profile name (as one digest of everything that
/// is not secret) and the resolved passwords. Rendering is a pure function of these, so equal
/// inputs mean an equal target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderInputs {
    /// xxh3-128 of the tool version, the manifest, its templates, the profile's user name and
    /// the user's row without its password columns.
    pub digest: u128,
    /// `(account id, password)` of every account with a password, in manifest order. Kept
    /// apart from the digest: a fast hash must never be taken of a secret.
    pub secrets: Vec<(String, Secret)>,
}

/// One SIP account.
#[derive(Debug)]
pub struct DesiredAccount {
    /// Stable id (survives label renames).
    pub id: String,
    /// The label to write.
    pub label: String,
    /// Rendered `[AccountN]` keys other than `label` and `password`, in template order.
    pub keys: Vec<(String, String)>,
    /// The password, when the manifest gives one and its source resolved.
    pub password: Option<Secret>,
    /// `true` when the manifest names a password source that did not resolve (warned about).
    pub password_missing: bool,
    /// Whether this account becomes `[Settings] accountId`.
    pub active: bool,
}

impl DesiredAccount {
    /// The rendered value of `key` (case-insensitive), if the manifest sets it.
    pub fn key(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// How a setting is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingPolicy {
    /// Written at every run.
    Enforce,
    /// Written only when the key is missing: the user may change it later.
    Default,
    /// Removed when present.
    Remove,
}

/// One `[Settings]` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredSetting {
    /// The key.
    pub key: String,
    /// The rendered value (`None` for [`SettingPolicy::Remove`]).
    pub value: Option<String>,
    /// The policy.
    pub policy: SettingPolicy,
}

/// When speed dials are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortcutPolicy {
    /// The list is made exactly this at every run.
    Enforce,
    /// Only when the user has no speed dials at all.
    IfEmpty,
}

/// The `[Shortcuts]` list, already encoded as MicroSIP's values
/// (`label;number;type;number2;presence;label2`, `microsip-formats.md` §1.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredShortcuts {
    /// The policy.
    pub policy: ShortcutPolicy,
    /// Values for keys `0`, `1`, … in order.
    pub values: Vec<String>,
}
