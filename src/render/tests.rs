use serde_json::json;

use super::*;

fn ctx() -> Value {
    json!({
        "user": {"name": "Ann Lee", "extension": "201", "email": "Ann.Lee@Corp.example",
                 "title": "", "notes": "line one\nline two"},
        "profile": {"user": "alee"},
    })
}

fn r() -> Renderer {
    Renderer::new()
}

#[test]
fn renderer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Renderer>();
}

#[test]
fn nothing_is_escaped() {
    let ctx = json!({"user": {"v": "a=b&c<d>\"e\" 'f' `g`"}});
    assert_eq!(
        r().render_str("v", "x={{user.v}}", &ctx).unwrap(),
        "x=a=b&c<d>\"e\" 'f' `g`"
    );
}

#[test]
fn plain_strings_bypass_handlebars() {
    let ctx = json!({});
    assert_eq!(
        r().render_str("v", "sip.example.com", &ctx).unwrap(),
        "sip.example.com"
    );
    assert_eq!(r().render_str("v", "a}}b\\x", &ctx).unwrap(), "a}}b\\x");
}

#[test]
fn inline_templates_are_cached_and_errors_name_the_caller() {
    let renderer = r();
    let source = "{{user.extension}}";
    assert_eq!(renderer.render_str("a", source, &ctx()).unwrap(), "201");
    assert_eq!(renderer.render_str("b", source, &ctx()).unwrap(), "201");
    assert_eq!(renderer.inline_cache().len(), 1);
    // The same cached source, used elsewhere, reports the new caller's name.
    let e = renderer
        .render_str("accounts[1].keys.username", source, &json!({"user": {}}))
        .unwrap_err();
    assert_eq!(e.template, "accounts[1].keys.username");
}

#[test]
fn strict_missing_variable_names_template_line_column_and_columns() {
    let e = r()
        .render_str(
            "accounts[0].keys.username",
            "x\n  {{user.extnsion}}",
            &ctx(),
        )
        .unwrap_err();
    assert_eq!(e.template, "accounts[0].keys.username");
    assert_eq!((e.line, e.column), (Some(2), Some(3)), "{e}");
    assert!(
        e.message.contains("undefined variable `user.extnsion`"),
        "{e}"
    );
    assert!(e.message.contains("`email`, `extension`, `name`"), "{e}");
    assert!(e.message.contains("did you mean `user.extension`?"), "{e}");
    assert!(
        e.to_string()
            .starts_with("accounts[0].keys.username:2:3: undefined variable"),
        "{e}"
    );
}

#[test]
fn syntax_error_position() {
    let e = r().render_str("f", "ok\nab {{#if x}}", &ctx()).unwrap_err();
    assert_eq!(e.template, "f");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.column.is_some(), "{e}");

    let mut renderer = r();
    let e = renderer
        .add_template_str("bad.hbs", "a=1\nb={{user.x}\n")
        .unwrap_err();
    assert_eq!(e.template, "bad.hbs");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.starts_with("template syntax error"), "{e}");

    let e = renderer
        .add_template_str("mismatch.hbs", "{{#if a}}\nx\n{{/each}}\n")
        .unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(
        e.message.contains("`{{#if}}` is closed by `{{/each}}`"),
        "{e}"
    );
}

#[test]
fn case_helpers() {
    let renderer = r();
    assert_eq!(
        renderer
            .render_str("v", "{{lower user.email}}|{{upper user.name}}", &ctx())
            .unwrap(),
        "ann.lee@corp.example|ANN LEE"
    );
    assert_eq!(
        renderer
            .render_str("v", "{{upper \"straße\"}}", &ctx())
            .unwrap(),
        "STRASSE"
    );
    let e = renderer
        .render_str("v", "{{lower user.mail}}", &ctx())
        .unwrap_err();
    assert!(e.message.contains("undefined variable `user.mail`"), "{e}");
    assert_eq!((e.line, e.column), (Some(1), Some(1)));
    let e = renderer.render_str("v", "{{lower}}", &ctx()).unwrap_err();
    assert!(e.message.contains("`lower` takes one argument"), "{e}");
    let e = renderer
        .render_str("v", "{{lower user}}", &ctx())
        .unwrap_err();
    assert!(e.message.contains("list or a table"), "{e}");
}

#[test]
fn default_helper_in_strict_mode() {
    let renderer = r();
    let render = |source: &str| renderer.render_str("v", source, &ctx());
    // Missing field, missing parent, empty value: the fallback.
    assert_eq!(
        render("{{default user.department \"Staff\"}}").unwrap(),
        "Staff"
    );
    assert_eq!(
        render("{{default nobody.title \"Staff\"}}").unwrap(),
        "Staff"
    );
    assert_eq!(render("{{default user.title \"Staff\"}}").unwrap(), "Staff");
    // Present and non-empty: the value.
    assert_eq!(render("{{default user.extension \"0\"}}").unwrap(), "201");
    // The fallback may be a variable; composes with other helpers.
    assert_eq!(
        render("{{default user.title user.name}}").unwrap(),
        "Ann Lee"
    );
    assert_eq!(
        render("{{upper (default user.department \"it\")}}").unwrap(),
        "IT"
    );
    // A missing fallback is still a strict-mode error naming it.
    let e = render("{{default user.title user.nope}}").unwrap_err();
    assert!(e.message.contains("undefined variable `user.nope`"), "{e}");
    let e = render("{{default user.title}}").unwrap_err();
    assert!(e.message.contains("`default` takes two arguments"), "{e}");
    // `if` on a missing field stays allowed (handlebars' strict mode).
    assert_eq!(render("{{#if user.nope}}y{{else}}n{{/if}}").unwrap(), "n");
}

#[test]
fn unknown_helper_is_named() {
    let e = r()
        .render_str("v", "{{slugify user.name}}", &ctx())
        .unwrap_err();
    assert!(e.message.contains("unknown helper `slugify`"), "{e}");
}

#[test]
fn values_with_line_breaks_or_nul_are_rejected_without_echo() {
    let renderer = r();
    assert_eq!(
        renderer.render_str("v", "{{user.notes}}", &ctx()).unwrap(),
        "line one\nline two"
    );
    let e = renderer
        .render_value("accounts[0].keys.displayName", "{{user.notes}}", &ctx())
        .unwrap_err();
    assert_eq!(e.template, "accounts[0].keys.displayName");
    assert!(e.message.contains("line break"), "{e}");
    assert!(!e.to_string().contains("line one"));
    assert!(renderer.render_value("v", "a\r\nb", &ctx()).is_err());
    assert!(renderer.render_value("v", "a\rb", &ctx()).is_err());
    assert!(renderer.render_value("v", "a\0b", &ctx()).is_err());
    assert_eq!(
        renderer.render_value("v", "{{user.name}}", &ctx()).unwrap(),
        "Ann Lee"
    );
}

#[test]
fn triple_stash_is_refused_everywhere() {
    let mut renderer = r();
    for source in [
        "a={{{user.name}}}",
        "a={{&user.name}}",
        "{{#if user.name}}\nx\n{{else}}\na={{{user.notes}}}\n{{/if}}\n",
        "{{#each user}}\n{{{this}}}\n{{/each}}",
    ] {
        let e = renderer.add_template_str("t.hbs", source).unwrap_err();
        assert!(e.message.contains("are not allowed"), "{source}: {e}");
        assert!(e.line.is_some(), "{source}: {e}");
        assert!(
            renderer.render_str("v", source, &ctx()).is_err(),
            "{source}"
        );
    }
}

#[test]
fn interpolated_line_break_in_fragment_is_an_error() {
    let mut renderer = r();
    renderer
        .add_template_str("t.hbs", "displayName={{user.notes}}\n")
        .unwrap();
    let e = renderer.render_fragment("t.hbs", &ctx()).unwrap_err();
    assert!(
        e.message.contains("rendered line 1 contains a line break"),
        "{e}"
    );
    assert!(!e.to_string().contains("line two"));
}

#[test]
fn builtin_template_typical_account() {
    let keys = [
        ("server", "sip.example.com"),
        ("proxy", ""),
        ("domain", "example.com"),
        ("username", "201"),
        ("displayName", "  Ann \"the boss\" Lee "),
        ("authID", "201"),
        ("transport", "tls"),
        ("SRTP", "mandatory"),
        ("publish", "1"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let user = ctx()["user"].as_object().unwrap().clone();
    let context = template_context(
        &user,
        "alee",
        Some(&AccountContext {
            id: "office",
            label: "Office & Co = HQ",
            keys: &keys,
        }),
    );
    let pairs = r().render_builtin_fragment(&context).unwrap();
    let mut expected = vec![("label".to_string(), "Office & Co = HQ".to_string())];
    expected.extend(keys.iter().cloned());
    assert_eq!(pairs, expected);
}

#[test]
fn builtin_template_renders_clean_text() {
    let keys = [("server".to_string(), "s".to_string())];
    let context = template_context(
        &Map::new(),
        "u",
        Some(&AccountContext {
            id: "i",
            label: "L",
            keys: &keys,
        }),
    );
    let text = r()
        .registry
        .render_template(BUILTIN_TEMPLATE_SOURCE, &context)
        .unwrap();
    assert_eq!(text, "label=\"L\"\nserver=\"s\"\n");
    assert_eq!(
        r().render_builtin_fragment(&context).unwrap(),
        [("label", "L"), ("server", "s")].map(|(k, v)| (k.to_string(), v.to_string()))
    );
}

#[test]
fn context_shape() {
    let mut user = Map::new();
    user.insert("name".into(), json!("Ann"));
    let keys = [
        ("username".to_string(), "201".to_string()),
        ("domain".to_string(), "d".to_string()),
    ];
    let account = AccountContext {
        id: "office",
        label: "Office",
        keys: &keys,
    };
    assert_eq!(
        template_context(&user, "CORP\\ann", Some(&account)),
        json!({
            "user": {"name": "Ann"},
            "account": {
                "id": "office",
                "label": "Office",
                "keys": {"username": "201", "domain": "d"},
                "keys_list": [{"name": "username", "value": "201"}, {"name": "domain", "value": "d"}],
            },
            "profile": {"user": "CORP\\ann"},
        })
    );
    assert_eq!(
        template_context(&user, "ann", None),
        json!({"user": {"name": "Ann"}, "profile": {"user": "ann"}})
    );
}

#[test]
fn unknown_fragment_template_is_named() {
    let e = r().render_fragment("nope.hbs", &ctx()).unwrap_err();
    assert_eq!(e.template, "nope.hbs");
    assert!(e.message.contains("(known: none)"), "{e}");
    let mut renderer = r();
    renderer.add_template_str("mine.hbs", "a=1").unwrap();
    let e = renderer.render_fragment("nope.hbs", &ctx()).unwrap_err();
    assert!(e.message.contains("(known: mine.hbs)"), "{e}");
    // The built-in template is not a registered name (a file may be called that).
    let e = renderer
        .render_fragment(BUILTIN_TEMPLATE, &ctx())
        .unwrap_err();
    assert!(e.message.contains("no template named"), "{e}");
}

#[test]
fn template_file_decoding() {
    assert_eq!(
        decode_template_file(b"\xEF\xBB\xBFa=1").as_deref(),
        Some("a=1")
    );
    assert_eq!(
        decode_template_file(b"\xFF\xFEa\x00=\x001\x00").as_deref(),
        Some("a=1")
    );
    assert_eq!(decode_template_file(b"\xFF\xFEa"), None);
    assert_eq!(decode_template_file(b"a=\xE9"), None);
}

/// The built-in template's known output is exactly what rendering it gives, for awkward labels
/// and values (quotes, blanks, `;`, `=`, non-ASCII, empty), and it declines what it cannot be sure
/// of (then the template runs and decides, errors included).
#[test]
fn the_builtin_fragment_is_what_the_template_renders() {
    let renderer = Renderer::new();
    let user = serde_json::Map::new();
    let values = [
        "plain",
        "",
        "  padded  ",
        "\"quoted\"",
        "'single'",
        "a\"b",
        "ends with quote\"",
        "; not a comment",
        "x=y",
        "Müller 李",
        "\t tab",
        "[not a header]",
    ];
    for label in values {
        for value in values {
            let keys = vec![
                ("server".to_string(), value.to_string()),
                ("domain".to_string(), "pbx.example.com".to_string()),
                ("displayName".to_string(), value.to_string()),
            ];
            let known = builtin_fragment(label, &keys).expect("plain names and values");
            let context = template_context(
                &user,
                "alice",
                Some(&AccountContext {
                    id: "office",
                    label,
                    keys: &keys,
                }),
            );
            let rendered = renderer.render_builtin_fragment(&context).unwrap();
            assert_eq!(known, rendered, "label {label:?}, value {value:?}");
        }
    }
    let declined = |label: &str, keys: &[(&str, &str)]| {
        let keys: Vec<(String, String)> = keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        builtin_fragment(label, &keys).is_none()
    };
    assert!(declined("x", &[("Label", "y")]), "a second label");
    assert!(declined("x", &[("a", "1"), ("A", "2")]), "a duplicate key");
    assert!(declined("x", &[(" a", "1")]), "a key with blanks");
    assert!(declined("x", &[("a=b", "1")]), "a key with =");
    assert!(declined("x", &[(";a", "1")]), "a comment-like key");
    assert!(declined("line\nbreak", &[]), "a line break");
    assert!(
        declined("x", &[("a", &"v".repeat(70_000))]),
        "a value near the 64K wrap"
    );
}

/// An error of the built-in template is named after it, even when the manifest has a template
/// file of the same name (that file is a different template).
#[test]
fn builtin_template_errors_are_not_named_after_a_file_of_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(BUILTIN_TEMPLATE);
    std::fs::write(&path, "a=1\n").unwrap();
    let mut renderer = r();
    renderer.add_template_file(BUILTIN_TEMPLATE, &path).unwrap();
    // No `account` in the context: strict mode stops at `account.label`.
    let e = renderer
        .render_builtin_fragment(&json!({"user": {}, "profile": {"user": "p"}}))
        .unwrap_err();
    assert_eq!(e.template, BUILTIN_TEMPLATE, "{e}");
    assert!(e.line.is_some(), "{e}");
    assert_eq!(
        renderer.render_fragment(BUILTIN_TEMPLATE, &ctx()).unwrap(),
        [("a".to_string(), "1".to_string())]
    );
}
