//! Target state -> plan: what one profile should look like, and what must change to get there.
//!
//! chezmoi's pipeline: the manifest rendered for one user is a [`DesiredProfile`] (the target
//! state); [`merge::merge`] applies it to the profile's current [`crate::ini::IniDocument`] under
//! MicroSIP's rules (account slots, passwords, `accountId`, setting policies, speed dials) and
//! records every [`Change`]; [`diff`] shows the before/after text as a unified diff with every
//! secret redacted. Planning is pure: it reads documents and writes nothing. `plan` stops here;
//! `apply` hands the same plan to [`crate::apply`], so a dry run and a real run cannot disagree.

pub mod desired;
pub mod diff;
pub mod merge;
pub mod target;

use serde::Serialize;

pub use desired::{
    DesiredAccount, DesiredProfile, DesiredSetting, DesiredShortcuts, RenderInputs, SettingPolicy,
    ShortcutPolicy,
};

/// What happened to one key or section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A key was added.
    Added,
    /// A key's value changed.
    Updated,
    /// A key was removed.
    Removed,
    /// A whole section was removed.
    SectionRemoved,
    /// A section moved to another name (an account slot shifted down).
    SectionRenamed,
}

/// One change to the INI file. Secret values are never stored here: `old` and `new` are `None`
/// for secret keys (`keys::is_secret`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The section (for a rename, the old name).
    pub section: String,
    /// The key, if the change is about one key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What happened.
    pub kind: ChangeKind,
    /// The value before (never for secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The value after, or the new section name for a rename (never for secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// Whether the value is a secret (shown as `<redacted>`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// Why, when it is not obvious (e.g. "password rotated").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Change {
    /// A one-line description, secrets redacted.
    pub fn describe(&self) -> String {
        let value = |v: &Option<String>| {
            if self.secret {
                "<redacted>".to_string()
            } else {
                format!("{:?}", v.as_deref().unwrap_or(""))
            }
        };
        let key = self.key.as_deref().unwrap_or("");
        let mut text = match self.kind {
            ChangeKind::Added => format!("[{}] {key} added = {}", self.section, value(&self.new)),
            ChangeKind::Updated => format!(
                "[{}] {key}: {} -> {}",
                self.section,
                value(&self.old),
                value(&self.new)
            ),
            ChangeKind::Removed => format!("[{}] {key} removed", self.section),
            ChangeKind::SectionRemoved => format!("[{}] removed", self.section),
            ChangeKind::SectionRenamed => format!(
                "[{}] moved to [{}]",
                self.section,
                self.new.as_deref().unwrap_or("")
            ),
        };
        if let Some(reason) = &self.reason {
            text.push_str(&format!(" ({reason})"));
        }
        text
    }
}

/// A note about the plan that is not a change (e.g. a secret source that is missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What to tell the admin.
    pub message: String,
}
