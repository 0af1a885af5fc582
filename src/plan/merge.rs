//! The merge: a [`DesiredProfile`] applied to one `microsip.ini` under MicroSIP's rules.
//!
//! Rules (`microsip-formats.md` §1.7–§1.10, issue 3):
//! - A managed account keeps its slot across runs: found through the state file (slot plus the
//!   label/username/domain we last wrote, so a label the user renamed still matches), else by
//!   label, else by the same username and domain; a new account fills the first gap, as MicroSIP
//!   does (§1.9). Accounts the manifest does not name are never touched.
//! - Removing an account never leaves a gap (MicroSIP hides everything after one): later
//!   sections move down whole, unknown keys included, and `accountId` follows.
//! - A password is written only when the account is new, its stored password is empty, or the
//!   manifest's secret changed since we last wrote it (salted hash in the state file), because
//!   MicroSIP encrypts plaintext in place on first load (§1.8): no churn at every logon.
//! - `[Settings] accountId` is always written (absent, MicroSIP activates nothing, §1.9).
//! - `[Shortcuts]` is a list MicroSIP rewrites whole (§1.10).

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Change, ChangeKind, DesiredAccount, DesiredProfile, SettingPolicy, ShortcutPolicy, Warning,
};
use crate::ini::{EditError, IniDocument, SetOutcome};
use crate::keys::{self, SectionKind};
use crate::profile::state::{ManagedAccount, ProfileState};

const SETTINGS: &str = "Settings";
const SHORTCUTS: &str = "Shortcuts";
const ACCOUNT_ID: &str = "accountId";

/// What the merge did.
#[derive(Debug, Default)]
pub struct MergeOutcome {
    /// Every change to the INI, in order.
    pub changes: Vec<Change>,
    /// Things the admin should know that are not changes.
    pub warnings: Vec<Warning>,
    /// Whether the file had to be converted to UTF-16LE to hold a value.
    pub converted_to_utf16: bool,
}

/// A merge that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// An edit was refused by the INI engine.
    #[error("[{section}] {key}: {source}")]
    Edit {
        /// The section.
        section: String,
        /// The key.
        key: String,
        /// Why.
        source: EditError,
    },
    /// MicroSIP shows at most 100 accounts (§1.9).
    #[error("account {id:?} needs a new slot, but all {} account slots are taken; remove accounts first", keys::ACCOUNT_SLOT_LIMIT)]
    NoFreeSlot {
        /// The account's id.
        id: String,
    },
}

/// What an account section says about who it is.
#[derive(Debug, Clone, Default)]
struct SlotInfo {
    label: String,
    username: String,
    domain: String,
}

impl SlotInfo {
    /// MicroSIP treats an account with an empty domain as absent (§1.7, §1.9).
    fn loads(&self) -> bool {
        !self.domain.is_empty()
    }
}

/// Applies edits to the document and records each one as a [`Change`].
struct Editor<'a> {
    document: &'a mut IniDocument,
    outcome: MergeOutcome,
}

impl Editor<'_> {
    fn set(
        &mut self,
        section: &str,
        key: &str,
        value: &str,
        reason: Option<&str>,
    ) -> Result<(), MergeError> {
        let old = self.document.get(section, key);
        let result = match self.document.set(section, key, value) {
            Err(EditError::Unrepresentable(_)) => {
                // MicroSIP converts every file without a UTF-16LE BOM at its next start anyway
                // (§1.2), so converting is what the user's own MicroSIP would do.
                self.document.convert_to_utf16le();
                self.outcome.converted_to_utf16 = true;
                self.document.set(section, key, value)
            }
            other => other,
        };
        let secret = keys::is_secret(section, key);
        let outcome = result.map_err(|source| MergeError::Edit {
            section: section.to_string(),
            key: key.to_string(),
            // An error must never echo a secret value.
            source: match source {
                EditError::LineBreak { what, .. } if secret => EditError::LineBreak {
                    what,
                    text: "<redacted>".to_string(),
                },
                other => other,
            },
        })?;
        if outcome == SetOutcome::Unchanged {
            return Ok(());
        }
        self.outcome.changes.push(Change {
            section: section.to_string(),
            key: Some(key.to_string()),
            kind: if old.is_some() {
                ChangeKind::Updated
            } else {
                ChangeKind::Added
            },
            old: if secret { None } else { old },
            new: (!secret).then(|| value.to_string()),
            secret,
            reason: reason.map(str::to_string),
        });
        Ok(())
    }

    fn remove_key(&mut self, section: &str, key: &str) {
        let old = self.document.get(section, key);
        if self.document.remove_key(section, key) {
            let secret = keys::is_secret(section, key);
            self.outcome.changes.push(Change {
                section: section.to_string(),
                key: Some(key.to_string()),
                kind: ChangeKind::Removed,
                old: if secret { None } else { old },
                new: None,
                secret,
                reason: None,
            });
        }
    }

    fn warn(&mut self, message: String) {
        self.outcome.warnings.push(Warning { message });
    }

    /// `[AccountN]` sections that exist, by N (N ≥ 1), with what identifies them.
    fn account_slots(&self) -> BTreeMap<u32, SlotInfo> {
        self.document
            .section_names()
            .into_iter()
            .filter_map(|name| match keys::classify(&name) {
                Some((SectionKind::Account, Some(slot))) if slot >= keys::FIRST_ACCOUNT_INDEX => {
                    let get = |key: &str| self.document.get(&name, key).unwrap_or_default();
                    Some((
                        slot,
                        SlotInfo {
                            label: get("label"),
                            username: get("username"),
                            domain: get("domain"),
                        },
                    ))
                }
                _ => None,
            })
            .collect()
    }
}

fn account_section(slot: u32) -> String {
    format!("{}{slot}", keys::ACCOUNT_SECTION_PREFIX)
}

/// Does the section at `info` still look like the account we recorded?
fn matches_record(info: &SlotInfo, record: &ManagedAccount) -> bool {
    info.label.eq_ignore_ascii_case(&record.label)
        || (!record.username.is_empty()
            && !record.domain.is_empty()
            && info.username.eq_ignore_ascii_case(&record.username)
            && info.domain.eq_ignore_ascii_case(&record.domain))
}

/// Find the slot a managed account lives in today, if any.
fn find_slot(
    slots: &BTreeMap<u32, SlotInfo>,
    claimed: &BTreeSet<u32>,
    record: Option<&ManagedAccount>,
    label: &str,
    identity: Option<(&str, &str)>,
) -> Option<u32> {
    let free = |slot: &u32| !claimed.contains(slot);
    if let Some(record) = record {
        if let Some(info) = slots.get(&record.slot) {
            if free(&record.slot) && matches_record(info, record) {
                return Some(record.slot);
            }
        }
    }
    if let Some((&slot, _)) = slots
        .iter()
        .find(|(s, info)| free(s) && info.label.eq_ignore_ascii_case(label))
    {
        return Some(slot);
    }
    if let Some(record) = record {
        if let Some((&slot, _)) = slots
            .iter()
            .find(|(s, info)| free(s) && matches_record(info, record))
        {
            return Some(slot);
        }
    }
    if let Some((username, domain)) = identity {
        if !username.is_empty() && !domain.is_empty() {
            return slots
                .iter()
                .find(|(s, info)| {
                    free(s)
                        && info.username.eq_ignore_ascii_case(username)
                        && info.domain.eq_ignore_ascii_case(domain)
                })
                .map(|(&s, _)| s);
        }
    }
    None
}

/// Apply `desired` to `document`, updating `state`. Pure: nothing is written to disk.
pub fn merge(
    document: &mut IniDocument,
    state: &mut ProfileState,
    desired: &DesiredProfile,
) -> Result<MergeOutcome, MergeError> {
    let mut editor = Editor {
        document,
        outcome: MergeOutcome::default(),
    };
    for id in &desired.removed_accounts {
        remove_account(&mut editor, state, id);
    }

    let mut claimed = BTreeSet::new();
    let mut managed: BTreeMap<String, ManagedAccount> = BTreeMap::new();
    let mut active_slot = None;
    for account in &desired.accounts {
        let slot = merge_account(&mut editor, state, account, &mut claimed, &mut managed)?;
        if account.active {
            active_slot = Some(slot);
        }
    }
    if desired.complete {
        // Ids no longer in the manifest become unmanaged: their accounts stay as they are.
        state.accounts = managed;
    } else {
        state.accounts.extend(managed);
    }

    merge_account_id(&mut editor, state, active_slot)?;

    for setting in &desired.settings {
        match setting.policy {
            SettingPolicy::Enforce => {
                let value = setting.value.as_deref().unwrap_or_default();
                editor.set(SETTINGS, &setting.key, value, None)?;
            }
            SettingPolicy::Default => {
                if editor.document.get(SETTINGS, &setting.key).is_none() {
                    let value = setting.value.as_deref().unwrap_or_default();
                    editor.set(
                        SETTINGS,
                        &setting.key,
                        value,
                        Some("default: only when missing"),
                    )?;
                }
            }
            SettingPolicy::Remove => editor.remove_key(SETTINGS, &setting.key),
        }
    }

    if let Some(shortcuts) = &desired.shortcuts {
        let current = editor.document.entries(SHORTCUTS);
        let write = match shortcuts.policy {
            ShortcutPolicy::Enforce => true,
            ShortcutPolicy::IfEmpty => current.is_empty(),
        };
        if write {
            for (index, value) in shortcuts.values.iter().enumerate() {
                editor.set(SHORTCUTS, &index.to_string(), value, None)?;
            }
            // MicroSIP stops loading at the first missing index (§1.10): anything beyond the
            // list, or not an index at all, goes.
            let wanted: BTreeSet<String> =
                (0..shortcuts.values.len()).map(|i| i.to_string()).collect();
            for entry in current {
                if !wanted.contains(&entry.name) {
                    editor.remove_key(SHORTCUTS, &entry.name);
                }
            }
        }
    }
    Ok(editor.outcome)
}

fn remove_account(editor: &mut Editor<'_>, state: &mut ProfileState, id: &str) {
    let slots = editor.account_slots();
    let record = state.accounts.get(id).cloned();
    let Some(slot) = find_slot(&slots, &BTreeSet::new(), record.as_ref(), id, None) else {
        return;
    };
    let section = account_section(slot);
    if !editor.document.remove_section(&section) {
        return;
    }
    editor.outcome.changes.push(Change {
        section: section.clone(),
        key: None,
        kind: ChangeKind::SectionRemoved,
        old: None,
        new: None,
        secret: false,
        reason: Some(format!("account {id:?} removed by the manifest")),
    });
    // No gap: every later account moves down one slot, whole (§1.9: MicroSIP hides accounts
    // after a gap). Ascending order, so each target name is free when it is taken.
    for &later in slots.range(slot + 1..).map(|(s, _)| s) {
        let (from, to) = (account_section(later), account_section(later - 1));
        if editor
            .document
            .rename_section(&from, &to)
            .expect("account section names are valid")
        {
            editor.outcome.changes.push(Change {
                section: from,
                key: None,
                kind: ChangeKind::SectionRenamed,
                old: None,
                new: Some(to),
                secret: false,
                reason: Some("accounts move down so no gap hides them".to_string()),
            });
        }
    }
    state.accounts.remove(id);
    for record in state.accounts.values_mut() {
        if record.slot > slot {
            record.slot -= 1;
        }
    }
    if let Some(current) = editor
        .document
        .get(SETTINGS, ACCOUNT_ID)
        .and_then(|v| v.trim().parse::<u32>().ok())
    {
        let follow = if current == slot {
            Some(keys::FIRST_ACCOUNT_INDEX)
        } else if current > slot {
            Some(current - 1)
        } else {
            None
        };
        if let Some(new) = follow {
            // Infallible for a number; recorded like any other change.
            let _ = editor.set(
                SETTINGS,
                ACCOUNT_ID,
                &new.to_string(),
                Some("follows the removed account"),
            );
        }
    }
}

fn merge_account(
    editor: &mut Editor<'_>,
    state: &ProfileState,
    account: &DesiredAccount,
    claimed: &mut BTreeSet<u32>,
    managed: &mut BTreeMap<String, ManagedAccount>,
) -> Result<u32, MergeError> {
    let slots = editor.account_slots();
    let record = state.accounts.get(&account.id);
    let identity = account.key("username").zip(account.key("domain"));
    let found = find_slot(&slots, claimed, record, &account.label, identity);
    let slot = match found {
        Some(slot) => slot,
        // A new account fills the first gap, as MicroSIP's own new-account search does (§1.9).
        None => (keys::FIRST_ACCOUNT_INDEX..=keys::ACCOUNT_SLOT_LIMIT)
            .find(|s| !claimed.contains(s) && slots.get(s).is_none_or(|info| !info.loads()))
            .ok_or_else(|| MergeError::NoFreeSlot {
                id: account.id.clone(),
            })?,
    };
    claimed.insert(slot);
    let section = account_section(slot);
    let is_new = !slots.contains_key(&slot);

    editor.set(&section, "label", &account.label, None)?;
    let mut password_hash = record.and_then(|r| r.password_hash.clone());
    // MicroSIP's save order (§1.7), so a new section reads like one MicroSIP wrote.
    for spec in keys::account_keys() {
        match spec.name {
            "label" => {}
            "password" => {
                password_hash =
                    merge_password(editor, state, account, &section, is_new, password_hash)?;
            }
            name => {
                if let Some(value) = account.key(name) {
                    editor.set(&section, name, value, None)?;
                }
            }
        }
    }
    for (key, value) in &account.keys {
        if keys::lookup_in(SectionKind::Account, key).is_none() {
            editor.set(&section, key, value, None)?;
        }
    }
    managed.insert(
        account.id.clone(),
        ManagedAccount {
            slot,
            label: account.label.clone(),
            username: account.key("username").unwrap_or_default().to_string(),
            domain: account.key("domain").unwrap_or_default().to_string(),
            password_hash,
        },
    );
    Ok(slot)
}

fn merge_password(
    editor: &mut Editor<'_>,
    state: &ProfileState,
    account: &DesiredAccount,
    section: &str,
    is_new: bool,
    recorded: Option<String>,
) -> Result<Option<String>, MergeError> {
    let Some(secret) = &account.password else {
        if account.password_missing {
            editor.warn(format!(
                "account {:?}: the password source did not resolve; the stored password is left as it is",
                account.id
            ));
        }
        return Ok(recorded);
    };
    let hash = state.password_hash(&account.id, secret.expose());
    let stored_empty = editor
        .document
        .get(section, "password")
        .is_none_or(|v| v.is_empty());
    let reason = if is_new {
        Some("new account")
    } else if stored_empty {
        Some("stored password is empty")
    } else if recorded.is_none() {
        Some("not provisioned by this tool before")
    } else if recorded.as_deref() != Some(hash.as_str()) {
        Some("password rotated")
    } else {
        // Same secret as last time: MicroSIP has encrypted it in place since; leave it.
        None
    };
    if let Some(reason) = reason {
        editor.set(section, "password", secret.expose(), Some(reason))?;
    }
    Ok(Some(hash))
}

fn merge_account_id(
    editor: &mut Editor<'_>,
    state: &ProfileState,
    active_slot: Option<u32>,
) -> Result<(), MergeError> {
    if let Some(slot) = active_slot {
        return editor.set(SETTINGS, ACCOUNT_ID, &slot.to_string(), None);
    }
    let slots = editor.account_slots();
    let current = editor.document.get(SETTINGS, ACCOUNT_ID);
    let local_enabled = editor
        .document
        .get(SETTINGS, "enableLocalAccount")
        .as_deref()
        == Some("1");
    let valid = current
        .as_deref()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .is_some_and(|n| (n == 0 && local_enabled) || slots.get(&n).is_some_and(SlotInfo::loads));
    if !valid {
        // Always written: absent, MicroSIP activates nothing even if [Account1] exists (§1.9).
        let first_managed = state.accounts.values().map(|r| r.slot).min();
        let first_loading = slots.iter().find(|(_, i)| i.loads()).map(|(&s, _)| s);
        let slot = first_managed
            .or(first_loading)
            .unwrap_or(keys::FIRST_ACCOUNT_INDEX);
        editor.set(
            SETTINGS,
            ACCOUNT_ID,
            &slot.to_string(),
            Some("MicroSIP needs accountId to activate an account"),
        )?;
    }
    Ok(())
}
