//! Manifest -> target state for one user, through the library: rendering, secrets and the
//! MicroSIP value checks that keep bad values out of profiles.

use std::fs;

use microsip_provision::manifest;
use microsip_provision::plan::target::{Target, TargetOptions};

fn load(toml: &str) -> (tempfile::TempDir, manifest::LoadedManifest) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("users.csv"), "username,ext\nalice,1001\n").unwrap();
    fs::write(dir.path().join("m.toml"), toml).unwrap();
    let loaded = manifest::load(&dir.path().join("m.toml")).unwrap();
    (dir, loaded)
}

fn render_errors(toml: &str) -> Vec<String> {
    let (_dir, loaded) = load(toml);
    let target = Target::new(&loaded).unwrap();
    let row = loaded.users.find("alice").unwrap();
    match target.render(row, "alice", TargetOptions::default()) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.iter().map(|d| d.render_human()).collect(),
    }
}

const HEADER: &str = "version = 1\n[users]\ncsv = \"users.csv\"\n";

#[test]
fn an_account_without_a_domain_is_refused_at_its_position() {
    let errors = render_errors(&format!(
        "{HEADER}[[accounts]]\nlabel = \"Office\"\n[accounts.keys]\nserver = \"pbx\"\nusername = \"{{{{user.ext}}}}\"\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("m.toml:4:1:") && errors[0].contains("no `domain`"),
        "{errors:?}"
    );
}

#[test]
fn rendered_values_are_checked_against_microsips_key_table() {
    let errors = render_errors(&format!(
        "{HEADER}[[accounts]]\nlabel = \"Office\"\n[accounts.keys]\ndomain = \"pbx\"\ntransport = \"{{{{user.ext}}}}\"\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("transport"), "{errors:?}");
}

#[test]
fn an_escaped_expression_in_a_windows_path_is_caught() {
    let errors = render_errors(&format!(
        "{HEADER}[settings]\nrecordingPath = 'C:\\Users\\{{{{user.username}}}}\\Rec'\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("escapes the expression"), "{errors:?}");
    let fixed = render_errors(&format!(
        "{HEADER}[settings]\nrecordingPath = 'C:\\Users\\\\{{{{user.username}}}}\\Rec'\n"
    ));
    assert!(fixed.is_empty(), "{fixed:?}");
}

#[test]
fn a_valid_manifest_renders_every_field_for_the_user() {
    let (_dir, loaded) = load(&format!(
        "{HEADER}[[accounts]]\nlabel = \"Desk {{{{user.ext}}}}\"\nid = \"desk\"\nactive = true\n[accounts.keys]\ndomain = \"pbx\"\nusername = \"{{{{user.ext}}}}\"\n[settings]\nuserAgent = \"{{{{upper user.username}}}}\"\n"
    ));
    let target = Target::new(&loaded).unwrap();
    let rendered = target
        .render(
            loaded.users.find("ALICE").unwrap(),
            "alice",
            TargetOptions::default(),
        )
        .unwrap();
    let account = &rendered.desired.accounts[0];
    assert_eq!(
        (account.id.as_str(), account.label.as_str()),
        ("desk", "Desk 1001")
    );
    assert_eq!(account.key("username"), Some("1001"));
    assert!(account.active && rendered.desired.complete);
    assert_eq!(rendered.desired.settings[0].value.as_deref(), Some("ALICE"));
}

/// A template file that happens to share the built-in template's name (`account.ini.hbs`, the
/// name its errors use) is the manifest's own file: it is read, rendered and part of the digest.
/// It used to be taken for the built-in template, its file unread.
#[test]
fn a_template_file_named_like_the_builtin_one_is_the_manifests_own() {
    let toml = format!(
        "{HEADER}[[accounts]]\nlabel = \"Office\"\ntemplate = \"account.ini.hbs\"\n[accounts.keys]\ndomain = \"pbx\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("users.csv"), "username,ext\nalice,1001\n").unwrap();
    fs::write(dir.path().join("m.toml"), &toml).unwrap();
    fs::write(
        dir.path().join("account.ini.hbs"),
        "label=\"{{account.label}}\"\ndomain=\"{{account.keys.domain}}\"\nmyExtra=\"{{user.ext}}\"\n",
    )
    .unwrap();
    let loaded = manifest::load(&dir.path().join("m.toml")).unwrap();
    let target = Target::new(&loaded).unwrap();
    let row = loaded.users.find("alice").unwrap();
    let rendered = target
        .render(row, "alice", TargetOptions::default())
        .unwrap();
    let keys = &rendered.desired.accounts[0].keys;
    assert!(
        keys.contains(&("myExtra".to_string(), "1001".to_string())),
        "{keys:?}"
    );
}
