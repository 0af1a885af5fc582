//! `render`: the handlebars layer on real template files in temp folders. Special characters
//! survive, strict-mode and syntax errors carry the file path, line and column, the helpers work
//! in strict mode, the built-in template renders a typical account, and fragments are read with
//! Windows' rules (quotes, duplicates, headers, injected line breaks).

use std::fs;
use std::path::{Path, PathBuf};

use microsip_provision::render::{template_context, AccountContext, RenderError, Renderer};
use serde_json::{json, Map, Value};

use crate::common::utf16le_bom;

fn user() -> Map<String, Value> {
    json!({
        "login": "jdoe",
        "name": "Jane Doe",
        "extension": "4711",
        "email": "Jane.Doe@Corp.Example",
        "title": "",
        "notes": "first line\r\nsecond line",
    })
    .as_object()
    .unwrap()
    .clone()
}

fn account_context(keys: &[(String, String)]) -> Value {
    template_context(
        &user(),
        "CORP\\jdoe",
        Some(&AccountContext {
            id: "office",
            label: "Office",
            keys,
        }),
    )
}

fn keys(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Write `source` to `dir/name` and register it under `name`.
fn file_template(
    renderer: &mut Renderer,
    dir: &Path,
    name: &str,
    source: &str,
) -> Result<PathBuf, RenderError> {
    let path = dir.join(name);
    fs::write(&path, source).unwrap();
    renderer.add_template_file(name, &path).map(|()| path)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    keys(list)
}

#[test]
fn special_characters_survive_a_file_template() {
    let dir = tempfile::tempdir().unwrap();
    let mut renderer = Renderer::new();
    file_template(
        &mut renderer,
        dir.path(),
        "special.ini.hbs",
        "a={{user.v}}\r\nb='{{user.v}}'\r\n",
    )
    .unwrap();
    let context = json!({"user": {"v": "x=1&y=<2> \"q\" `t`"}});
    assert_eq!(
        renderer
            .render_fragment("special.ini.hbs", &context)
            .unwrap(),
        pairs(&[("a", "x=1&y=<2> \"q\" `t`"), ("b", "x=1&y=<2> \"q\" `t`")])
    );
}

#[test]
fn strict_missing_variable_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut renderer = Renderer::new();
    let path = file_template(
        &mut renderer,
        dir.path(),
        "acct.ini.hbs",
        "label={{account.label}}\r\nusername={{user.extention}}\r\n",
    )
    .unwrap();
    let error = renderer
        .render_fragment("acct.ini.hbs", &account_context(&[]))
        .unwrap_err();
    assert_eq!(error.template, path.display().to_string());
    assert_eq!((error.line, error.column), (Some(2), Some(10)), "{error}");
    assert!(
        error
            .message
            .contains("undefined variable `user.extention`"),
        "{error}"
    );
    assert!(error.message.contains("`extension`"), "{error}");
    assert!(
        error.message.contains("did you mean `user.extension`?"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:2:10: undefined variable", path.display())),
        "{error}"
    );
    // No value from the context is repeated (the users CSV may hold secrets).
    assert!(!error.to_string().contains("Jane"), "{error}");
}

#[test]
fn syntax_error_in_a_file_names_path_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut renderer = Renderer::new();
    let error = file_template(
        &mut renderer,
        dir.path(),
        "broken.ini.hbs",
        "label=x\nserver={{user.server}\ndomain=y\n",
    )
    .unwrap_err();
    assert_eq!(
        error.template,
        dir.path().join("broken.ini.hbs").display().to_string()
    );
    // Column 21 is the lone `}` where `}}` was expected.
    assert_eq!((error.line, error.column), (Some(2), Some(21)), "{error}");
    assert!(error.message.contains("not closed by `}}`"), "{error}");
    assert!(!renderer.has_template("broken.ini.hbs"));
}

#[test]
fn helpers_lower_upper_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut renderer = Renderer::new();
    file_template(
        &mut renderer,
        dir.path(),
        "helpers.ini.hbs",
        concat!(
            "username={{lower user.login}}\n",
            "displayName={{upper user.name}}\n",
            "email={{lower user.email}}\n",
            "title={{default user.title \"Staff\"}}\n",
            "department={{default user.department \"Sales\"}}\n",
            "extension={{default user.extension \"0\"}}\n",
        ),
    )
    .unwrap();
    assert_eq!(
        renderer
            .render_fragment("helpers.ini.hbs", &account_context(&[]))
            .unwrap(),
        pairs(&[
            ("username", "jdoe"),
            ("displayName", "JANE DOE"),
            ("email", "jane.doe@corp.example"),
            ("title", "Staff"),
            ("department", "Sales"),
            ("extension", "4711"),
        ])
    );
}

#[test]
fn builtin_template_typical_account() {
    let keys = keys(&[
        ("server", "pbx.corp.example:5061"),
        ("proxy", ""),
        ("domain", "corp.example"),
        ("username", "4711"),
        ("authID", "jdoe"),
        ("displayName", "Jane Doe (Sales & Support)"),
        ("dialingPrefix", ""),
        ("dialPlan", "x=1"),
        ("hideCID", "0"),
        ("voicemailNumber", "*97"),
        ("transport", "tls"),
        ("publicAddr", ""),
        ("SRTP", "mandatory"),
        ("registerRefresh", "300"),
        ("keepAlive", "15"),
        ("publish", "1"),
        ("ICE", "0"),
        ("allowRewrite", "0"),
        ("disableSessionTimer", "0"),
    ]);
    let renderer = Renderer::new();
    let fragment = renderer
        .render_builtin_fragment(&account_context(&keys))
        .unwrap();
    let mut expected = vec![("label".to_string(), "Office".to_string())];
    expected.extend(keys);
    assert_eq!(fragment, expected);
}

#[test]
fn builtin_template_keeps_blanks_and_quotes_of_values() {
    let keys = keys(&[("displayName", "  \"Jane\"  "), ("proxy", "''")]);
    let fragment = Renderer::new()
        .render_builtin_fragment(&account_context(&keys))
        .unwrap();
    assert_eq!(fragment[1..], keys[..]);
}

#[test]
fn fragment_with_a_section_header_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut renderer = Renderer::new();
    let path = file_template(
        &mut renderer,
        dir.path(),
        "header.ini.hbs",
        "; account\r\nlabel={{account.label}}\r\n\r\n[Account1]\r\nserver=x\r\n",
    )
    .unwrap();
    let error = renderer
        .render_fragment("header.ini.hbs", &account_context(&[]))
        .unwrap_err();
    assert_eq!(error.template, path.display().to_string());
    assert_eq!((error.line, error.column), (Some(4), Some(1)), "{error}");
    assert!(
        error
            .message
            .contains("rendered line 4 is a `[section]` header"),
        "{error}"
    );
}

#[test]
fn fragment_line_without_equals_is_an_error() {
    let mut renderer = Renderer::new();
    renderer
        .add_template_str("bare.hbs", "label=x\n{{user.login}}\n")
        .unwrap();
    let error = renderer
        .render_fragment("bare.hbs", &account_context(&[]))
        .unwrap_err();
    assert!(
        error.message.contains("rendered line 2 is not `key=value`"),
        "{error}"
    );
    assert!(!error.to_string().contains("jdoe"), "{error}");
}

#[test]
fn duplicate_key_is_an_error() {
    let mut renderer = Renderer::new();
    renderer
        .add_template_str("dup.hbs", "server=a\nlabel={{account.label}}\nSERVER=b\n")
        .unwrap();
    let error = renderer
        .render_fragment("dup.hbs", &account_context(&[]))
        .unwrap_err();
    assert!(
        error
            .message
            .contains("key `SERVER` is written twice (rendered lines 1 and 3)"),
        "{error}"
    );
    // Through the built-in template: a `label` key beside `account.label`.
    let error = Renderer::new()
        .render_builtin_fragment(&account_context(&keys(&[("label", "again")])))
        .unwrap_err();
    assert!(
        error.message.contains("key `label` is written twice"),
        "{error}"
    );
}

#[test]
fn quoted_value_reads_through_our_engine() {
    let dir = tempfile::tempdir().unwrap();
    let mut renderer = Renderer::new();
    file_template(
        &mut renderer,
        dir.path(),
        "quoted.ini.hbs",
        "displayName=\"  x  \"\nplain=   y   \n",
    )
    .unwrap();
    assert_eq!(
        renderer
            .render_fragment("quoted.ini.hbs", &account_context(&[]))
            .unwrap(),
        pairs(&[("displayName", "  x  "), ("plain", "y")])
    );
}

#[test]
fn utf16_template_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unicode.ini.hbs");
    fs::write(&path, utf16le_bom("displayName={{user.name}} – Büro\r\n")).unwrap();
    let mut renderer = Renderer::new();
    renderer
        .add_template_file("unicode.ini.hbs", &path)
        .unwrap();
    assert_eq!(
        renderer
            .render_fragment("unicode.ini.hbs", &account_context(&[]))
            .unwrap(),
        pairs(&[("displayName", "Jane Doe – Büro")])
    );
}

#[test]
fn value_with_a_newline_is_rejected() {
    let renderer = Renderer::new();
    let context = account_context(&[]);
    let error = renderer
        .render_value("accounts[0].keys.displayName", "{{user.notes}}", &context)
        .unwrap_err();
    assert_eq!(error.template, "accounts[0].keys.displayName");
    assert!(error.message.contains("line break"), "{error}");
    assert!(!error.to_string().contains("first line"), "{error}");
    assert_eq!(
        renderer
            .render_value("accounts[0].keys.username", "{{user.extension}}", &context)
            .unwrap(),
        "4711"
    );

    // The same value interpolated straight into a fragment cannot inject lines either.
    let mut renderer = Renderer::new();
    renderer
        .add_template_str("inject.hbs", "label=x\ndisplayName={{user.notes}}\n")
        .unwrap();
    let error = renderer
        .render_fragment("inject.hbs", &context)
        .unwrap_err();
    assert!(
        error
            .message
            .contains("value inserted on rendered line 2 contains a line break"),
        "{error}"
    );
}

#[test]
fn template_file_not_found_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.ini.hbs");
    let mut renderer = Renderer::new();
    let error = renderer.add_template_file("missing", &path).unwrap_err();
    assert_eq!(error.template, path.display().to_string());
    assert_eq!((error.line, error.column), (None, None));
    assert!(
        error.message.contains("cannot read the template file"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: ", path.display())),
        "{error}"
    );
}
