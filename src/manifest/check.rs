//! The semantic checks serde cannot express, each reported at the position of the offending
//! field: version, account ids and slots, the active account, password references, key
//! spelling against the key table ([`crate::keys`]), setting policies, speed-dial buttons.
//!
//! Values that are not templates (no `{{`) are also checked against MicroSIP's rules
//! ([`keys::check_value`]) here, where the error can point into the manifest; templated values
//! are checked after rendering.

use std::collections::HashMap;
use std::path::Path;

use crate::keys::{self, KeySpec, KeyStatus, SectionKind};

use super::diagnostic::{Diagnostic, Severity, SourceText};
use super::spans::{FieldPath, Seg, SourceMap};
use super::types::{Manifest, SecretRef, SettingPolicy, MANIFEST_VERSION};
use super::users::Users;

/// Section name used to look up `[AccountN]` keys in the key table.
const ACCOUNT_SECTION: &str = "Account1";
/// Section name of `[Settings]` in the key table.
const SETTINGS_SECTION: &str = "Settings";

/// Whether `text` is a handlebars template (rather than literal text).
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{")
}

/// Whether a key name looks like it holds a credential (heuristic for redaction only).
pub(crate) fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["pass", "pasw", "pwd", "secret"]
        .iter()
        .any(|word| lower.contains(word))
}

/// Whether the value at `path` must never be shown: literal passwords, secret INI keys, password
/// columns of inline users, and anything under a key that looks like a password (other than
/// the `env`/`file`/`column` names of a password reference).
pub(crate) fn is_secret_path(segs: &[Seg], password_columns: &[String]) -> bool {
    let key = |i: usize| match segs.get(i) {
        Some(Seg::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    let is_reference = matches!(
        (key(0), segs.get(1), key(2), key(3)),
        (
            Some("accounts"),
            Some(Seg::Index(_)),
            Some("password"),
            Some("env" | "file" | "column")
        )
    ) && segs.len() == 4;
    if is_reference {
        return false;
    }
    match (key(0), segs.get(1), key(2), key(3)) {
        (Some("accounts"), Some(Seg::Index(_)), Some("keys"), Some(name))
            if keys::is_secret(ACCOUNT_SECTION, name) =>
        {
            return true
        }
        (Some("settings"), Some(Seg::Key(name)), _, _)
            if keys::is_secret(SETTINGS_SECTION, name) =>
        {
            return true
        }
        (Some("users"), Some(Seg::Key(rows)), _, Some(column))
            if rows == "rows" && password_columns.iter().any(|c| c == column) =>
        {
            return true
        }
        _ => {}
    }
    segs.iter()
        .any(|seg| matches!(seg, Seg::Key(k) if looks_secret(k)))
}

/// The columns named by `password = { column = "..." }` anywhere in the mapped text, plus
/// columns whose name looks like a password.
pub(crate) fn password_columns(map: &SourceMap) -> Vec<String> {
    let mut columns: Vec<String> = map
        .iter()
        .filter(|(path, _)| {
            matches!(path.segs(), [Seg::Key(a), Seg::Index(_), Seg::Key(p), Seg::Key(c)]
                if a == "accounts" && p == "password" && c == "column")
        })
        .filter_map(|(_, node)| node.scalar.clone())
        .collect();
    columns.sort();
    columns.dedup();
    columns
}

/// Checks the manifest and fills in defaulted account ids.
pub(crate) struct Checker<'a> {
    pub(crate) source: &'a SourceText,
    pub(crate) map: &'a SourceMap,
    pub(crate) base_dir: &'a Path,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn at_value(&mut self, severity: Severity, path: &FieldPath, message: impl Into<String>) {
        let offset = self.map.value_offset(path);
        self.diagnostics
            .push(self.source.diagnostic(severity, offset, message));
    }

    fn at_key(&mut self, severity: Severity, path: &FieldPath, message: impl Into<String>) {
        let offset = self.map.key_offset(path);
        self.diagnostics
            .push(self.source.diagnostic(severity, offset, message));
    }

    fn line_of(&self, path: &FieldPath) -> usize {
        self.source.line_column(self.map.key_offset(path)).0
    }

    /// Every check that needs only the manifest.
    pub(crate) fn check(&mut self, manifest: &mut Manifest) {
        let root = FieldPath::root();
        if manifest.version != MANIFEST_VERSION {
            self.at_value(
                Severity::Error,
                &root.k("version"),
                format!(
                    "unsupported manifest version {}; this tool reads version {MANIFEST_VERSION}",
                    manifest.version
                ),
            );
        }
        self.check_accounts(manifest);
        self.check_removed(manifest);
        self.check_settings(manifest);
        self.check_shortcuts(manifest);
    }

    fn check_accounts(&mut self, manifest: &mut Manifest) {
        let accounts_path = FieldPath::root().k("accounts");
        let limit = keys::ACCOUNT_SLOT_LIMIT as usize;
        if manifest.accounts.len() > limit {
            self.at_value(
                Severity::Error,
                &accounts_path.i(limit),
                format!(
                    "{} accounts given; MicroSIP shows at most {limit} (§1.9)",
                    manifest.accounts.len()
                ),
            );
        }
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut active: Option<usize> = None;
        let accept_literal = manifest.security.accept_literal_passwords;
        for (index, account) in manifest.accounts.iter_mut().enumerate() {
            let path = accounts_path.i(index);
            // The stable id.
            let id_path = if account.id.is_some() {
                path.k("id")
            } else {
                path.k("label")
            };
            let id = match &account.id {
                Some(id) => Some(id.clone()),
                None if is_template(&account.label) => {
                    self.at_value(
                        Severity::Error,
                        &path.k("label"),
                        "this label is a template, so it cannot serve as the account's stable \
                         id: give the account an `id` (e.g. id = \"office\")",
                    );
                    None
                }
                None => Some(account.label.clone()),
            };
            if let Some(id) = id {
                if id.trim().is_empty() {
                    self.at_value(
                        Severity::Error,
                        &id_path,
                        "the account id is empty (it defaults to the label): give a non-empty `id` or `label`",
                    );
                } else if is_template(&id) {
                    self.at_value(
                        Severity::Error,
                        &id_path,
                        "an account id cannot be a template: it must be the same for every user",
                    );
                } else {
                    let folded = id.to_lowercase();
                    if let Some(&first) = ids.get(&folded) {
                        let first_line = self.line_of(&accounts_path.i(first));
                        self.at_value(
                            Severity::Error,
                            &id_path,
                            format!(
                                "duplicate account id {id:?}: the account on line {first_line} has the same id \
                                 (ids are compared case-insensitively{})",
                                if account.id.is_none() { "; the id defaults to the label" } else { "" }
                            ),
                        );
                    } else {
                        ids.insert(folded, index);
                    }
                    account.id = Some(id);
                }
            }
            if account.active {
                match active {
                    Some(first) => {
                        let first_line = self.line_of(&accounts_path.i(first).k("active"));
                        self.at_value(
                            Severity::Error,
                            &path.k("active"),
                            format!(
                                "a second active account: line {first_line} already makes another \
                                 account active, and [Settings] accountId selects exactly one"
                            ),
                        );
                    }
                    None => active = Some(index),
                }
            }
            if let Some(template) = &account.template {
                let resolved = self.base_dir.join(template);
                if template.trim().is_empty() {
                    self.at_value(
                        Severity::Error,
                        &path.k("template"),
                        "the template path is empty",
                    );
                } else if !resolved.is_file() {
                    self.at_value(
                        Severity::Error,
                        &path.k("template"),
                        format!(
                            "template file {} not found (paths are relative to the manifest's folder)",
                            resolved.display()
                        ),
                    );
                }
            }
            match &account.password {
                Some(SecretRef::Literal(_)) if !accept_literal => {
                    self.at_value(
                        Severity::Error,
                        &path.k("password").k("literal"),
                        "a literal password is refused: it would sit in the manifest in clear \
                         text. Use env, file or column, or accept the risk with \
                         [security] accept_literal_passwords = true",
                    );
                }
                Some(
                    reference @ (SecretRef::Env(name)
                    | SecretRef::File(name)
                    | SecretRef::Column(name)),
                ) if name.trim().is_empty() => {
                    self.at_value(
                        Severity::Error,
                        &path.k("password").k(reference.kind()),
                        format!("the password's `{}` name is empty", reference.kind()),
                    );
                }
                _ => {}
            }
            let keys_path = path.k("keys");
            let entries: Vec<(String, String)> = account
                .keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            self.check_keys(&keys_path, &entries);
        }
    }

    /// `[AccountN]` keys: forbidden, misspelt, duplicated, unknown, invalid literal values.
    fn check_keys(&mut self, keys_path: &FieldPath, entries: &[(String, String)]) {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for (key, value) in entries {
            let path = keys_path.k(key);
            if key.eq_ignore_ascii_case("password") {
                self.at_key(
                    Severity::Error,
                    &path,
                    "`password` cannot be set in keys: passwords come from references: use \
                     password = { env = \"...\" } (or file, column, literal) on the account",
                );
                continue;
            }
            if key.eq_ignore_ascii_case("label") {
                self.at_key(
                    Severity::Error,
                    &path,
                    "`label` cannot be set in keys: use the account's `label` field",
                );
                continue;
            }
            if let Some(first) = seen.get(&key.to_ascii_lowercase()) {
                self.at_key(
                    Severity::Error,
                    &path,
                    format!("`{key}` is the same INI key as `{first}` (Windows ignores case)"),
                );
                continue;
            }
            seen.insert(key.to_ascii_lowercase(), key);
            match keys::lookup(ACCOUNT_SECTION, key) {
                None => self.at_key(
                    Severity::Warning,
                    &path,
                    format!(
                        "`{key}` is not an [AccountN] key MicroSIP reads; it is written as is (and \
                         MicroSIP does not move it with the account when an earlier account is deleted, §1.9)"
                    ),
                ),
                Some(spec) => self.check_known(&path, key, Some(value), spec, "[AccountN]"),
            }
        }
    }

    /// Spelling, status and literal value of a key the key table knows.
    fn check_known(
        &mut self,
        path: &FieldPath,
        key: &str,
        value: Option<&str>,
        spec: &KeySpec,
        section: &str,
    ) {
        if spec.name != key {
            self.at_key(
                Severity::Error,
                path,
                format!(
                    "MicroSIP spells this {section} key `{}`, not `{key}`: write `{}`",
                    spec.name, spec.name
                ),
            );
            return;
        }
        match spec.status {
            KeyStatus::Live => {}
            KeyStatus::Legacy => {
                self.at_key(
                    Severity::Error,
                    path,
                    format!(
                        "`{key}` is a legacy {section} key: MicroSIP 3.22 only reads it to migrate or \
                         clean it up, so this tool does not create it ({}); it may only be removed \
                         (policy = \"remove\")",
                        spec.doc
                    ),
                );
                return;
            }
            KeyStatus::Retired => {
                self.at_key(
                    Severity::Warning,
                    path,
                    format!("MicroSIP 3.22 ignores `{key}` ({})", spec.doc),
                );
                return;
            }
        }
        if let Some(value) = value {
            if !spec.secret && !is_template(value) {
                if let Err(why) = keys::check_value(spec, value) {
                    self.at_value(Severity::Error, path, format!("`{key}` {why}"));
                }
            }
        }
    }

    fn check_removed(&mut self, manifest: &Manifest) {
        let path = FieldPath::root().k("removed_accounts");
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, id) in manifest.removed_accounts.iter().enumerate() {
            let item = path.i(index);
            let folded = id.to_lowercase();
            if id.trim().is_empty() {
                self.at_value(Severity::Error, &item, "the account id is empty");
            } else if let Some(managed) = manifest
                .accounts
                .iter()
                .position(|a| a.id.as_deref().is_some_and(|a| a.to_lowercase() == folded))
            {
                let line = self.line_of(&FieldPath::root().k("accounts").i(managed));
                self.at_value(
                    Severity::Error,
                    &item,
                    format!(
                        "account {id:?} is both provisioned (line {line}) and removed; drop one of them"
                    ),
                );
            } else if let Some(&first) = seen.get(&folded) {
                let line = self.line_of(&path.i(first));
                self.at_value(
                    Severity::Error,
                    &item,
                    format!("{id:?} is listed twice (also on line {line})"),
                );
            } else {
                seen.insert(folded, index);
            }
        }
    }

    fn check_settings(&mut self, manifest: &Manifest) {
        let settings_path = FieldPath::root().k("settings");
        let mut seen: HashMap<String, String> = HashMap::new();
        for (key, setting) in manifest.settings.iter() {
            let path = settings_path.k(key);
            if key.eq_ignore_ascii_case("accountId") {
                self.at_key(
                    Severity::Error,
                    &path,
                    "`accountId` cannot be set in [settings]: it follows the account marked `active = true`",
                );
                continue;
            }
            if let Some(first) = seen.get(&key.to_ascii_lowercase()) {
                let message =
                    format!("`{key}` is the same INI key as `{first}` (Windows ignores case)");
                self.at_key(Severity::Error, &path, message);
                continue;
            }
            seen.insert(key.to_ascii_lowercase(), key.to_string());
            // The value's own path: the shorthand string, or `value` inside the table.
            let value_path = match self.map.get(&path.k("value")) {
                Some(_) => path.k("value"),
                None => path.clone(),
            };
            match (setting.policy, &setting.value) {
                (SettingPolicy::Remove, Some(_)) => {
                    self.at_value(
                        Severity::Error,
                        &value_path,
                        "policy \"remove\" deletes the key: give no `value`",
                    );
                    continue;
                }
                (SettingPolicy::Enforce | SettingPolicy::Default, None) => {
                    self.at_value(
                        Severity::Error,
                        &path,
                        format!("policy \"{}\" needs a `value`", setting.policy.as_str()),
                    );
                    continue;
                }
                _ => {}
            }
            match keys::lookup_in(SectionKind::Settings, key) {
                None => self.at_key(
                    Severity::Warning,
                    &path,
                    format!("`{key}` is not a [Settings] key MicroSIP reads; it is written as is"),
                ),
                Some(spec) if setting.policy == SettingPolicy::Remove => {
                    if spec.name != key {
                        self.check_known(&path, key, None, spec, "[Settings]");
                    }
                }
                Some(spec) => {
                    // Spelling and status at the key; the value at the value.
                    let before = self.diagnostics.len();
                    self.check_known(&path, key, None, spec, "[Settings]");
                    if self.diagnostics.len() == before
                        && spec.status == KeyStatus::Live
                        && !spec.secret
                    {
                        if let Some(value) = setting.value.as_deref().filter(|v| !is_template(v)) {
                            if let Err(why) = keys::check_value(spec, value) {
                                self.at_value(
                                    Severity::Error,
                                    &value_path,
                                    format!("`{key}` {why}"),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn check_shortcuts(&mut self, manifest: &Manifest) {
        let Some(shortcuts) = &manifest.shortcuts else {
            return;
        };
        let items_path = FieldPath::root().k("shortcuts").k("items");
        let limit = keys::SHORTCUTS_QTY as usize;
        if shortcuts.items.len() > limit {
            self.at_value(
                Severity::Error,
                &items_path.i(limit),
                format!(
                    "{} speed-dial buttons given; MicroSIP reads at most {limit} (§1.10)",
                    shortcuts.items.len()
                ),
            );
        }
        let spec = keys::lookup_in(SectionKind::Shortcuts, "0");
        for (index, item) in shortcuts.items.iter().enumerate() {
            let path = items_path.i(index);
            let mut fields_ok = true;
            for (name, value) in item.text_fields() {
                if value.contains(';') {
                    fields_ok = false;
                    self.at_value(
                        Severity::Error,
                        &path.k(name),
                        format!("`{name}` cannot contain `;`: MicroSIP splits a button's value on `;` (§1.10)"),
                    );
                }
            }
            let Some(spec) = spec else { continue };
            if !fields_ok {
                continue;
            }
            if !is_template(&item.kind) {
                // Check the type alone, so the error points at it.
                let probe = format!("x;x;{};;0;", item.kind);
                if let Err(why) = keys::check_value(spec, &probe) {
                    let why = why.rsplit("; ").next().unwrap_or(&why).to_string();
                    self.at_value(
                        Severity::Error,
                        &path.k("type"),
                        format!("speed-dial button: {why}"),
                    );
                    continue;
                }
            }
            let encoded = item.encode();
            if !item.text_fields().iter().any(|(_, v)| is_template(v)) {
                if let Err(why) = keys::check_value(spec, &encoded) {
                    self.at_value(Severity::Error, &path, format!("speed-dial button: {why}"));
                }
            }
        }
    }

    /// Checks that need the users: password columns exist.
    pub(crate) fn check_columns(&mut self, manifest: &Manifest, users: &Users) {
        for (index, account) in manifest.accounts.iter().enumerate() {
            let Some(SecretRef::Column(column)) = &account.password else {
                continue;
            };
            if column.trim().is_empty() || users.columns.iter().any(|c| c == column) {
                continue;
            }
            let mut message = format!(
                "the users have no `{column}` column (columns: {})",
                users
                    .columns
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(close) = users
                .columns
                .iter()
                .find(|c| c.eq_ignore_ascii_case(column))
            {
                message.push_str(&format!("; did you mean `{close}`?"));
            }
            self.at_value(
                Severity::Error,
                &FieldPath::root()
                    .k("accounts")
                    .i(index)
                    .k("password")
                    .k("column"),
                message,
            );
        }
    }
}
