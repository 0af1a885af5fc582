//! The manifest layer on real files: TOML and YAML read to the same structs, every error carries
//! `path:line:column` with the source line and a caret, users match across domain spellings,
//! password references resolve (or are missing) without a secret ever reaching a message.

use std::path::{Path, PathBuf};

use microsip_provision::manifest::{
    self, json_schema, load, normalize_user_name, resolve_secret, Diagnostic, LoadedManifest,
    ManifestError, SecretRef, Setting, SettingPolicy, Severity, ShortcutsPolicy, UserRow,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join("manifest")
}

/// A temp folder with `files` written into it.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Load `text` saved as `name` in a fresh temp folder (plus `extra` files).
fn load_text(
    name: &str,
    text: &str,
    extra: &[(&str, &str)],
) -> (tempfile::TempDir, Result<LoadedManifest, ManifestError>) {
    let mut files = vec![(name, text)];
    files.extend_from_slice(extra);
    let dir = folder(&files);
    let result = load(&dir.path().join(name));
    (dir, result)
}

/// The errors of a manifest that must not load.
fn errors(name: &str, text: &str, extra: &[(&str, &str)]) -> Vec<Diagnostic> {
    let (_dir, result) = load_text(name, text, extra);
    match result {
        Ok(loaded) => panic!(
            "expected {name} to be invalid, it loaded: {:?}",
            loaded.manifest
        ),
        Err(e) => {
            let diagnostics: Vec<Diagnostic> = e
                .diagnostics()
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect();
            assert!(
                !diagnostics.is_empty(),
                "an invalid manifest without errors: {e}"
            );
            diagnostics
        }
    }
}

/// The single error of a manifest that must not load.
fn error(name: &str, text: &str) -> Diagnostic {
    let mut all = errors(name, text, &[]);
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    all.remove(0)
}

fn assert_at(d: &Diagnostic, file: &str, line: usize, column: usize, fragment: &str) {
    assert_eq!(
        (
            d.path.file_name().unwrap().to_str().unwrap(),
            d.line,
            d.column
        ),
        (file, line, column),
        "wrong position for {}",
        d.render_human()
    );
    assert!(
        d.message.contains(fragment),
        "message {:?} lacks {fragment:?}",
        d.message
    );
}

const TOML_USERS: &str =
    "version = 1\n[users]\nrows = [{ username = \"jdoe\", extension = \"1001\" }]\n";
const YAML_USERS: &str =
    "version: 1\nusers:\n  rows:\n    - { username: jdoe, extension: \"1001\" }\n";

#[test]
fn toml_and_yaml_of_the_same_manifest_load_equal() {
    let toml = load(&fixtures().join("fleet.toml")).expect("fleet.toml loads");
    let yaml = load(&fixtures().join("fleet.yaml")).expect("fleet.yaml loads");
    assert_eq!(toml.manifest, yaml.manifest);
    assert_eq!(toml.users.columns, yaml.users.columns);
    assert_eq!(toml.users.rows, yaml.users.rows);
    let messages = |l: &LoadedManifest| {
        l.warnings
            .iter()
            .map(|w| w.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(messages(&toml), messages(&yaml));

    let m = &toml.manifest;
    assert_eq!(m.accounts.len(), 2);
    assert_eq!(m.accounts[0].stable_id(), "office");
    assert!(m.accounts[0].active);
    assert_eq!(
        m.accounts[0].password,
        Some(SecretRef::Env("SIP_PW_{{user.username}}".into()))
    );
    // Source order, not TOML's sorted order; integers become text.
    let keys: Vec<(&str, &str)> = m.accounts[0]
        .keys
        .iter()
        .map(|(k, v)| (k, v.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("server", "pbx.example.com"),
            ("domain", "pbx.example.com"),
            ("username", "{{user.extension}}"),
            ("transport", "tls"),
            ("registerRefresh", "300"),
        ]
    );
    let settings: Vec<(&str, &Setting)> = m.settings.iter().collect();
    assert_eq!(settings[0], ("singleMode", &Setting::enforce("1")));
    assert_eq!(
        settings[1],
        (
            "autoAnswer",
            &Setting {
                value: Some("button".into()),
                policy: SettingPolicy::Default
            }
        )
    );
    assert_eq!(
        settings[2],
        (
            "enableLog",
            &Setting {
                value: None,
                policy: SettingPolicy::Remove
            }
        )
    );
    assert_eq!(m.removed_accounts, ["legacy-pbx"]);
    let shortcuts = m.shortcuts.as_ref().unwrap();
    assert_eq!(shortcuts.policy, ShortcutsPolicy::IfEmpty);
    assert_eq!(shortcuts.items[0].encode(), "Reception;100;call;;0;");
    assert_eq!(shortcuts.items[1].encode(), "Support;200;video;;1;");
    assert_eq!(toml.users.len(), 2);
    assert_eq!(toml.users.rows[1].get("display name"), Some("Smith, Anna"));
    assert_eq!(toml.users.rows[1].line, 3);
    assert_eq!(toml.base_dir, fixtures());
}

#[test]
fn unknown_fields_are_reported_at_their_line_and_column() {
    let toml = format!("{TOML_USERS}\n[[accounts]]\nlabel = \"Office\"\nlabl = \"x\"\n");
    let d = error("m.toml", &toml);
    assert_at(&d, "m.toml", 7, 1, "unknown field `labl`");
    assert!(
        d.render_human().ends_with("7 | labl = \"x\"\n  | ^"),
        "{}",
        d.render_human()
    );

    let yaml = format!("{YAML_USERS}accounts:\n  - label: Office\n    labl: x\n");
    let d = error("m.yaml", &yaml);
    assert_at(&d, "m.yaml", 7, 5, "labl");
    assert!(
        d.render_human().contains("7 |     labl: x\n  |     ^"),
        "{}",
        d.render_human()
    );

    // At the top level too.
    let d = error("m.toml", &format!("{TOML_USERS}colour = \"red\"\n"));
    assert_at(&d, "m.toml", 4, 1, "unknown field `colour`");
}

#[test]
fn wrong_types_are_reported_at_the_value() {
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[[accounts]]\nlabel = \"Office\"\nactive = \"yes\"\n"),
    );
    assert_at(&d, "m.toml", 6, 10, "boolean");
    let d = error(
        "m.yaml",
        &format!("{YAML_USERS}accounts:\n  - label: Office\n    active: [1]\n"),
    );
    assert_eq!((d.line, d.column), (7, 13), "{}", d.render_human());
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[settings]\nsingleMode = true\n"),
    );
    assert_at(&d, "m.toml", 5, 14, "0");
    let d = error("m.toml", "version = \"1\"\n[users]\nrows = []\n");
    assert_at(&d, "m.toml", 1, 11, "");
}

#[test]
fn syntax_errors_have_positions() {
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[[accounts]]\nlabel = \"Office\n"),
    );
    assert_eq!(d.line, 5, "{}", d.render_human());
    let d = error(
        "m.yaml",
        &format!("{YAML_USERS}accounts:\n  - label: [Office\n"),
    );
    assert_eq!(d.line, 6, "{}", d.render_human());
    assert!(d
        .render_human()
        .starts_with(&format!("{}:6:", d.path.display())));
}

#[test]
fn version_must_be_1() {
    let d = error("m.toml", "version = 2\n[users]\nrows = []\n");
    assert_at(&d, "m.toml", 1, 11, "version 2");
}

#[test]
fn two_active_accounts_are_an_error() {
    let toml = format!(
        "{TOML_USERS}[[accounts]]\nlabel = \"A\"\nactive = true\n[[accounts]]\nlabel = \"B\"\nactive = true\n"
    );
    let d = error("m.toml", &toml);
    assert_at(&d, "m.toml", 9, 10, "line 6");
    let yaml = format!("{YAML_USERS}accounts:\n  - {{ label: A, active: true }}\n  - {{ label: B, active: true }}\n");
    let d = error("m.yaml", &yaml);
    assert_at(&d, "m.yaml", 7, 25, "line 6");
}

#[test]
fn duplicate_account_ids_are_an_error_ignoring_case() {
    let toml = format!("{TOML_USERS}[[accounts]]\nlabel = \"Office\"\n[[accounts]]\nid = \"OFFICE\"\nlabel = \"Other\"\n");
    let d = error("m.toml", &toml);
    assert_at(
        &d,
        "m.toml",
        7,
        6,
        "duplicate account id \"OFFICE\": the account on line 4",
    );
    // Ids default to labels.
    let yaml = format!("{YAML_USERS}accounts:\n  - label: Office\n  - label: office\n");
    let d = error("m.yaml", &yaml);
    assert_at(&d, "m.yaml", 7, 12, "defaults to the label");
}

#[test]
fn a_templated_label_needs_an_id() {
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[[accounts]]\nlabel = \"Office {{{{user.extension}}}}\"\n"),
    );
    assert_at(&d, "m.toml", 5, 9, "give the account an `id`");
    let (_dir, loaded) = load_text(
        "m.toml",
        &format!("{TOML_USERS}[[accounts]]\nid = \"office\"\nlabel = \"Office {{{{user.extension}}}}\"\n[[accounts]]\nlabel = \"Plain\"\n"),
        &[],
    );
    let loaded = loaded.unwrap();
    assert_eq!(loaded.manifest.accounts[0].id.as_deref(), Some("office"));
    assert_eq!(loaded.manifest.accounts[1].id.as_deref(), Some("Plain"));
}

#[test]
fn keys_password_and_label_are_refused() {
    let toml = format!("{TOML_USERS}[[accounts]]\nlabel = \"A\"\n[accounts.keys]\npassword = \"hunter2\"\nlabel = \"B\"\n");
    let all = errors("m.toml", &toml, &[]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_at(
        &all[0],
        "m.toml",
        7,
        1,
        "passwords come from references: use password = { env = ",
    );
    assert_at(&all[1], "m.toml", 8, 1, "use the account's `label` field");
    // The value is a secret: the line shown hides it.
    assert_eq!(all[0].source_line.as_deref(), Some("password = <redacted>"));
    let rendered: String = all.iter().map(Diagnostic::render_human).collect();
    assert!(!rendered.contains("hunter2"), "{rendered}");
}

#[test]
fn case_variants_of_known_keys_are_errors_with_the_right_spelling() {
    let toml =
        format!("{TOML_USERS}[[accounts]]\nlabel = \"A\"\n[accounts.keys]\nServer = \"pbx\"\n");
    let d = error("m.toml", &toml);
    assert_at(&d, "m.toml", 7, 1, "write `server`");
    let yaml = format!("{YAML_USERS}settings:\n  SingleMode: \"1\"\n");
    let d = error("m.yaml", &yaml);
    assert_at(&d, "m.yaml", 6, 3, "write `singleMode`");
}

#[test]
fn unknown_keys_pass_with_a_warning() {
    let toml = format!(
        "{TOML_USERS}[[accounts]]\nlabel = \"A\"\n[accounts.keys]\nAVPF = \"1\"\n[settings]\nmyOwnKey = \"x\"\n"
    );
    let (_dir, loaded) = load_text("m.toml", &toml, &[]);
    let loaded = loaded.expect("unknown keys are not errors");
    let warnings: Vec<(usize, &str)> = loaded
        .warnings
        .iter()
        .map(|w| (w.line, w.message.as_str()))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert_eq!(warnings[0].0, 7);
    assert!(warnings[0].1.contains("`AVPF` is not an [AccountN] key"));
    assert_eq!(warnings[1].0, 9);
    assert!(warnings[1].1.contains("`myOwnKey` is not a [Settings] key"));
    assert!(loaded.warnings[0].render_human().contains(": warning: "));
}

#[test]
fn settings_rules() {
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[settings]\naccountId = \"2\"\n"),
    );
    assert_at(
        &d,
        "m.toml",
        5,
        1,
        "follows the account marked `active = true`",
    );
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[settings]\nenableLog = {{ value = \"1\", policy = \"remove\" }}\n"),
    );
    assert_at(&d, "m.toml", 5, 23, "give no `value`");
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[settings]\nenableLog = {{ policy = \"default\" }}\n"),
    );
    assert_at(&d, "m.toml", 5, 13, "needs a `value`");
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[settings]\nautoAnswer = \"sometimes\"\n"),
    );
    assert_at(&d, "m.toml", 5, 14, "`autoAnswer` expected");
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[settings]\nenableLog = {{ value = \"1\", policy = \"later\" }}\n"),
    );
    assert_at(&d, "m.toml", 5, 37, "unknown variant `later`");
    // A legacy key may only be removed.
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[settings]\nserver = \"pbx\"\n"),
    );
    assert_at(&d, "m.toml", 5, 1, "legacy");
    let (_dir, loaded) = load_text(
        "m.toml",
        &format!("{TOML_USERS}[settings]\nserver = {{ policy = \"remove\" }}\n"),
        &[],
    );
    assert!(loaded.unwrap().warnings.is_empty());
}

#[test]
fn literal_passwords_are_refused_unless_accepted() {
    let toml = format!(
        "{TOML_USERS}[[accounts]]\nlabel = \"A\"\npassword = {{ literal = \"hunter2\" }}\n"
    );
    let d = error("m.toml", &toml);
    assert_at(&d, "m.toml", 6, 24, "accept_literal_passwords = true");
    assert_eq!(
        d.source_line.as_deref(),
        Some("password = { literal = <redacted> }")
    );
    assert!(!d.render_human().contains("hunter2"));
    assert!(!d.render_github().contains("hunter2"));

    let accepted = toml.replacen(
        "[users]",
        "[security]\naccept_literal_passwords = true\n[users]",
        1,
    );
    let (_dir, loaded) = load_text("m.toml", &accepted, &[]);
    let loaded = loaded.expect("accepted literal");
    let password = loaded.manifest.accounts[0].password.clone().unwrap();
    assert_eq!(format!("{password:?}"), "Literal(<redacted>)");
    assert!(!format!("{loaded:?}").contains("hunter2"));

    // A wrongly typed literal is not echoed either.
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[[accounts]]\nlabel = \"A\"\npassword = {{ literal = 987654.5 }}\n"),
    );
    assert!(!d.render_human().contains("987654"), "{}", d.render_human());
    let d = error(
        "m.yaml",
        &format!(
            "{YAML_USERS}accounts:\n  - label: A\n    password: {{ literal: hunter2, env: X }}\n"
        ),
    );
    assert!(d.message.contains("exactly one of"), "{}", d.render_human());
    assert!(
        !d.render_human().contains("hunter2"),
        "{}",
        d.render_human()
    );
}

#[test]
fn password_column_must_exist() {
    let toml = format!(
        "{TOML_USERS}[[accounts]]\nlabel = \"A\"\npassword = {{ column = \"Extension\" }}\n"
    );
    let d = error("m.toml", &toml);
    assert_at(&d, "m.toml", 6, 23, "did you mean `extension`?");
}

#[test]
fn shortcuts_rules() {
    let items: String = (0..9)
        .map(|n| format!("{{ label = \"B{n}\", number = \"{n}\" }},"))
        .collect();
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[shortcuts]\nitems = [{items}]\n"),
    );
    assert_eq!(d.line, 5);
    assert!(d.message.contains("at most 8"), "{}", d.message);
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[shortcuts]\nitems = [{{ label = \"a;b\", number = \"1\" }}]\n"),
    );
    assert_at(&d, "m.toml", 5, 20, "cannot contain `;`");
    let d = error("m.toml", &format!("{TOML_USERS}[shortcuts]\nitems = [{{ label = \"a\", number = \"1\", type = \"fax\" }}]\n"));
    assert_at(&d, "m.toml", 5, 46, "type must be");
}

#[test]
fn too_many_accounts() {
    let accounts: String = (0..101)
        .map(|n| format!("[[accounts]]\nlabel = \"A{n}\"\n"))
        .collect();
    let d = error("m.toml", &format!("{TOML_USERS}{accounts}"));
    assert_eq!(d.line, 4 + 2 * 100, "{}", d.render_human());
    assert!(d.message.contains("at most 100"));
}

#[test]
fn removed_accounts_must_not_be_provisioned() {
    let d = error(
        "m.toml",
        &format!("removed_accounts = [\"a\"]\n{TOML_USERS}[[accounts]]\nlabel = \"A\"\n"),
    );
    assert_at(&d, "m.toml", 1, 21, "both provisioned");
}

#[test]
fn templates_must_exist() {
    let toml =
        format!("{TOML_USERS}[[accounts]]\nlabel = \"A\"\ntemplate = \"t/missing.ini.hbs\"\n");
    let d = error("m.toml", &toml);
    assert_at(&d, "m.toml", 6, 12, "not found");
    let (_dir, loaded) = load_text("m.toml", &toml, &[("t/missing.ini.hbs", "label=x\n")]);
    assert!(loaded.is_ok());
}

#[test]
fn the_format_comes_from_the_extension() {
    let (_dir, result) = load_text("m.json", "{}", &[]);
    let e = result.unwrap_err();
    assert!(matches!(e, ManifestError::UnknownFormat { .. }));
    assert!(e.to_string().contains(".toml, .yaml or .yml"));
    let (_dir, result) = load_text("M.YML", YAML_USERS, &[]);
    assert!(result.is_ok());
    let e = load(Path::new("/nonexistent/fleet.toml")).unwrap_err();
    assert!(matches!(e, ManifestError::Read { .. }));
    assert_eq!(e.diagnostics()[0].line, 1);
}

#[test]
fn users_need_exactly_one_source() {
    let d = error("m.toml", "version = 1\n[users]\nkey = \"username\"\n");
    assert_at(&d, "m.toml", 2, 2, "exactly one of `csv`");
}

#[test]
fn csv_errors_point_into_the_csv_file() {
    let manifest = "version = 1\n[users]\ncsv = \"users.csv\"\n";
    let d = errors(
        "m.toml",
        manifest,
        &[("users.csv", "login,extension\njdoe,1001\n")],
    )
    .remove(0);
    assert_at(&d, "users.csv", 1, 1, "no `username` column");
    assert!(d.render_human().contains("1 | login,extension"));

    let d = errors(
        "m.toml",
        &manifest.replace("\"users.csv\"", "\"users.csv\"\nkey = \"Login\""),
        &[("users.csv", "login,extension\njdoe,1001\n")],
    )
    .remove(0);
    assert!(d.message.contains("did you mean `login`?"), "{}", d.message);

    let csv = "username,extension,sip_password\njdoe,1001,pw-one\nCORP\\JDoe,1002,pw-two\n";
    let d = errors("m.toml", manifest, &[("users.csv", csv)]).remove(0);
    assert_at(&d, "users.csv", 3, 1, "duplicate user \"jdoe\": line 2");
    assert!(!d.render_human().contains("pw-two"), "{}", d.render_human());
    assert!(
        d.render_human().contains("CORP\\JDoe,1002,<redacted>"),
        "{}",
        d.render_human()
    );

    // Rows ending in a lone `\r` (old Mac exports) are one line to a message: the password of
    // a row after the faulty one must be hidden too, and so must the header's message.
    let csv = "username,extension,sip_password\r,1001,pw-one\rbob,1002,pw-two\r";
    let all = errors("m.toml", manifest, &[("users.csv", csv)]);
    for d in &all {
        let shown = d.render_human();
        assert!(
            !shown.contains("pw-one") && !shown.contains("pw-two"),
            "{shown}"
        );
    }
    assert!(
        all.iter().any(|d| d.message.contains("user name is empty")),
        "{all:#?}"
    );

    let csv = "username,extension\njdoe,1001\nasmith,1002,extra\nbob\n";
    let all = errors("m.toml", manifest, &[("users.csv", csv)]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_at(
        &all[0],
        "users.csv",
        3,
        13,
        "3 field(s) but the header has 2",
    );
    assert_at(&all[1], "users.csv", 4, 4, "1 field(s)");

    let d = errors("m.toml", manifest, &[]).remove(0);
    assert_at(&d, "m.toml", 3, 7, "cannot read the users file");

    let d = errors("m.toml", manifest, &[("users.csv", "username,ext\n,1\n")]).remove(0);
    assert_at(&d, "users.csv", 2, 1, "empty");
}

#[test]
fn csv_files_may_use_other_delimiters_and_encodings() {
    let dir = folder(&[(
        "m.yaml",
        "version: 1\nusers:\n  csv: users.csv\n  delimiter: \";\"\n",
    )]);
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "username;name\r\njdoe;Jöhn\r\n;\r\n\r\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(dir.path().join("users.csv"), bytes).unwrap();
    let loaded = load(&dir.path().join("m.yaml")).unwrap();
    assert_eq!(loaded.users.find("jdoe").unwrap().get("name"), Some("Jöhn"));
    // The empty `;` row a spreadsheet leaves behind is not a user.
    assert_eq!(loaded.users.len(), 1);
}

#[test]
fn inline_rows_are_checked_like_csv_rows() {
    let d = error(
        "m.toml",
        "version = 1\n[users]\nrows = [\n  { username = \"a\", ext = \"1\" },\n  { username = \"b\" },\n]\n",
    );
    assert_at(&d, "m.toml", 5, 3, "no column `ext`");
    let d = error(
        "m.yaml",
        "version: 1\nusers:\n  rows:\n    - username: jdoe\n    - username: JDOE\n",
    );
    assert_at(&d, "m.yaml", 5, 17, "duplicate user");
}

#[test]
fn users_match_across_domain_spellings_and_case() {
    let (_dir, loaded) = load_text(
        "m.toml",
        "version = 1\n[users]\nkey = \"login\"\nrows = [{ login = \"JDoe\", ext = \"1\" }, { login = \"asmith\", ext = \"2\" }]\n",
        &[],
    );
    let loaded = loaded.unwrap();
    for name in ["jdoe", "JDOE", "CORP\\jdoe", "jdoe@corp.example", " jdoe "] {
        let row = loaded
            .users
            .find(name)
            .unwrap_or_else(|| panic!("{name} not found"));
        assert_eq!(row.get("ext"), Some("1"));
    }
    assert!(loaded.users.find("jdoe2").is_none());
    assert!(loaded.users.find("").is_none());
    assert_eq!(normalize_user_name("CORP\\JDoe"), "jdoe");
    let json = loaded.users.find("asmith").unwrap().to_json();
    assert_eq!(json, serde_json::json!({ "login": "asmith", "ext": "2" }));
    assert_eq!(loaded.users.rows[0].line, 4);
}

fn row(fields: &[(&str, &str)]) -> UserRow {
    UserRow::new(fields.iter().copied(), 2)
}

#[test]
fn secrets_resolve_from_env_file_and_column() {
    let dir = folder(&[
        ("secrets/jdoe.txt", "file-secret\r\n"),
        ("secrets/empty.txt", ""),
    ]);
    let user = row(&[("username", "jdoe"), ("pw", "column-secret"), ("blank", "")]);
    let base = dir.path();

    let var = "MICROSIP_PROVISION_TEST_SECRET_JDOE";
    std::env::set_var(var, "env-secret");
    let env = SecretRef::Env("MICROSIP_PROVISION_TEST_SECRET_{{user.username}}".into());
    let secret = resolve_secret(&env, var, &user, base).unwrap().unwrap();
    assert_eq!(secret.expose(), "env-secret");
    assert_eq!(format!("{secret:?}"), "<redacted>");
    assert!(
        resolve_secret(&env, "MICROSIP_PROVISION_TEST_UNSET_VAR", &user, base)
            .unwrap()
            .is_none()
    );
    std::env::remove_var(var);

    let file = SecretRef::File("secrets/{{user.username}}.txt".into());
    let secret = resolve_secret(&file, "secrets/jdoe.txt", &user, base)
        .unwrap()
        .unwrap();
    assert_eq!(secret.expose(), "file-secret");
    assert!(resolve_secret(&file, "secrets/nobody.txt", &user, base)
        .unwrap()
        .is_none());
    assert!(resolve_secret(&file, "secrets/empty.txt", &user, base)
        .unwrap()
        .is_none());
    // A folder is an I/O error naming the path, not a missing file.
    let e = resolve_secret(&file, "secrets", &user, base).unwrap_err();
    assert!(e.to_string().contains("secrets"), "{e}");

    let column = SecretRef::Column("pw".into());
    assert_eq!(
        resolve_secret(&column, "pw", &user, base)
            .unwrap()
            .unwrap()
            .expose(),
        "column-secret"
    );
    assert!(
        resolve_secret(&SecretRef::Column("blank".into()), "blank", &user, base)
            .unwrap()
            .is_none()
    );
    assert!(
        resolve_secret(&SecretRef::Column("nope".into()), "nope", &user, base)
            .unwrap()
            .is_none()
    );

    let literal = SecretRef::Literal("lit".into());
    assert_eq!(
        resolve_secret(&literal, "", &user, base)
            .unwrap()
            .unwrap()
            .expose(),
        "lit"
    );
}

#[test]
fn the_schema_is_json_and_closed() {
    let schema = json_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap();
    let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reparsed, schema);
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    assert_eq!(schema["required"], serde_json::json!(["version", "users"]));
    for name in [
        "Account",
        "UsersSection",
        "Security",
        "Shortcuts",
        "Shortcut",
    ] {
        assert_eq!(
            schema["$defs"][name]["additionalProperties"],
            serde_json::json!(false),
            "{name}: {}",
            schema["$defs"][name]
        );
    }
    assert!(text.contains("accept_literal_passwords"));
    assert!(
        text.contains("Stable id"),
        "doc comments become descriptions"
    );
}

#[test]
fn diagnostics_render_for_github() {
    let d = error(
        "m.toml",
        &format!("{TOML_USERS}[[accounts]]\nlabel = \"A\"\nactive = \"yes\"\n"),
    );
    let github = d.render_github();
    assert!(github.starts_with("::error file="), "{github}");
    assert!(github.contains(",line=6,col=10::"), "{github}");
    assert_eq!(d.severity, Severity::Error);
    let _ = manifest::Format::Toml;
}

#[test]
fn the_example_fleet_loads_the_same_from_toml_and_yaml() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let toml = load(&examples.join("fleet.toml")).expect("examples/fleet.toml loads");
    let yaml = load(&examples.join("fleet.yaml")).expect("examples/fleet.yaml loads");
    assert_eq!(toml.manifest, yaml.manifest);
    assert_eq!(toml.users, yaml.users);
    assert!(toml.warnings.is_empty(), "{:#?}", toml.warnings);
}

#[test]
fn yaml_errors_name_the_field_and_missing_fields_point_at_their_mapping() {
    let d = error(
        "m.yaml",
        &format!("{YAML_USERS}accounts:\n  - id: x\n    keys: {{ server: a }}\n"),
    );
    assert_at(&d, "m.yaml", 6, 5, "missing field `label`");
    let d = error(
        "m.yaml",
        &format!("{YAML_USERS}settings:\n  enableLog: true\n"),
    );
    assert!(
        d.message.starts_with("`settings.enableLog`: "),
        "{}",
        d.message
    );
    let d = error("m.toml", &format!("{TOML_USERS}[[accounts]]\nid = \"x\"\n"));
    assert_at(&d, "m.toml", 4, 1, "missing field `label`");
}

#[test]
fn a_top_level_field_after_a_toml_table_gets_a_hint() {
    let toml = format!(
        "{TOML_USERS}[[accounts]]\nlabel = \"A\"\n[accounts.keys]\nserver = \"pbx\"\nremoved_accounts = [\"old\"]\n"
    );
    let d = error("m.toml", &toml);
    assert_at(
        &d,
        "m.toml",
        8,
        20,
        "must come before the first [table] header",
    );
    assert!(
        d.message.contains("accounts[0].keys.removed_accounts"),
        "{}",
        d.message
    );
}

#[test]
fn secrets_never_reach_messages() {
    // A password column of inline rows, shown in an unrelated error's line.
    let toml =
        "version = 1\n[users]\nrows = [{ username = \"a\", pw = \"top-secret-1\", x = true }]\n\
                [[accounts]]\nlabel = \"A\"\npassword = { column = \"pw\" }\n";
    let d = error("m.toml", toml);
    let shown = format!("{}\n{}\n{:?}", d.render_human(), d.render_github(), d);
    assert!(!shown.contains("top-secret-1"), "{shown}");
    // A misspelt password field at the account level.
    let toml = format!("{TOML_USERS}[[accounts]]\nlabel = \"A\"\npasword = \"top-secret-2\"\n");
    let d = error("m.toml", &toml);
    assert!(
        d.message.contains("unknown field `pasword`"),
        "{}",
        d.message
    );
    assert!(
        !d.render_human().contains("top-secret-2"),
        "{}",
        d.render_human()
    );
    // A syntax error on a password line: the line is not shown at all.
    let toml = format!(
        "{TOML_USERS}[[accounts]]\nlabel = \"A\"\npassword = {{ literal = \"top-secret-3\" \n"
    );
    let d = error("m.toml", &toml);
    assert!(
        !d.render_human().contains("top-secret-3"),
        "{}",
        d.render_human()
    );
    // YAML, literal of the wrong type.
    let yaml = format!(
        "{YAML_USERS}accounts:\n  - label: A\n    password: {{ literal: [top-secret-4] }}\n"
    );
    let d = error("m.yaml", &yaml);
    assert!(
        !d.render_human().contains("top-secret-4"),
        "{}",
        d.render_human()
    );
}

/// A file that is not UTF-8 never parsed, so its password fields are unknown (a password column
/// may have any name): the error names the line and column of the bad byte, without the line,
/// which may hold a password before that byte.
#[test]
fn an_undecodable_file_shows_no_line_that_may_hold_a_password() {
    let check = |files: &[(&str, &[u8])], manifest: &str, at: (&str, usize, usize)| {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let diagnostics = load(&dir.path().join(manifest)).unwrap_err().diagnostics();
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let d = &diagnostics[0];
        let shown = format!("{}\n{}\n{:?}", d.render_human(), d.render_github(), d);
        assert!(!shown.contains("top-secret"), "{shown}");
        assert!(d.message.contains("UTF-8"), "{shown}");
        assert_eq!(
            (
                d.path.file_name().unwrap().to_str().unwrap(),
                d.line,
                d.column
            ),
            at,
            "{shown}"
        );
    };
    check(
        &[(
            "m.toml",
            b"version = 1\n[users]\nrows = [{ username = \"a\" }]\n[[accounts]]\nlabel = \"A\"\n\
              password = \"top-secret-1\" # caf\xe9\n",
        )],
        "m.toml",
        ("m.toml", 6, 32),
    );
    check(
        &[(
            "m.yaml",
            b"version: 1\nusers:\n  rows: [{ username: a }]\naccounts:\n  - label: A\n    \
              password: top-secret-2 # caf\xe9\n",
        )],
        "m.yaml",
        ("m.yaml", 6, 33),
    );
    // A password column with a name that does not look like one, before a Latin-1 name.
    check(
        &[
            (
                "m.toml",
                b"version = 1\n[users]\ncsv = \"users.csv\"\n[[accounts]]\nlabel = \"A\"\n\
                  password = { column = \"pin\" }\n[accounts.keys]\ndomain = \"pbx\"\n",
            ),
            (
                "users.csv",
                b"username,pin,name\njdoe,top-secret-3,Jos\xe9\n",
            ),
        ],
        "m.toml",
        ("users.csv", 2, 22),
    );
}

/// Values are read as the csv crate reads RFC 4180: quotes, doubled quotes, a line break inside
/// quotes, empty and non-ASCII values, a UTF-8 BOM; each row keeps its own line, counted past
/// a quoted line break.
#[test]
fn csv_values_and_lines_are_read_as_written() {
    let csv = "\u{FEFF}username,display name,title,extension\r\n\
               jdoe,\"Doe, \"\"JD\"\" John\",,1001\r\n\
               asmith,\"Anna\nSmith\",Ärztin,1002\r\n\
               bob,Bob,\"\",\r\n";
    let (_dir, loaded) = load_text(
        "m.toml",
        "version = 1\n[users]\ncsv = \"users.csv\"\n",
        &[("users.csv", csv)],
    );
    let users = loaded.unwrap().users;
    let jdoe = users.find("jdoe").unwrap();
    assert_eq!(
        jdoe.fields().collect::<Vec<_>>(),
        [
            ("username", "jdoe"),
            ("display name", "Doe, \"JD\" John"),
            ("title", ""),
            ("extension", "1001"),
        ]
    );
    assert_eq!(jdoe.line, 2);
    let asmith = users.find("ASMITH").unwrap();
    assert_eq!(asmith.get("display name"), Some("Anna\nSmith"));
    assert_eq!(asmith.get("title"), Some("Ärztin"));
    assert_eq!(asmith.get("extension"), Some("1002"));
    assert_eq!(asmith.get("Extension"), None, "column names are exact");
    assert_eq!(asmith.line, 3);
    let bob = users.find("bob").unwrap();
    assert_eq!(
        (bob.get("title"), bob.get("extension")),
        (Some(""), Some(""))
    );
    assert_eq!(bob.line, 5, "the quoted line break counts");
    assert_eq!(
        bob.to_json(),
        serde_json::json!({"username": "bob", "display name": "Bob", "title": "", "extension": ""})
    );
}

/// Excel on Windows ends rows in `\r\n`: errors point at the row itself, name the right line,
/// and hide its password (they pointed at the end of the line before, where the password
/// fields were not found, and showed the password).
#[test]
fn csv_errors_in_a_crlf_file_point_at_the_row_and_hide_its_password() {
    let manifest = "version = 1\n[users]\ncsv = \"users.csv\"\n";
    let csv = "username,extension,sip_password\r\njdoe,1001,top-secret-1\r\n\r\nCORP\\JDoe,1002,top-secret-2\r\n";
    let d = errors("m.toml", manifest, &[("users.csv", csv)]).remove(0);
    let shown = d.render_human();
    assert_at(&d, "users.csv", 4, 1, "duplicate user \"jdoe\": line 2");
    assert!(!shown.contains("top-secret"), "{shown}");
    assert!(shown.contains("CORP\\JDoe,1002,<redacted>"), "{shown}");

    let csv = "username,extension,sip_password\r\njdoe,1001,top-secret-3,extra\r\n";
    let d = errors("m.toml", manifest, &[("users.csv", csv)]).remove(0);
    let shown = d.render_human();
    assert_at(&d, "users.csv", 2, 24, "4 field(s) but the header has 3");
    assert!(!shown.contains("top-secret"), "{shown}");
}

/// A users file exported without its header row: the first user's row is read as the header.
/// When it lacks the password column the manifest names, messages about it show neither its
/// line nor its cells (they may be that user's password).
#[test]
fn a_csv_without_a_header_row_does_not_show_its_first_row() {
    let manifest = "version = 1\n[users]\ncsv = \"users.csv\"\n[[accounts]]\nlabel = \"A\"\n\
                    password = { column = \"sip_password\" }\n[accounts.keys]\ndomain = \"pbx\"\n";
    for csv in [
        "jdoe,1001,top-secret-1\nasmith,1002,top-secret-2\n",
        "jdoe,1001,top-secret-1\rasmith,1002,top-secret-2\r",
        "jdoe,top-secret-1,top-secret-1\n",
    ] {
        let all = errors("m.toml", manifest, &[("users.csv", csv)]);
        let shown = format!(
            "{}\n{all:?}",
            all.iter().map(|d| d.render_human()).collect::<String>()
        );
        assert!(!shown.contains("top-secret"), "{shown}");
        let d = all
            .iter()
            .find(|d| d.message.contains("the first row must name the columns"))
            .expect(&shown);
        assert_eq!((d.line, d.column), (1, 1), "{shown}");
    }
    // With the password column named, the header is a header: shown as before.
    let csv = "login,ext,sip_password\njdoe,1001,top-secret-3\n";
    let d = errors("m.toml", manifest, &[("users.csv", csv)]).remove(0);
    assert!(
        d.message
            .contains("(columns: `login`, `ext`, `sip_password`)"),
        "{}",
        d.message
    );
    assert!(d.render_human().contains("1 | login,ext,sip_password"));
}

/// A quote left open in a users file swallows every row after it: an error at the quote, not
/// users silently missing (nor a message about a line past the end of the file).
#[test]
fn an_unclosed_quote_in_a_users_file_is_an_error_at_the_quote() {
    let manifest = "version = 1\n[users]\ncsv = \"users.csv\"\n";
    for (csv, at) in [
        (
            "username,name,ext\njdoe,\"Doe, John,1001\nasmith,Anna,1002\n",
            (2, 6),
        ),
        (
            "username,name,ext\njdoe,John,\"1001\nasmith,Anna,1002\n",
            (2, 11),
        ),
        (
            "username,name,ext\r\njdoe,John,1001\r\nasmith,Anna,\"1002",
            (3, 13),
        ),
    ] {
        let all = errors("m.toml", manifest, &[("users.csv", csv)]);
        let d = all
            .iter()
            .find(|d| d.message.contains("this quote is never closed"))
            .unwrap_or_else(|| panic!("{all:#?}"));
        assert_eq!((d.line, d.column), at, "{}", d.render_human());
    }
    // Closed quotes, doubled quotes and a last row without a line end are fine.
    let (_dir, loaded) = load_text(
        "m.toml",
        manifest,
        &[(
            "users.csv",
            "username,name\njdoe,\"Doe, \"\"J\"\"\"\nbob,\"B\"o\"b\nasmith,\"Anna\"",
        )],
    );
    let users = loaded.unwrap().users;
    assert_eq!(users.find("jdoe").unwrap().get("name"), Some("Doe, \"J\""));
    assert_eq!(users.find("asmith").unwrap().get("name"), Some("Anna"));
    // After its closing quote, a quote is an ordinary character (as the csv crate reads).
    assert_eq!(users.find("bob").unwrap().get("name"), Some("Bo\"b"));
    let (_dir, loaded) = load_text(
        "m.toml",
        manifest,
        &[("users.csv", "username,name\nbob,\"B\"o\"b")],
    );
    assert_eq!(
        loaded.unwrap().users.find("bob").unwrap().get("name"),
        Some("Bo\"b")
    );
}
