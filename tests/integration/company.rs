//! The manifest's company directory and history retention, through `apply` on real profiles:
//! directory contacts are merged into Contacts.xml (a user's own contacts and starred flags
//! survive; contacts dropped from the directory go), old calls are pruned, and a second run
//! writes nothing.

use std::fs;
use std::path::Path;

use crate::common::{bin, utf16le_bom};

fn apply(root: &Path, profile: &Path) -> (i32, String, String) {
    let output = bin()
        .env("MICROSIP_PROVISION_MICROSIP_EXE", "no-such-microsip.exe")
        .args([
            "apply",
            root.join("company.toml").to_str().unwrap(),
            "--format",
            "json",
            "--profile",
        ])
        .arg(profile)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn directory_merge_and_history_retention() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    crate::common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        root,
    );
    let profile = root.join("profiles/bob/AppData/Roaming/MicroSIP");
    // Bob has his own contact, starred the helpdesk earlier, and a 3.21-style call history with
    // one call from 2001 and one from an hour ago.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    fs::write(
        profile.join("Contacts.xml"),
        "<?xml version=\"1.0\"?>\r\n<contacts>\r\n<contact name=\"Mum\" number=\"+441234567\" firstname=\"\" lastname=\"\" phone=\"\" mobile=\"\" email=\"\" address=\"\" city=\"\" state=\"\" zip=\"\" comment=\"\" id=\"\" info=\"\" presence=\"0\" starred=\"1\" directory=\"0\"/>\r\n</contacts>\r\n",
    )
    .unwrap();
    let ini = fs::read(profile.join("microsip.ini")).unwrap();
    let mut text = crate::common::from_utf16le_bom(&ini);
    text = text.replace("[Settings]\r\n", "[Settings]\r\ncallsLastKey=1\r\n");
    text.push_str(&format!(
        "[Calls]\r\n0=555;Old;0;1000000000;10;\r\n1=556;Recent;1;{};20;\r\n",
        now - 3600
    ));
    fs::write(profile.join("microsip.ini"), utf16le_bom(&text)).unwrap();

    let (code, out, err) = apply(root, &profile);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["outcome"], "changed", "{report:#}");
    let contacts = fs::read_to_string(profile.join("Contacts.xml")).unwrap();
    assert!(
        contacts.contains("name=\"Mum\""),
        "the user's own contact stays"
    );
    assert!(contacts.contains("number=\"100\"") && contacts.contains("number=\"200\""));
    let calls = crate::common::from_utf16le_bom(&fs::read(profile.join("microsip.ini")).unwrap());
    assert!(!calls.contains(";Old;"), "the 2001 call is pruned");
    assert!(calls.contains(";Recent;"), "the recent call stays");
    assert!(report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["section"] == "call history"));

    // The user stars the helpdesk; the directory drops reception: the star survives, reception goes.
    let starred = contacts.replace(
        "number=\"200\" firstname=\"\" lastname=\"\" phone=\"\" mobile=\"\" email=\"\" address=\"\" city=\"\" state=\"\" zip=\"\" comment=\"IT support (ext. 200)\" id=\"\" info=\"\" presence=\"1\" starred=\"0\"",
        "number=\"200\" firstname=\"\" lastname=\"\" phone=\"\" mobile=\"\" email=\"\" address=\"\" city=\"\" state=\"\" zip=\"\" comment=\"IT support (ext. 200)\" id=\"\" info=\"\" presence=\"1\" starred=\"1\"",
    );
    assert_ne!(starred, contacts, "the fixture line must match");
    fs::write(profile.join("Contacts.xml"), &starred).unwrap();
    let directory = fs::read_to_string(root.join("directory.csv")).unwrap();
    fs::write(
        root.join("directory.csv"),
        directory
            .lines()
            .filter(|l| !l.starts_with("100,"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let (code, _, err) = apply(root, &profile);
    assert_eq!(code, 0, "{err}");
    let contacts = fs::read_to_string(profile.join("Contacts.xml")).unwrap();
    assert!(
        !contacts.contains("number=\"100\""),
        "dropped from the directory"
    );
    assert!(contacts.contains(
        "comment=\"IT support (ext. 200)\" id=\"\" info=\"\" presence=\"1\" starred=\"1\""
    ));
    assert!(contacts.contains("name=\"Mum\""));

    // Nothing left to do: no write.
    let before = fs::metadata(profile.join("Contacts.xml"))
        .unwrap()
        .modified()
        .unwrap();
    let (code, out, _) = apply(root, &profile);
    assert_eq!(code, 0);
    assert!(out.contains("\"unchanged\""), "{out}");
    assert_eq!(
        fs::metadata(profile.join("Contacts.xml"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
}

#[test]
fn registry_settings_export_as_a_reg_file_and_are_not_faked_off_windows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    crate::common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        root,
    );
    let manifest = root.join("registry.toml");
    let mut text = fs::read_to_string(root.join("fleet.toml")).unwrap();
    text.push_str("\n[registry]\nautostart = true\nurl_protocols = [\"callto\"]\nexe = 'C:\\MicroSIP\\microsip.exe'\n");
    fs::write(&manifest, text).unwrap();
    let output = bin()
        .args(["registry", "export"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let expected = utf16le_bom(concat!(
        "Windows Registry Editor Version 5.00\r\n\r\n",
        "[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run]\r\n",
        "\"MicroSIP\"=\"\\\"C:\\\\MicroSIP\\\\microsip.exe\\\" /minimized\"\r\n\r\n",
        // Schemes not listed are removed only when they start MicroSIP, which a .reg file cannot
        // check: said in a comment instead.
        "; sip: not exported: the tool removes HKEY_CURRENT_USER\\Software\\Classes\\sip only when its open command starts microsip.exe, which a .reg file cannot check\r\n\r\n",
        "; tel: not exported: the tool removes HKEY_CURRENT_USER\\Software\\Classes\\tel only when its open command starts microsip.exe, which a .reg file cannot check\r\n\r\n",
        "[HKEY_CURRENT_USER\\Software\\Classes\\callto]\r\n",
        "@=\"URL:callto Protocol\"\r\n",
        "\"URL Protocol\"=\"\"\r\n\r\n",
        "[HKEY_CURRENT_USER\\Software\\Classes\\callto\\DefaultIcon]\r\n",
        "@=\"C:\\\\MicroSIP\\\\microsip.exe,0\"\r\n\r\n",
        "[HKEY_CURRENT_USER\\Software\\Classes\\callto\\shell\\open\\command]\r\n",
        "@=\"\\\"C:\\\\MicroSIP\\\\microsip.exe\\\" \\\"%1\\\"\"\r\n\r\n",
    ));
    assert_eq!(
        crate::common::from_utf16le_bom(&output.stdout),
        crate::common::from_utf16le_bom(&expected)
    );
    #[cfg(not(windows))]
    {
        // The current user's profile (no --profile): the registry step is not applicable here,
        // and says so instead of pretending.
        let appdata = root.join("profiles/bob/AppData/Roaming");
        let output = bin()
            .env("APPDATA", &appdata)
            .args(["plan", "--format", "json", "--user", "bob"])
            .arg(&manifest)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(
            report["warnings"]
                .to_string()
                .contains("not applicable on this platform"),
            "{report:#}"
        );
    }
}
