//! Manifest -> target state: the manifest rendered for one user as a [`DesiredProfile`].
//!
//! Every templated field (labels, account keys, settings, speed dials, secret names) goes through
//! [`crate::render::Renderer`] in strict mode; each account's INI template renders a fragment
//! that our own INI engine reads, so a value means exactly what Windows will read. Rendered values
//! are checked against MicroSIP's key table ([`crate::keys::check_value`]), so nothing MicroSIP
//! would misread is ever written. Problems come back as [`Diagnostic`]s pointing at the manifest
//! field (file:line:column), which is what `validate` prints for every user.

use std::sync::Arc;

use crate::contacts::{exchange, Contact};
use crate::keys::{self, SectionKind};
use crate::manifest::{
    self, AccountField, Diagnostic, LoadedManifest, SecretRef, Severity, UserRow,
};
use crate::plan::{
    DesiredAccount, DesiredProfile, DesiredSetting, DesiredShortcuts, RenderInputs, SettingPolicy,
    ShortcutPolicy,
};
use crate::render::{self, AccountContext, RenderError, Renderer};

/// A manifest ready to render for any user: its templates compiled once.
#[derive(Debug)]
pub struct Target<'a> {
    loaded: &'a LoadedManifest,
    renderer: Renderer,
    /// The template file each account uses, by its registered name (the manifest's
    /// `template`); `None` for the built-in template.
    templates: Vec<Option<String>>,
    /// The company directory, read once for every user.
    directory: Option<Arc<Vec<Contact>>>,
    /// xxh3-128 of the tool version, the parsed manifest and the template files' text: the part
    /// of [`RenderInputs::digest`] shared by every user.
    manifest_digest: u128,
    /// Columns that hold passwords (`password = { column = ... }`): left out of the digest.
    secret_columns: Vec<String>,
}

/// The rendered target state of one profile, with the warnings found on the way.
#[derive(Debug)]
pub struct Rendered {
    /// What the profile should hold.
    pub desired: DesiredProfile,
    /// Warnings (e.g. a password source that did not resolve).
    pub warnings: Vec<Diagnostic>,
}

/// Options for rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetOptions {
    /// A password source that does not resolve is an error instead of a warning.
    pub require_secrets: bool,
}

impl<'a> Target<'a> {
    /// Compile the manifest's templates. Errors point at the account's `template` field.
    pub fn new(loaded: &'a LoadedManifest) -> Result<Target<'a>, Vec<Diagnostic>> {
        let mut renderer = Renderer::new();
        let mut templates = Vec::new();
        let mut errors = Vec::new();
        for (index, account) in loaded.manifest.accounts.iter().enumerate() {
            let Some(relative) = &account.template else {
                templates.push(None);
                continue;
            };
            let name = relative.clone();
            if !renderer.has_template(&name) {
                let path = loaded.base_dir.join(relative);
                if let Err(error) = renderer.add_template_file(&name, &path) {
                    errors.push(loaded.account_diagnostic(
                        index,
                        AccountField::Template,
                        Severity::Error,
                        error.to_string(),
                    ));
                }
            }
            templates.push(Some(name));
        }
        let directory = match &loaded.manifest.directory {
            None => None,
            Some(section) => match read_directory(&loaded.base_dir.join(&section.path)) {
                Ok(contacts) => Some(Arc::new(contacts)),
                Err(message) => {
                    errors.push(loaded.field_diagnostic(
                        &["directory", "path"],
                        Severity::Error,
                        message,
                    ));
                    None
                }
            },
        };
        // Rendering is a pure function of the manifest, the templates, the row and the profile's
        // user (no clock, no environment but the secrets'), which is what the digest covers.
        // `Debug` of the manifest shows literal passwords as `<redacted>`; they count as secrets.
        let mut manifest_text = format!("{}\0{:?}", env!("CARGO_PKG_VERSION"), loaded.manifest);
        for name in templates.iter().flatten() {
            // The text the renderer read, not a second read of the file.
            manifest_text.push('\0');
            manifest_text.push_str(renderer.template_source(name).unwrap_or_default());
        }
        let manifest_digest = xxhash_rust::xxh3::xxh3_128(manifest_text.as_bytes());
        let secret_columns = loaded
            .manifest
            .accounts
            .iter()
            .filter_map(|account| match &account.password {
                Some(SecretRef::Column(column)) => Some(column.clone()),
                _ => None,
            })
            .collect();
        if errors.is_empty() {
            Ok(Target {
                loaded,
                renderer,
                templates,
                directory,
                manifest_digest,
                secret_columns,
            })
        } else {
            Err(errors)
        }
    }

    /// Render the manifest for `user` (its row) in the profile of `profile_user`.
    pub fn render(
        &self,
        user: &UserRow,
        profile_user: &str,
        options: TargetOptions,
    ) -> Result<Rendered, Vec<Diagnostic>> {
        let loaded = self.loaded;
        let user_map = user.to_json_map();
        let base = render::template_context(&user_map, profile_user, None);
        let mut diagnostics = Vec::new();
        let mut desired = DesiredProfile {
            removed_accounts: loaded.manifest.removed_accounts.clone(),
            complete: true,
            directory: self.directory.clone(),
            history_retention_days: loaded.manifest.history.as_ref().map(|h| h.retention_days),
            ..DesiredProfile::default()
        };

        for (index, account) in loaded.manifest.accounts.iter().enumerate() {
            let at = |field: AccountField<'_>, severity: Severity, message: String| {
                loaded.account_diagnostic(index, field, severity, message)
            };
            let render_field = |field: AccountField<'_>, what: String, source: &str| {
                self.renderer
                    .render_value(&what, source, &base)
                    .map_err(|e| at(field, Severity::Error, describe(&e)))
            };
            let label = render_field(
                AccountField::Label,
                format!("accounts[{index}].label"),
                &account.label,
            );
            let mut keys = Vec::new();
            for (name, source) in account.keys.iter() {
                match render_field(
                    AccountField::Key(name),
                    format!("accounts[{index}].keys.{name}"),
                    source,
                ) {
                    Ok(value) => keys.push((name.to_string(), value)),
                    Err(d) => diagnostics.push(d),
                }
            }
            let label = match label {
                Ok(label) => label,
                Err(d) => {
                    diagnostics.push(d);
                    continue;
                }
            };
            let id = account.stable_id().to_string();
            // The built-in template's output is known without running it (most manifests).
            let file = self.templates[index].as_deref();
            let known = file
                .is_none()
                .then(|| render::builtin_fragment(&label, &keys))
                .flatten();
            let fragment = match known {
                Some(fragment) => fragment,
                None => {
                    let context = render::template_context(
                        &user_map,
                        profile_user,
                        Some(&AccountContext {
                            id: &id,
                            label: &label,
                            keys: &keys,
                        }),
                    );
                    let rendered = match file {
                        Some(name) => self.renderer.render_fragment(name, &context),
                        None => self.renderer.render_builtin_fragment(&context),
                    };
                    match rendered {
                        Ok(fragment) => fragment,
                        Err(e) => {
                            diagnostics.push(at(
                                AccountField::Template,
                                Severity::Error,
                                describe(&e),
                            ));
                            continue;
                        }
                    }
                }
            };
            let mut final_label = label;
            let mut final_keys = Vec::new();
            for (key, value) in fragment {
                if key.eq_ignore_ascii_case("label") {
                    final_label = value;
                } else if key.eq_ignore_ascii_case("password") {
                    diagnostics.push(at(
                        AccountField::Template,
                        Severity::Error,
                        "the template sets `password`: passwords come from references \
                         (password = { env = ... }), never from templates"
                            .to_string(),
                    ));
                } else {
                    check_key(SectionKind::Account, &key, &value).unwrap_or_else(|message| {
                        diagnostics.push(at(AccountField::Key(&key), Severity::Error, message))
                    });
                    final_keys.push((key, value));
                }
            }
            check_key(SectionKind::Account, "label", &final_label).unwrap_or_else(|message| {
                diagnostics.push(at(AccountField::Label, Severity::Error, message))
            });
            let has_domain = final_keys
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("domain") && !v.trim().is_empty());
            if !has_domain {
                // MicroSIP treats an account with an empty domain as absent and hides every
                // account after it (microsip-formats.md §1.7, §1.9).
                diagnostics.push(at(
                    AccountField::Account,
                    Severity::Error,
                    "the account has no `domain`: MicroSIP treats an account without a domain as \
                     absent (and hides every account after it); set keys.domain"
                        .to_string(),
                ));
            }

            let (password, password_missing) = match &account.password {
                None => (None, false),
                Some(reference) => {
                    match self.resolve_password(index, reference, user, &base, options) {
                        Ok(Some(secret)) => (Some(secret), false),
                        Ok(None) => (None, true),
                        Err(d) => {
                            let error = d.is_error();
                            diagnostics.push(d);
                            if error {
                                continue;
                            }
                            (None, true)
                        }
                    }
                }
            };
            desired.accounts.push(DesiredAccount {
                id,
                label: final_label,
                keys: final_keys,
                password,
                password_missing,
                active: account.active,
            });
        }

        for (key, setting) in loaded.manifest.settings.iter() {
            let value = match &setting.value {
                None => None,
                Some(source) => {
                    match self
                        .renderer
                        .render_value(&format!("settings.{key}"), source, &base)
                    {
                        Ok(value) => {
                            if let Err(message) = check_key(SectionKind::Settings, key, &value) {
                                diagnostics.push(loaded.setting_diagnostic(
                                    key,
                                    Severity::Error,
                                    message,
                                ));
                            }
                            Some(value)
                        }
                        Err(e) => {
                            diagnostics.push(loaded.setting_diagnostic(
                                key,
                                Severity::Error,
                                describe(&e),
                            ));
                            continue;
                        }
                    }
                }
            };
            desired.settings.push(DesiredSetting {
                key: key.to_string(),
                value,
                policy: match setting.policy {
                    manifest::SettingPolicy::Enforce => SettingPolicy::Enforce,
                    manifest::SettingPolicy::Default => SettingPolicy::Default,
                    manifest::SettingPolicy::Remove => SettingPolicy::Remove,
                },
            });
        }

        if let Some(shortcuts) = &loaded.manifest.shortcuts {
            let mut values = Vec::new();
            for (index, item) in shortcuts.items.iter().enumerate() {
                let mut rendered = item.clone();
                let mut failed = false;
                for (field, text) in [
                    ("label", &mut rendered.label),
                    ("number", &mut rendered.number),
                    ("number2", &mut rendered.number2),
                    ("label2", &mut rendered.label2),
                ] {
                    match self.renderer.render_value(
                        &format!("shortcuts.items[{index}].{field}"),
                        text,
                        &base,
                    ) {
                        Ok(value) => *text = value,
                        Err(e) => {
                            failed = true;
                            diagnostics.push(loaded.shortcut_diagnostic(
                                index,
                                Severity::Error,
                                describe(&e),
                            ));
                        }
                    }
                }
                if !failed {
                    let value = rendered.encode();
                    if let Err(message) =
                        check_key(SectionKind::Shortcuts, &index.to_string(), &value)
                    {
                        diagnostics.push(loaded.shortcut_diagnostic(
                            index,
                            Severity::Error,
                            message,
                        ));
                    }
                    values.push(value);
                }
            }
            desired.shortcuts = Some(DesiredShortcuts {
                policy: match shortcuts.policy {
                    manifest::ShortcutsPolicy::Enforce => ShortcutPolicy::Enforce,
                    manifest::ShortcutsPolicy::IfEmpty => ShortcutPolicy::IfEmpty,
                },
                values,
            });
        }

        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(diagnostics);
        }
        if diagnostics.is_empty() {
            desired.inputs = Some(RenderInputs {
                digest: self.inputs_digest(user, profile_user),
                secrets: desired
                    .accounts
                    .iter()
                    .filter_map(|a| Some((a.id.clone(), a.password.clone()?)))
                    .collect(),
            });
        }
        Ok(Rendered {
            desired,
            warnings: diagnostics,
        })
    }

    /// Whether a profile's target can be confirmed by the INI alone: no company directory for
    /// `Contacts.xml`, no history retention rule (which depends on the date).
    pub fn fingerprint_applies(&self) -> bool {
        self.directory.is_none() && self.loaded.manifest.history.is_none()
    }

    /// What [`Target::render`] would render for `user` in the profile of `profile_user`,
    /// without rendering: the digest of the non-secret inputs and the resolved passwords
    /// (rendering only an env/file password reference's name). `None` when a password does not
    /// resolve (the full render says why).
    pub fn inputs(&self, user: &UserRow, profile_user: &str) -> Option<RenderInputs> {
        let mut secrets = Vec::new();
        let mut base = None;
        for account in &self.loaded.manifest.accounts {
            let Some(reference) = &account.password else {
                continue;
            };
            let name = match reference {
                SecretRef::Env(source) | SecretRef::File(source) => {
                    let base = base.get_or_insert_with(|| {
                        render::template_context(&user.to_json_map(), profile_user, None)
                    });
                    self.renderer.render_value("password", source, base).ok()?
                }
                SecretRef::Column(column) => column.clone(),
                SecretRef::Literal(_) => String::new(),
            };
            let secret =
                manifest::resolve_secret(reference, &name, user, &self.loaded.base_dir).ok()??;
            secrets.push((account.stable_id().to_string(), secret));
        }
        Some(RenderInputs {
            digest: self.inputs_digest(user, profile_user),
            secrets,
        })
    }

    /// [`RenderInputs::digest`] for one user.
    fn inputs_digest(&self, user: &UserRow, profile_user: &str) -> u128 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(&self.manifest_digest.to_le_bytes());
        let mut field = |text: &str| {
            hasher.update(&(text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        };
        field(profile_user);
        for (column, value) in user.fields() {
            if !self.secret_columns.iter().any(|c| c == column) {
                field(column);
                field(value);
            }
        }
        hasher.digest128()
    }

    fn resolve_password(
        &self,
        index: usize,
        reference: &SecretRef,
        user: &UserRow,
        context: &serde_json::Value,
        options: TargetOptions,
    ) -> Result<Option<manifest::Secret>, Diagnostic> {
        let loaded = self.loaded;
        let at = |severity, message: String| {
            loaded.account_diagnostic(index, AccountField::Password, severity, message)
        };
        let name = match reference {
            SecretRef::Env(source) | SecretRef::File(source) => self
                .renderer
                .render_value(
                    &format!("accounts[{index}].password.{}", reference.kind()),
                    source,
                    context,
                )
                .map_err(|e| at(Severity::Error, describe(&e)))?,
            SecretRef::Column(column) => column.clone(),
            SecretRef::Literal(_) => String::new(),
        };
        match manifest::resolve_secret(reference, &name, user, &loaded.base_dir) {
            Ok(Some(secret)) => Ok(Some(secret)),
            Ok(None) => {
                let source = match reference {
                    SecretRef::Env(_) => format!("environment variable {name:?} is not set"),
                    SecretRef::File(_) => format!(
                        "secret file {} does not exist or is empty",
                        loaded.base_dir.join(&name).display()
                    ),
                    SecretRef::Column(_) => format!("column {name:?} is empty for this user"),
                    SecretRef::Literal(_) => "the literal password is empty".to_string(),
                };
                let severity = if options.require_secrets {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                Err(at(
                    severity,
                    format!("{source}; the stored password is left as it is"),
                ))
            }
            Err(error) => Err(at(Severity::Error, error.to_string())),
        }
    }
}

/// Read the company directory (CSV, JSON or MicroSIP XML) into contacts.
fn read_directory(path: &std::path::Path) -> Result<Vec<Contact>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the directory {}: {e}", path.display()))?;
    let format =
        exchange::Format::from_extension(path).unwrap_or_else(|| exchange::Format::sniff(&bytes));
    let (records, _warnings) =
        exchange::read(&bytes, format).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(records.into_iter().map(|r| r.contact).collect())
}

/// A render error as one message (its own position is inside the template or value).
fn describe(error: &RenderError) -> String {
    error.to_string()
}

/// Check a rendered value against MicroSIP's key table; unknown keys pass through.
fn check_key(section: SectionKind, key: &str, value: &str) -> Result<(), String> {
    if value.contains(['\r', '\n']) {
        return Err(format!("the value of {key} contains a line break"));
    }
    if value.contains("{{") {
        // `\{{` is handlebars' escape, the classic trap in a Windows path such as
        // `C:\Users\{{user.username}}`: the expression is printed, not evaluated.
        return Err(format!(
            "the value of {key} still contains `{{{{` after rendering: a backslash right before \
             `{{{{` escapes the expression; put two backslashes before it in the template text \
             (`C:\\Users\\\\{{{{user.username}}}}`, which is `\\\\\\\\{{{{` inside a TOML or YAML \
             double-quoted string)"
        ));
    }
    match keys::lookup_in(section, key) {
        Some(spec) => keys::check_value(spec, value).map_err(|e| format!("{key}: {e}")),
        None => Ok(()),
    }
}
