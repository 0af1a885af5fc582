//! The `ini` verbs' contract, driven through the real binary on real files.

use std::fs;
use std::path::Path;

use crate::common::{bin, corpus_dir, from_utf16le_bom, utf16le_bom};

fn run(args: &[&str]) -> (i32, String, String) {
    let output = bin().args(args).output().expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn get_prints_the_win32_value_or_exits_1() {
    let sample = corpus_dir().join("microsip.ini");
    let (code, out, _) = run(&[
        "ini",
        "get",
        path_arg(&sample),
        "SETTINGS",
        "audiooutputdevice",
    ]);
    assert_eq!((code, out.as_str()), (0, "Speakers (Realtek(R) Audio)\n"));
    let (code, out, _) = run(&["ini", "get", path_arg(&sample), "Settings", "noSuchKey"]);
    assert_eq!((code, out.as_str()), (1, ""));
    let (code, out, _) = run(&["ini", "get", path_arg(&sample), "Settings", "ringingSound"]);
    assert_eq!((code, out.as_str()), (0, "\n"));
}

#[test]
fn set_creates_a_utf16le_file_and_edits_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("microsip.ini");
    let f = path_arg(&file);
    assert_eq!(run(&["ini", "set", f, "Settings", "accountId", "1"]).0, 0);
    assert_eq!(
        fs::read(&file).unwrap(),
        utf16le_bom("[Settings]\r\naccountId=1\r\n")
    );
    assert_eq!(
        run(&["ini", "set", f, "Account1", "label", "Büro 李雷"]).0,
        0
    );
    assert_eq!(run(&["ini", "set", f, "settings", "ACCOUNTID", "2"]).0, 0);
    assert_eq!(
        from_utf16le_bom(&fs::read(&file).unwrap()),
        "[Settings]\r\naccountId=2\r\n[Account1]\r\nlabel=Büro 李雷\r\n"
    );
    let (code, out, _) = run(&["ini", "get", f, "account1", "label"]);
    assert_eq!((code, out.as_str()), (0, "Büro 李雷\n"));
}

#[test]
fn unchanged_files_are_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("microsip.ini");
    fs::copy(corpus_dir().join("microsip.ini"), &file).unwrap();
    let before = fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(30));
    let f = path_arg(&file);
    assert_eq!(run(&["ini", "set", f, "Settings", "accountId", "1"]).0, 0);
    assert_eq!(run(&["ini", "del", f, "Settings", "noSuchKey"]).0, 0);
    assert_eq!(run(&["ini", "del", f, "NoSuchSection"]).0, 0);
    assert_eq!(fs::metadata(&file).unwrap().modified().unwrap(), before);
    assert_eq!(
        fs::read(&file).unwrap(),
        fs::read(corpus_dir().join("microsip.ini")).unwrap()
    );
}

#[test]
fn del_removes_a_key_or_a_section() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("microsip.ini");
    fs::write(
        &file,
        utf16le_bom("[Settings]\r\ncallsLastKey=4\r\naccountId=1\r\n[Calls]\r\n0=1;a;0;1;2;\r\n[Dialed]\r\n0=1\r\n"),
    )
    .unwrap();
    let f = path_arg(&file);
    assert_eq!(run(&["ini", "del", f, "Settings", "callsLastKey"]).0, 0);
    assert_eq!(run(&["ini", "del", f, "calls"]).0, 0);
    assert_eq!(
        from_utf16le_bom(&fs::read(&file).unwrap()),
        "[Settings]\r\naccountId=1\r\n[Dialed]\r\n0=1\r\n"
    );
}

#[test]
fn dump_json_is_the_windows_view() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.ini");
    fs::write(
        &file,
        utf16le_bom("x=1\r\n[A]\r\nk = \"v\" \r\nK=dup\r\n; c=1\r\n[a]\r\nlate=1\r\n[B]\n"),
    )
    .unwrap();
    let (code, out, _) = run(&["ini", "dump", path_arg(&file), "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "encoding": "utf-16le",
            "newline": "mixed",
            "sections": [
                {"name": "A", "keys": [{"name": "k", "value": "v"}]},
                {"name": "B", "keys": []}
            ]
        })
    );
}

#[test]
fn check_round_trips_the_corpus_and_reports_lints() {
    let files: Vec<String> = fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ini"))
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["ini", "check"];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok: ")).count(),
        files.len()
    );
    assert!(err.contains("UTF-8 BOM"), "{err}");
    assert!(err.contains("already started at line"), "{err}");
}

#[test]
fn undecodable_input_is_an_error_with_position_and_the_file_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.ini");
    let mut bytes = utf16le_bom("[A]\r\nk=v");
    bytes.push(b'x');
    fs::write(&file, &bytes).unwrap();
    let f = path_arg(&file);
    for args in [
        vec!["ini", "check", f],
        vec!["ini", "set", f, "A", "k", "w"],
        vec!["ini", "dump", f],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.starts_with(&format!("error: {f}:2:4: ")),
            "{args:?}: {err}"
        );
        assert!(err.contains("hint: "), "{err}");
    }
    assert_eq!(fs::read(&file).unwrap(), bytes);
}

#[test]
fn ansi_files_refuse_unrepresentable_values_unless_converted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ansi.ini");
    fs::write(&file, b"[A]\r\nk=M\xfcller\r\n").unwrap();
    let f = path_arg(&file);
    let (code, _, err) = run(&["ini", "set", f, "A", "k", "李雷"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot be written in ANSI code page 1252"),
        "{err}"
    );
    assert_eq!(fs::read(&file).unwrap(), b"[A]\r\nk=M\xfcller\r\n");
    assert_eq!(run(&["ini", "set", f, "A", "j", "Zoë"]).0, 0);
    assert_eq!(
        fs::read(&file).unwrap(),
        b"[A]\r\nk=M\xfcller\r\nj=Zo\xeb\r\n"
    );
    assert_eq!(run(&["ini", "set", "--convert", f, "A", "k", "李雷"]).0, 0);
    assert_eq!(
        from_utf16le_bom(&fs::read(&file).unwrap()),
        "[A]\r\nk=李雷\r\nj=Zoë\r\n"
    );
}

#[test]
fn convert_repairs_a_utf8_bom_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("microsip.ini");
    fs::copy(corpus_dir().join("utf8-bom.ini"), &file).unwrap();
    let f = path_arg(&file);
    let (code, out, _) = run(&["ini", "get", f, "Settings", "accountId"]);
    assert_eq!(
        (code, out.as_str()),
        (1, ""),
        "Windows cannot see [Settings]"
    );
    assert_eq!(run(&["ini", "convert", "--dry-run", f]).0, 0);
    assert_eq!(
        fs::read(&file).unwrap(),
        fs::read(corpus_dir().join("utf8-bom.ini")).unwrap()
    );
    assert_eq!(run(&["ini", "convert", f]).0, 0);
    assert_eq!(
        fs::read(&file).unwrap(),
        utf16le_bom("[Settings]\r\naccountId=1\r\n[Account1]\r\nlabel=Müller\r\n")
    );
    let (code, out, _) = run(&["ini", "get", f, "Account1", "label"]);
    assert_eq!((code, out.as_str()), (0, "Müller\n"));
}

#[test]
fn convert_from_utf8_without_bom() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("microsip.ini");
    fs::copy(corpus_dir().join("utf8-no-bom.ini"), &file).unwrap();
    let f = path_arg(&file);
    assert_eq!(run(&["ini", "convert", "--from", "utf-8", f]).0, 0);
    let (code, out, _) = run(&["ini", "get", f, "Account1", "label"]);
    assert_eq!((code, out.as_str()), (0, "Müller\n"));
}

#[test]
fn racing_setters_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("microsip.ini");
    fs::write(&file, utf16le_bom("[Settings]\r\naccountId=1\r\n")).unwrap();
    let f = path_arg(&file).to_string();
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let f = f.clone();
            std::thread::spawn(move || {
                for round in 0..8 {
                    let key = format!("w{worker}r{round}");
                    let (code, _, err) = run(&["ini", "set", &f, "Race", &key, "x"]);
                    assert_eq!(code, 0, "{err}");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let text = from_utf16le_bom(&fs::read(&file).unwrap());
    for worker in 0..4 {
        for round in 0..8 {
            assert!(
                text.contains(&format!("w{worker}r{round}=x\r\n")),
                "lost w{worker}r{round}:\n{text}"
            );
        }
    }
    // No temp file or torn state left behind.
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn every_verb_has_help_with_an_example_and_version_works() {
    for verb in ["get", "set", "del", "dump", "check", "convert"] {
        let (code, out, _) = run(&["ini", verb, "--help"]);
        assert_eq!(code, 0);
        assert!(
            out.contains("Example"),
            "ini {verb} --help lacks an example"
        );
    }
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("microsip-provision "));
    assert_eq!(run(&["ini", "get"]).0, 2, "usage errors exit 2");
}
