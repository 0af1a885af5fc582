//! The manifest as written: serde types shared by the TOML and YAML forms, with a JSON Schema.
//!
//! Every struct denies unknown fields. Values that end up in `microsip.ini` are text; integers
//! are accepted where text is expected (`registerRefresh = 300`) and written in decimal, while
//! booleans and floats are refused, because MicroSIP's booleans are `0`/`1` and a float would
//! not survive the round trip. Error messages never quote a rejected value (it may be a secret).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, DeserializeSeed, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

/// The only manifest `version` this tool reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The default name of the users column matched against the profile's user name.
pub const DEFAULT_KEY_COLUMN: &str = "username";

/// The default shortcut `type`.
pub const DEFAULT_SHORTCUT_TYPE: &str = "call";

/// A microsip-provision manifest: which SIP accounts, `[Settings]` keys and speed-dial buttons
/// every user of the fleet gets. Written as TOML (`.toml`) or YAML (`.yaml`, `.yml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "microsip-provision manifest")]
pub struct Manifest {
    /// Manifest format version; must be 1.
    #[schemars(extend("const" = 1))]
    pub version: u32,
    /// Where the users come from: a CSV file or inline rows. Every column is available to
    /// templates as `{{user.COLUMN}}`.
    pub users: UsersSection,
    /// Risks the manifest explicitly accepts.
    #[serde(default)]
    pub security: Security,
    /// SIP accounts (`[AccountN]` sections), in the order they are given slots. At most 100.
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// Ids of accounts this tool provisioned earlier and must now remove. Later accounts move
    /// down so that no gap is left.
    #[serde(default)]
    pub removed_accounts: Vec<String>,
    /// `[Settings]` keys: a string (enforced at every run) or a table with a `policy`. Values
    /// are handlebars templates. `accountId` is not allowed: it follows the `active` account.
    #[serde(default)]
    pub settings: OrderedMap<Setting>,
    /// Speed-dial buttons (`[Shortcuts]`), which MicroSIP rewrites as a whole list.
    #[serde(default)]
    pub shortcuts: Option<Shortcuts>,
    /// A company directory merged into every user's `Contacts.xml`.
    #[serde(default)]
    pub directory: Option<DirectorySection>,
    /// Call history rules enforced by `apply`.
    #[serde(default)]
    pub history: Option<HistorySection>,
    /// Registry settings for the current user (Windows only): autostart and URL protocols.
    #[serde(default)]
    pub registry: Option<RegistrySection>,
}

/// The registry side of provisioning: what MicroSIP's own first start would have registered
/// (a pre-provisioned INI skips it, `microsip-formats.md` §1.1), plus URL protocol handlers.
/// Applied for the current user only (a logon script), on Windows only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrySection {
    /// `true`: `HKCU\...\Run\MicroSIP` = `"<exe>" /minimized`; `false`: removed; absent: left.
    #[serde(default)]
    pub autostart: Option<bool>,
    /// Register exactly these URL schemes for MicroSIP (`sip`, `tel`, `callto`); absent: left.
    #[serde(default)]
    pub url_protocols: Option<Vec<crate::registry::UrlProtocol>>,
    /// MicroSIP's executable (default: found through `Software\MicroSIP`, then the usual
    /// install folders).
    #[serde(default)]
    pub exe: Option<String>,
}

impl RegistrySection {
    /// The registry layer's options.
    pub fn options(&self) -> crate::registry::RegistryOptions {
        crate::registry::RegistryOptions {
            autostart: self.autostart,
            url_protocols: self.url_protocols.clone(),
            exe: self.exe.clone(),
            sandbox: None,
        }
    }
}

/// The company directory: contacts every user gets in `Contacts.xml`. Contacts dropped from the
/// directory are removed from users; contacts a user created are never touched; a user's own
/// `starred` flag survives; `directory="1"` rows (MicroSIP's remote phone book) are left alone.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectorySection {
    /// The directory file, relative to the manifest: CSV (header names = Contacts.xml attribute
    /// names, `number` required), JSON (as `contacts export` writes it) or MicroSIP's XML.
    pub path: String,
}

/// Call history rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistorySection {
    /// Calls older than this many days are deleted from every profile's history (`[Calls]` or
    /// `call_log.db`) at each `apply`: a privacy retention rule.
    pub retention_days: u32,
}

/// Where the users come from: exactly one of `csv` and `rows`.
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsersSection {
    /// Path of a CSV file with a header row, relative to the manifest's folder. UTF-8 (with or
    /// without BOM) or UTF-16 with BOM.
    #[serde(default)]
    pub csv: Option<String>,
    /// The users inline, one table per user, every table with the same columns.
    #[serde(default)]
    pub rows: Option<Vec<OrderedMap<String>>>,
    /// The column matched against the profile's user name (case-insensitively; `CORP\jdoe`
    /// and `jdoe@corp.example` both match `jdoe`).
    #[serde(default = "default_key_column")]
    pub key: String,
    /// Field separator of the CSV file: one ASCII character; default `,` (use `;` for
    /// spreadsheets saved with a European list separator).
    #[serde(default)]
    pub delimiter: Option<String>,
}

impl fmt::Debug for UsersSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Inline rows may hold password columns: show their shape, never their values.
        f.debug_struct("UsersSection")
            .field("csv", &self.csv)
            .field("rows", &self.rows.as_ref().map(|rows| rows.len()))
            .field("key", &self.key)
            .field("delimiter", &self.delimiter)
            .finish()
    }
}

fn default_key_column() -> String {
    DEFAULT_KEY_COLUMN.to_string()
}

/// Risks the manifest accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Allow `password = { literal = "..." }`: the password is then stored in the manifest in
    /// clear text. Default false.
    #[serde(default)]
    pub accept_literal_passwords: bool,
}

/// One SIP account (`[AccountN]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Stable id that finds the account again across runs even after its label changed.
    /// Defaults to `label` when the label is not a template; required when it is.
    #[serde(default, deserialize_with = "opt_text")]
    #[schemars(with = "Option<Text>")]
    pub id: Option<String>,
    /// Menu label (`[AccountN] label`); a handlebars template.
    #[serde(deserialize_with = "text")]
    #[schemars(with = "Text")]
    pub label: String,
    /// Make this account the active one (`[Settings] accountId`). At most one account may be
    /// active.
    #[serde(default)]
    pub active: bool,
    /// INI template for the account, relative to the manifest's folder; default: the built-in
    /// one.
    #[serde(default)]
    pub template: Option<String>,
    /// Where the password comes from. Omit it to leave the password alone.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// `[AccountN]` keys as handlebars templates (`server`, `domain`, `username`, …). Any key is
    /// passed through; MicroSIP's keys must be spelled as MicroSIP spells them. `label` and
    /// `password` are not allowed here.
    #[serde(default)]
    pub keys: OrderedMap<String>,
}

impl Account {
    /// The account's stable id: `id`, or else `label`. After [`super::load`] succeeded,
    /// `id` is always set (filled in from a non-templated label).
    pub fn stable_id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.label)
    }
}

/// Where a password comes from. The `env` and `file` names are handlebars templates, rendered
/// per user by the caller before [`super::resolve_secret`].
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable name (template).
    Env(String),
    /// A file path (template), relative to the manifest's folder; one trailing line break is
    /// removed.
    File(String),
    /// A column of the users file or rows.
    Column(String),
    /// The password itself; refused unless `[security] accept_literal_passwords = true`.
    Literal(String),
}

impl SecretRef {
    /// `env`, `file`, `column` or `literal`: the manifest field that names this source.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretRef::Env(_) => "env",
            SecretRef::File(_) => "file",
            SecretRef::Column(_) => "column",
            SecretRef::Literal(_) => "literal",
        }
    }

    /// The environment variable name, file path or column name as written; `None` for a
    /// literal, whose text is secret.
    pub fn name(&self) -> Option<&str> {
        match self {
            SecretRef::Env(name) | SecretRef::File(name) | SecretRef::Column(name) => Some(name),
            SecretRef::Literal(_) => None,
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => f.debug_tuple("Env").field(name).finish(),
            SecretRef::File(name) => f.debug_tuple("File").field(name).finish(),
            SecretRef::Column(name) => f.debug_tuple("Column").field(name).finish(),
            SecretRef::Literal(_) => f.write_str("Literal(<redacted>)"),
        }
    }
}

/// What `password = { ... }` deserialises from, so that a second source or no source gets a
/// clear message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretRefRepr {
    #[serde(default, deserialize_with = "opt_text")]
    env: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    file: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    column: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    literal: Option<String>,
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RefVisitor;

        impl<'de> Visitor<'de> for RefVisitor {
            type Value = SecretRef;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table with one of `env`, `file`, `column` or `literal`")
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
                // Never quote the text: it is most likely the password itself.
                Err(E::custom(
                    "a password is given as a reference, not as text: \
                     password = { env = \"...\" } (or file, column, literal)",
                ))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SecretRef, A::Error> {
                let repr = SecretRefRepr::deserialize(de::value::MapAccessDeserializer::new(map))?;
                SecretRef::try_from(repr).map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_any(RefVisitor)
    }
}

impl TryFrom<SecretRefRepr> for SecretRef {
    type Error = String;

    fn try_from(repr: SecretRefRepr) -> Result<Self, Self::Error> {
        let mut given = Vec::new();
        if let Some(name) = repr.env {
            given.push(SecretRef::Env(name));
        }
        if let Some(name) = repr.file {
            given.push(SecretRef::File(name));
        }
        if let Some(name) = repr.column {
            given.push(SecretRef::Column(name));
        }
        if let Some(text) = repr.literal {
            given.push(SecretRef::Literal(text));
        }
        if given.len() == 1 {
            return Ok(given.remove(0));
        }
        let found = if given.is_empty() {
            "none".to_string()
        } else {
            given
                .iter()
                .map(|r| format!("`{}`", r.kind()))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        Err(format!(
            "a password reference takes exactly one of `env`, `file`, `column` or `literal`; found {found}"
        ))
    }
}

/// The schema of [`SecretRef`]: an object with exactly one of its four fields.
#[allow(dead_code)] // only its schema is used
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
enum SecretRefSchema {
    /// Name of an environment variable holding the password (handlebars template, e.g.
    /// `SIP_PW_{{user.username}}`). Unset: the password is left alone and a warning is given.
    Env(String),
    /// Path of a file holding the password (handlebars template), relative to the manifest's
    /// folder. One trailing line break is removed. Missing: the password is left alone.
    File(String),
    /// A column of the users file or rows. Empty: the password is left alone.
    Column(String),
    /// The password itself. Refused unless `[security] accept_literal_passwords = true`.
    Literal(String),
}

impl JsonSchema for SecretRef {
    fn schema_name() -> Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = SecretRefSchema::json_schema(generator);
        schema.insert(
            "description".into(),
            "Where a password comes from: exactly one of `env`, `file`, `column`, `literal`."
                .into(),
        );
        schema
    }
}

/// When a `[Settings]` key is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SettingPolicy {
    /// Written at every run.
    #[default]
    Enforce,
    /// Written only when the key is missing: the user may change it later.
    Default,
    /// Removed when present; no value may be given.
    Remove,
}

impl SettingPolicy {
    /// The policy as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingPolicy::Enforce => "enforce",
            SettingPolicy::Default => "default",
            SettingPolicy::Remove => "remove",
        }
    }
}

/// One `[Settings]` key: `key = "value"` (enforced) or `key = { value = "...", policy = "..." }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value (a handlebars template); `None` only with [`SettingPolicy::Remove`] once the
    /// manifest has been checked.
    pub value: Option<String>,
    /// When the value is written.
    pub policy: SettingPolicy,
}

/// A [Settings] value with its policy.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SettingTable {
    /// The value (handlebars template). Required unless `policy` is `remove`.
    #[serde(default, deserialize_with = "opt_text")]
    #[schemars(with = "Option<Text>")]
    value: Option<String>,
    /// `enforce` (default): written at every run; `default`: written only when the key is
    /// missing; `remove`: deleted when present (give no value).
    #[serde(default)]
    policy: SettingPolicy,
}

impl<'de> Deserialize<'de> for Setting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SettingVisitor;

        impl<'de> Visitor<'de> for SettingVisitor {
            type Value = Setting;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string (the enforced value) or a table with `value` and `policy`")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Setting, E> {
                Ok(Setting::enforce(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Setting, E> {
                Ok(Setting::enforce(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Setting, E> {
                Ok(Setting::enforce(v.to_string()))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Setting, E> {
                Err(refuse_bool())
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Setting, E> {
                Err(refuse_float())
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Setting, A::Error> {
                let table = SettingTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Setting {
                    value: table.value,
                    policy: table.policy,
                })
            }
        }

        deserializer.deserialize_any(SettingVisitor)
    }
}

impl Setting {
    /// An enforced value.
    pub fn enforce(value: impl Into<String>) -> Self {
        Setting {
            value: Some(value.into()),
            policy: SettingPolicy::Enforce,
        }
    }
}

impl JsonSchema for Setting {
    fn schema_name() -> Cow<'static, str> {
        "Setting".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let short = generator.subschema_for::<Text>();
        let table = generator.subschema_for::<SettingTable>();
        json_schema!({
            "description": "A [Settings] value: a string is enforced at every run; a table sets a policy.",
            "anyOf": [short, table]
        })
    }
}

/// When the `[Shortcuts]` list is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ShortcutsPolicy {
    /// The list is made exactly `items` at every run.
    #[default]
    Enforce,
    /// Written only when the user has no speed-dial buttons at all.
    IfEmpty,
}

/// The `[Shortcuts]` section: speed-dial buttons, at most 8.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shortcuts {
    /// `enforce` (default): the list is made exactly `items` at every run; `if-empty`: written
    /// only when the user has no buttons.
    #[serde(default)]
    pub policy: ShortcutsPolicy,
    /// The buttons, in order (keys `0`…`7`). The buttons show only with
    /// `[Settings] enableShortcuts = "1"`.
    #[serde(default)]
    pub items: Vec<Shortcut>,
}

/// One speed-dial button: MicroSIP's `label;number;type;number2;presence;label2`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shortcut {
    /// Button text (handlebars template); no `;`.
    #[serde(deserialize_with = "text")]
    #[schemars(with = "Text")]
    pub label: String,
    /// Number or SIP address to dial (handlebars template); no `;`.
    #[serde(deserialize_with = "text")]
    #[schemars(with = "Text")]
    pub number: String,
    /// Action: `call` (default), `video`, `message`, `dtmf`, `transfer`, `attendedTransfer`,
    /// `callOrBT`, `callOrAT`, `conference`, `callOrConference`.
    #[serde(rename = "type", default = "default_shortcut_type")]
    pub kind: String,
    /// Second number (used by some types); default empty.
    #[serde(default, deserialize_with = "text")]
    #[schemars(with = "Text")]
    pub number2: String,
    /// Show the presence of `number`; default false.
    #[serde(default)]
    pub presence: bool,
    /// Second label (MicroSIP 3.22); default empty.
    #[serde(default, deserialize_with = "text")]
    #[schemars(with = "Text")]
    pub label2: String,
}

fn default_shortcut_type() -> String {
    DEFAULT_SHORTCUT_TYPE.to_string()
}

impl Shortcut {
    /// The `[Shortcuts]` value MicroSIP 3.22 writes for this button:
    /// `label;number;type;number2;presence;label2` (`microsip-formats.md` §1.10). Call it on a
    /// rendered copy: the fields of a manifest's button may be templates.
    pub fn encode(&self) -> String {
        format!(
            "{};{};{};{};{};{}",
            self.label,
            self.number,
            self.kind,
            self.number2,
            if self.presence { "1" } else { "0" },
            self.label2
        )
    }

    /// Every text field with its manifest name, in the order of the encoded value.
    pub(crate) fn text_fields(&self) -> [(&'static str, &str); 5] {
        [
            ("label", &self.label),
            ("number", &self.number),
            ("type", &self.kind),
            ("number2", &self.number2),
            ("label2", &self.label2),
        ]
    }
}

/// A table whose keys keep the order they were written in (after [`super::load`]; TOML's
/// parser sorts them, so `load` restores the source order).
#[derive(Clone, PartialEq, Eq)]
pub struct OrderedMap<V> {
    entries: Vec<(String, V)>,
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap {
            entries: Vec::new(),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for OrderedMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<V> OrderedMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The value of `key`, spelled exactly.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key`, ASCII case-insensitively (as Win32 matches INI keys).
    pub fn get_ignore_ascii_case(&self, key: &str) -> Option<&V> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// Add `key` at the end, or replace its value in place.
    pub fn insert(&mut self, key: impl Into<String>, value: V) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Reorder the entries by `rank` of their key (stable).
    pub(crate) fn sort_by_key_rank(&mut self, mut rank: impl FnMut(&str) -> usize) {
        self.entries.sort_by_cached_key(|(k, _)| rank(k));
    }
}

impl<K: Into<String>, V> FromIterator<(K, V)> for OrderedMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = OrderedMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<'a, V> IntoIterator for &'a OrderedMap<V> {
    type Item = (&'a str, &'a V);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, V)>, fn(&'a (String, V)) -> (&'a str, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        fn pair<V>((k, v): &(String, V)) -> (&str, &V) {
            (k.as_str(), v)
        }
        self.entries.iter().map(pair)
    }
}

/// A value type of an [`OrderedMap`] in a manifest: how it deserialises and its schema.
pub trait MapValue: Sized {
    /// Deserialise one value.
    fn deserialize_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
    /// The value's JSON Schema.
    fn value_schema(generator: &mut SchemaGenerator) -> Schema;
}

impl MapValue for String {
    fn deserialize_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        text(deserializer)
    }

    fn value_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Text>()
    }
}

impl MapValue for Setting {
    fn deserialize_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Setting::deserialize(deserializer)
    }

    fn value_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Setting>()
    }
}

impl<'de, V: MapValue> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seed<V>(PhantomData<V>);

        impl<'de, V: MapValue> DeserializeSeed<'de> for Seed<V> {
            type Value = V;

            fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V, D::Error> {
                V::deserialize_value(deserializer)
            }
        }

        struct MapVisitor<V>(PhantomData<V>);

        impl<'de, V: MapValue> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
                    }
                    let value = map.next_value_seed(Seed(PhantomData))?;
                    entries.push((key, value));
                }
                Ok(OrderedMap { entries })
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

impl<V: MapValue> JsonSchema for OrderedMap<V> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "OrderedMap".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let value = V::value_schema(generator);
        json_schema!({
            "type": "object",
            "additionalProperties": value
        })
    }
}

/// Schema of a text value: a string, or an integer written in decimal.
pub(crate) struct Text;

impl JsonSchema for Text {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "integer"] })
    }
}

fn refuse_bool<E: de::Error>() -> E {
    E::invalid_type(
        Unexpected::Other("a boolean"),
        &"a string (MicroSIP writes booleans as \"0\" or \"1\")",
    )
}

fn refuse_float<E: de::Error>() -> E {
    E::invalid_type(
        Unexpected::Other("a floating-point number"),
        &"a string (quote the value)",
    )
}

/// Accepts a string or an integer; never quotes a rejected value in its error.
struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<String, E> {
        Err(refuse_bool())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<String, E> {
        Err(refuse_float())
    }
}

/// Deserialise a text value (string or integer).
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserializer.deserialize_string(TextVisitor)
}

/// Deserialise an optional text value.
fn opt_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Wrapped(String);

    impl<'de> Deserialize<'de> for Wrapped {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            text(deserializer).map(Wrapped)
        }
    }

    Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        settings: OrderedMap<Setting>,
        #[serde(default)]
        keys: OrderedMap<String>,
        #[serde(default)]
        password: Option<SecretRef>,
    }

    #[test]
    fn settings_take_a_string_an_integer_or_a_table() {
        let doc: Doc = toml::from_str(
            "[settings]\na = \"x\"\nb = 7\nc = { value = \"y\", policy = \"default\" }\nd = { policy = \"remove\" }\n",
        )
        .unwrap();
        let settings: Vec<(&str, &Setting)> = doc.settings.iter().collect();
        assert_eq!(settings[0], ("a", &Setting::enforce("x")));
        assert_eq!(settings[1], ("b", &Setting::enforce("7")));
        assert_eq!(
            settings[2].1,
            &Setting {
                value: Some("y".into()),
                policy: SettingPolicy::Default
            }
        );
        assert_eq!(settings[3].1.policy, SettingPolicy::Remove);
        let yaml: Doc = serde_saphyr::from_str(
            "settings:\n  a: x\n  b: 7\n  c: {value: y, policy: default}\n  d: {policy: remove}\n",
        )
        .unwrap();
        assert_eq!(
            yaml.settings.iter().collect::<Vec<_>>(),
            doc.settings.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn text_refuses_booleans_and_floats_without_quoting_them() {
        let e = toml::from_str::<Doc>("[settings]\na = true\n").unwrap_err();
        assert!(e.message().contains("\"0\" or \"1\""), "{}", e.message());
        let e = toml::from_str::<Doc>("[settings]\n[keys]\na = 1.25\n").unwrap_err();
        assert!(!e.message().contains("1.25"), "{}", e.message());
        let doc: Doc = toml::from_str("[settings]\n[keys]\nkeepAlive = 30\n").unwrap();
        assert_eq!(doc.keys.get("keepAlive").map(String::as_str), Some("30"));
        let e = toml::from_str::<Doc>("[settings]\n[keys]\na = 1\na2 = 2\nb = { x = 1 }\n")
            .unwrap_err();
        assert!(e.message().contains("expected a string"), "{}", e.message());
    }

    #[test]
    fn a_password_reference_has_exactly_one_source() {
        let doc: Doc = toml::from_str("settings = {}\npassword = { column = \"pw\" }\n").unwrap();
        assert_eq!(doc.password, Some(SecretRef::Column("pw".into())));
        for bad in ["password = {}", "password = { env = \"A\", file = \"B\" }"] {
            let e = toml::from_str::<Doc>(&format!("settings = {{}}\n{bad}\n")).unwrap_err();
            assert!(e.message().contains("exactly one of"), "{}", e.message());
        }
        let e = toml::from_str::<Doc>("settings = {}\npassword = { envv = \"A\" }\n").unwrap_err();
        assert!(
            e.message().contains("unknown field `envv`"),
            "{}",
            e.message()
        );
        let e = toml::from_str::<Doc>("settings = {}\npassword = \"hunter2\"\n").unwrap_err();
        assert!(!e.message().contains("hunter2"), "{}", e.message());
    }

    #[test]
    fn shortcuts_encode_as_microsip_3_22_writes_them() {
        let button = Shortcut {
            label: "Desk".into(),
            number: "100".into(),
            kind: DEFAULT_SHORTCUT_TYPE.into(),
            number2: String::new(),
            presence: true,
            label2: "Two".into(),
        };
        assert_eq!(button.encode(), "Desk;100;call;;1;Two");
    }

    #[test]
    fn ordered_maps_keep_insertion_order() {
        let mut map: OrderedMap<String> = [("b", "1".to_string()), ("a", "2".to_string())]
            .into_iter()
            .collect();
        map.insert("b", "3".to_string());
        assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(
            map.get_ignore_ascii_case("B").map(String::as_str),
            Some("3")
        );
        assert_eq!(map.get("B"), None);
    }
}
