//! The manifest layer: reading a fleet manifest (TOML or YAML, one schema), its users (CSV file
//! or inline rows) and its password references, and checking all of it before anything is
//! rendered. It owns the manifest's serde types and JSON Schema ([`json_schema`]), the
//! positioned [`Diagnostic`]s every manifest or users-file problem is reported with
//! (`path:line:column: message`, the source line, a caret; or a GitHub annotation), user
//! matching ([`Users::find`]) and secret resolution ([`resolve_secret`], [`Secret`]).
//!
//! [`load`] parses the file by extension (`.toml`; `.yaml`/`.yml`), rejects unknown fields and
//! wrong types with the parser's position, then runs the semantic checks against the key table
//! ([`crate::keys`]) at the position of the offending field (see `spans` for how positions
//! are kept for both formats). It reports every problem it can find, not just the first.
//! Templates are not rendered here: `env`/`file` password names, labels, keys and settings
//! stay handlebars strings for the `render` layer. No message ever contains a secret: literal
//! passwords and password columns are blanked in the source lines shown.

mod check;
mod diagnostic;
mod secret;
mod spans;
mod types;
mod users;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Severity};
pub use secret::{resolve_secret, Secret, SecretError};
pub use types::{
    Account, DirectorySection, HistorySection, Manifest, MapValue, OrderedMap, RegistrySection,
    SecretRef, Security, Setting, SettingPolicy, Shortcut, Shortcuts, ShortcutsPolicy,
    UsersSection, DEFAULT_KEY_COLUMN, DEFAULT_SHORTCUT_TYPE, MANIFEST_VERSION,
};
pub use users::{normalize_user_name, UserRow, Users};

use check::Checker;
use diagnostic::SourceText;
use spans::{FieldPath, SourceMap};

/// The manifest's syntax, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.toml`
    Toml,
    /// `.yaml` or `.yml`
    Yaml,
}

impl Format {
    /// The format of `path` by its extension (ASCII case-insensitive); `None` for any other.
    pub fn from_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// A manifest read and checked by [`load`], with its users.
pub struct LoadedManifest {
    /// The manifest. Every account's `id` is set (defaulted from its label) and table keys are
    /// in source order.
    pub manifest: Manifest,
    /// The manifest file, as given to [`load`].
    pub path: PathBuf,
    /// The folder relative paths in the manifest are resolved against (the manifest's folder,
    /// `.` for a bare file name).
    pub base_dir: PathBuf,
    /// The syntax the manifest was read as.
    pub format: Format,
    /// The users.
    pub users: Users,
    /// Problems that do not make the manifest invalid (unknown keys, retired keys, no users).
    pub warnings: Vec<Diagnostic>,
    /// The manifest text and where each field is written, for later diagnostics.
    source: SourceText,
    map: SourceMap,
}

impl fmt::Debug for LoadedManifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The source text may hold secrets: leave it out.
        f.debug_struct("LoadedManifest")
            .field("manifest", &self.manifest)
            .field("path", &self.path)
            .field("base_dir", &self.base_dir)
            .field("format", &self.format)
            .field("users", &self.users)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// A part of an account that a later stage (rendering) may report a problem about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountField<'a> {
    /// The account as a whole (its first line).
    Account,
    /// `label`.
    Label,
    /// `template`.
    Template,
    /// `password` (the reference's name, e.g. `env`).
    Password,
    /// `keys.<name>` (the value).
    Key(&'a str),
}

impl LoadedManifest {
    /// The manifest's text (may contain secrets: do not print it).
    pub fn source_text(&self) -> &str {
        self.source.text()
    }

    /// A diagnostic positioned at a field of account `index`, for problems found after loading
    /// (a template that does not render, a value that is invalid once rendered). Falls back to
    /// the nearest written field when `field` is not in the file.
    pub fn account_diagnostic(
        &self,
        index: usize,
        field: AccountField<'_>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Diagnostic {
        let account = FieldPath::root().k("accounts").i(index);
        let path = match field {
            AccountField::Account => account,
            AccountField::Label => account.k("label"),
            AccountField::Template => account.k("template"),
            AccountField::Password => {
                let password = account.k("password");
                let kind = self
                    .manifest
                    .accounts
                    .get(index)
                    .and_then(|a| a.password.as_ref());
                match kind {
                    Some(reference) => password.k(reference.kind()),
                    None => password,
                }
            }
            AccountField::Key(name) => account.k("keys").k(name),
        };
        self.source
            .diagnostic(severity, self.map.value_offset(&path), message)
    }

    /// A diagnostic positioned at the value of `[settings] key`.
    pub fn setting_diagnostic(
        &self,
        key: &str,
        severity: Severity,
        message: impl Into<String>,
    ) -> Diagnostic {
        let setting = FieldPath::root().k("settings").k(key);
        let path = if self.map.get(&setting.k("value")).is_some() {
            setting.k("value")
        } else {
            setting
        };
        self.source
            .diagnostic(severity, self.map.value_offset(&path), message)
    }

    /// A diagnostic at any field, by its path of keys (e.g. `["directory", "path"]`); a field
    /// that is not written falls back to its nearest written ancestor.
    pub fn field_diagnostic(
        &self,
        path: &[&str],
        severity: Severity,
        message: impl Into<String>,
    ) -> Diagnostic {
        let field = path.iter().fold(FieldPath::root(), |p, k| p.k(*k));
        self.source
            .diagnostic(severity, self.map.value_offset(&field), message)
    }

    /// A diagnostic positioned at speed-dial button `index`.
    pub fn shortcut_diagnostic(
        &self,
        index: usize,
        severity: Severity,
        message: impl Into<String>,
    ) -> Diagnostic {
        let path = FieldPath::root().k("shortcuts").k("items").i(index);
        self.source
            .diagnostic(severity, self.map.value_offset(&path), message)
    }
}

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest file could not be read.
    #[error("{}: cannot read the manifest: {source}", .path.display())]
    Read {
        /// The manifest file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The extension is neither `.toml`, `.yaml` nor `.yml`.
    #[error("{}: unknown manifest format: the file name must end in .toml, .yaml or .yml", .path.display())]
    UnknownFormat {
        /// The manifest file.
        path: PathBuf,
    },
    /// The manifest or its users file is invalid. `diagnostics` holds every error found (at
    /// least one) and the warnings, each with its file, line and column.
    #[error("{}", render_errors(.diagnostics))]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// Errors and warnings, in the order found.
        diagnostics: Vec<Diagnostic>,
    },
}

fn render_errors(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(Diagnostic::render_human)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ManifestError {
    /// The problems as diagnostics (errors and warnings), so that every error can be printed
    /// the same way (human, JSON, GitHub). A file that could not be read at all is reported at
    /// line 1, column 1, without a source line.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            ManifestError::Invalid { diagnostics, .. } => diagnostics.clone(),
            ManifestError::Read { path, source } => vec![Diagnostic::new(
                Severity::Error,
                path.clone(),
                1,
                1,
                format!("cannot read the manifest: {source}"),
            )],
            ManifestError::UnknownFormat { path } => vec![Diagnostic::new(
                Severity::Error,
                path.clone(),
                1,
                1,
                "unknown manifest format: the file name must end in .toml, .yaml or .yml",
            )],
        }
    }

    /// The manifest file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ManifestError::Read { path, .. }
            | ManifestError::UnknownFormat { path }
            | ManifestError::Invalid { path, .. } => path,
        }
    }
}

/// Read, parse and check the manifest at `path`, and load its users.
///
/// Every error (syntax, unknown field, wrong type, semantic check, users file) comes back in
/// [`ManifestError::Invalid`] with its file, line and column; warnings come back in
/// [`LoadedManifest::warnings`] (or alongside the errors).
pub fn load(path: &Path) -> Result<LoadedManifest, ManifestError> {
    let format = Format::from_path(path).ok_or_else(|| ManifestError::UnknownFormat {
        path: path.to_path_buf(),
    })?;
    let bytes = std::fs::read(path).map_err(|source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |diagnostics: Vec<Diagnostic>| ManifestError::Invalid {
        path: path.to_path_buf(),
        diagnostics,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(e) => {
            let valid = String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned();
            let source = SourceText::new(path, valid);
            return Err(invalid(vec![source.undecodable_diagnostic(
                e.valid_up_to(),
                "the manifest is not valid UTF-8",
            )]));
        }
    };
    let mut source = SourceText::new(path, text);
    let map = match format {
        Format::Toml => SourceMap::from_toml(source.text()),
        Format::Yaml => SourceMap::from_yaml(&source),
    };
    let password_columns = check::password_columns(&map);
    let secrets: Vec<_> = map
        .iter()
        .filter(|(path, node)| node.leaf && check::is_secret_path(path.segs(), &password_columns))
        .map(|(_, node)| node.value.clone())
        .collect();
    for range in secrets {
        source.add_secret(range);
    }
    source.set_secrets_known(map.is_complete());

    let mut manifest = parse(&source, &map, format).map_err(|d| invalid(vec![d]))?;
    restore_source_order(&mut manifest, &map);

    // Relative paths are joined to the manifest's folder as written (empty for a bare file
    // name), so that messages show `users.csv` rather than `./users.csv`.
    let folder = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let base_dir = if folder.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        folder.clone()
    };
    let mut checker = Checker {
        source: &source,
        map: &map,
        base_dir: &folder,
        diagnostics: Vec::new(),
    };
    checker.check(&mut manifest);
    let users = users::load_users(
        &manifest.users,
        &source,
        &map,
        &folder,
        &password_columns,
        &mut checker.diagnostics,
    );
    if let Some(users) = &users {
        checker.check_columns(&manifest, users);
        if users.is_empty() {
            let offset = map.key_offset(&FieldPath::root().k("users"));
            checker.diagnostics.push(source.diagnostic(
                Severity::Warning,
                offset,
                "there are no users: no profile will match",
            ));
        }
    }
    let diagnostics = checker.diagnostics;
    match users {
        Some(users) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(LoadedManifest {
            manifest,
            path: path.to_path_buf(),
            base_dir,
            format,
            users,
            warnings: diagnostics,
            source,
            map,
        }),
        _ => Err(invalid(diagnostics)),
    }
}

/// Deserialise the typed manifest; the parser's error becomes a positioned diagnostic.
fn parse(source: &SourceText, map: &SourceMap, format: Format) -> Result<Manifest, Diagnostic> {
    match format {
        Format::Toml => toml::from_str::<Manifest>(source.text()).map_err(|e| {
            let offset = e.span().map_or(0, |span| span.start);
            let mut message = e.message().trim_end().to_string();
            if let Some(hint) = misplaced_top_level_field(map, offset) {
                message.push_str(&hint);
            }
            source.syntax_diagnostic(offset, &message)
        }),
        Format::Yaml => serde_saphyr::from_str::<Manifest>(source.text()).map_err(|e| {
            use serde_saphyr::MessageFormatter;
            let offset = match e.location() {
                Some(location) => location.span().byte_offset().map_or_else(
                    || source.offset_of(location.line() as usize, location.column() as usize),
                    |offset| offset as usize,
                ),
                None => 0,
            };
            let message = serde_saphyr::UserMessageFormatter.format_message(e.without_snippet());
            let message: String = message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let (offset, message) = explain_yaml_error(map, offset, message.trim_end());
            source.syntax_diagnostic(offset, &message)
        }),
    }
}

/// In TOML every `key = value` after a `[table]` header belongs to that table, so a top-level
/// field written after one (as `removed_accounts` easily is) lands inside it: say so.
fn misplaced_top_level_field(map: &SourceMap, offset: usize) -> Option<String> {
    const TOP_LEVEL: [&str; 7] = [
        "version",
        "users",
        "security",
        "accounts",
        "removed_accounts",
        "settings",
        "shortcuts",
    ];
    let (path, _) = map.path_at(offset)?;
    let [.., spans::Seg::Key(name)] = path.segs() else {
        return None;
    };
    (path.segs().len() > 1 && TOP_LEVEL.contains(&name.as_str())).then(|| {
        format!(
            " (`{name}` is read here as `{path}`: a top-level field must come before the first \
             [table] header in TOML)"
        )
    })
}

/// serde-saphyr's messages are terse and do not name the field: say which field, put a
/// missing-field error at the start of its mapping, and explain a list or mapping given where a
/// single value belongs.
fn explain_yaml_error(map: &SourceMap, offset: usize, message: &str) -> (usize, String) {
    if message.starts_with("missing field") {
        let start = map.container_start(offset).unwrap_or(offset);
        return (start, message.to_string());
    }
    let Some((path, node)) = map.path_at(offset) else {
        return (offset, message.to_string());
    };
    let mut message = message.to_string();
    let at_value = node.value.start == offset;
    if at_value && node.scalar.is_none() && message.ends_with("scalar") {
        message = "expected a single value, not a list or mapping".to_string();
    }
    if path.segs().is_empty() || message.starts_with("unknown field") {
        (offset, message)
    } else {
        (offset, format!("`{path}`: {message}"))
    }
}

/// TOML's parser sorts table keys; put `settings`, account `keys` and inline user rows back in
/// the order they are written (YAML keeps its order; sorting it again changes nothing).
fn restore_source_order(manifest: &mut Manifest, map: &SourceMap) {
    let root = FieldPath::root();
    let settings = root.k("settings");
    manifest
        .settings
        .sort_by_key_rank(|key| map.key_rank(&settings, key));
    for (index, account) in manifest.accounts.iter_mut().enumerate() {
        let keys = root.k("accounts").i(index).k("keys");
        account
            .keys
            .sort_by_key_rank(|key| map.key_rank(&keys, key));
    }
    if let Some(rows) = &mut manifest.users.rows {
        for (index, row) in rows.iter_mut().enumerate() {
            let path = root.k("users").k("rows").i(index);
            row.sort_by_key_rank(|key| map.key_rank(&path, key));
        }
    }
}

/// The manifest's JSON Schema (draft 2020-12), for `microsip-provision schema` and editors.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Manifest);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}
