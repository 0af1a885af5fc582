//! The golden corpus: MicroSIP's sample files and our own nasty cases round-trip byte for byte,
//! Windows' documented answers hold on the rule files, and edits touch exactly their lines in
//! UTF-16LE, ANSI and UTF-8-BOM files.

use std::fs;
use std::path::PathBuf;

use microsip_provision::ini::{CodePage, Encoding, IniDocument, SetOutcome};

use crate::common::{corpus_dir, from_utf16le_bom, utf16le_bom};

fn corpus_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![corpus_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ini") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 20, "the corpus went missing: {files:?}");
    files
}

#[test]
fn every_corpus_file_round_trips_byte_for_byte() {
    for path in corpus_files() {
        let bytes = fs::read(&path).unwrap();
        let document = IniDocument::parse(&bytes, CodePage::WINDOWS_1252)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(document.to_bytes(), bytes, "{}", path.display());
    }
}

#[test]
fn windows_documented_answers_on_the_rule_files() {
    let dir = corpus_dir().join("win32-rules");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ini") {
            continue;
        }
        let expected: serde_json::Value =
            serde_json::from_slice(&fs::read(path.with_extension("expected.json")).unwrap())
                .unwrap();
        let document =
            IniDocument::parse(&fs::read(&path).unwrap(), CodePage::WINDOWS_1252).unwrap();
        let actual = serde_json::to_value(document.view()).unwrap();
        assert_eq!(
            actual["sections"],
            expected["sections"],
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 7);
}

#[test]
fn sample_profile_reads_as_microsip_does() {
    let bytes = fs::read(corpus_dir().join("microsip.ini")).unwrap();
    let document = IniDocument::parse(&bytes, CodePage::WINDOWS_1252).unwrap();
    assert_eq!(document.encoding(), Encoding::Utf16Le);
    assert_eq!(document.get("settings", "ACCOUNTID").as_deref(), Some("1"));
    // Written wrapped in quotes by MicroSIP; the quotes go on read (microsip-formats.md §1.6).
    assert_eq!(
        document.get("Settings", "audioOutputDevice").as_deref(),
        Some("Speakers (Realtek(R) Audio)")
    );
    assert_eq!(
        document.get("Settings", "audioRingDevice").as_deref(),
        Some("")
    );
    assert_eq!(document.view().newline, "crlf");
}

/// Decode a corpus file to text, apply `edit` to the document and `expected` to the text, and
/// require the document's bytes to be exactly the edited text in the file's own encoding.
fn assert_edit(
    file: &str,
    page: CodePage,
    edit: impl Fn(&mut IniDocument) -> SetOutcome,
    outcome: SetOutcome,
    expected: impl Fn(&str) -> String,
) {
    let bytes = fs::read(corpus_dir().join(file)).unwrap();
    let mut document = IniDocument::parse(&bytes, page).unwrap();
    assert_eq!(edit(&mut document), outcome, "{file}");
    // UTF-16LE files are compared as UTF-16LE; every other file is ANSI (a UTF-8 BOM is just
    // three cp1252 characters to Windows, rule 7).
    fn cp1252(text: &str) -> Vec<u8> {
        encoding_rs::WINDOWS_1252.encode(text).0.into_owned()
    }
    let (text, encode): (String, fn(&str) -> Vec<u8>) = if bytes.starts_with(&[0xFF, 0xFE]) {
        (from_utf16le_bom(&bytes), utf16le_bom)
    } else {
        let text = encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(&bytes)
            .0;
        (text.into_owned(), cp1252)
    };
    let want = encode(&expected(&text));
    assert_eq!(
        String::from_utf8_lossy(&document.to_bytes()),
        String::from_utf8_lossy(&want),
        "{file}"
    );
    assert_eq!(document.to_bytes(), want, "{file}");
}

#[test]
fn edits_touch_only_their_lines_in_utf16le() {
    let file = "microsip.ini";
    let page = CodePage::WINDOWS_1252;
    assert_edit(
        file,
        page,
        |d| d.set("Account1", "server", "pbx2.example.com").unwrap(),
        SetOutcome::Updated,
        |t| {
            t.replacen(
                "server=pbx.example.com\r\n",
                "server=pbx2.example.com\r\n",
                1,
            )
        },
    );
    assert_edit(
        file,
        page,
        |d| d.set("Settings", "userAgent", "  padded  ").unwrap(),
        SetOutcome::Updated,
        |t| t.replacen("userAgent=\r\n", "userAgent=\"  padded  \"\r\n", 1),
    );
    assert_edit(
        file,
        page,
        |d| d.set("Global", "newKey", "李雷").unwrap(),
        SetOutcome::AddedKey,
        |t| {
            t.replacen(
                "checkUpdatesTime=1789000000\r\n",
                "checkUpdatesTime=1789000000\r\nnewKey=李雷\r\n",
                1,
            )
        },
    );
    assert_edit(
        file,
        page,
        |d| d.set("Account9", "label", "Neu").unwrap(),
        SetOutcome::AddedSection,
        |t| format!("{t}[Account9]\r\nlabel=Neu\r\n"),
    );
    assert_edit(
        file,
        page,
        |d| {
            assert!(d.remove_key("Settings", "minimized"));
            SetOutcome::Updated
        },
        SetOutcome::Updated,
        |t| t.replacen("minimized=0\r\n", "", 1),
    );
}

#[test]
fn edits_touch_only_their_lines_in_ansi_and_utf8_bom() {
    assert_edit(
        "ansi-cp1252-lf.ini",
        CodePage::WINDOWS_1252,
        |d| d.set("Account1", "label", "Zürich Büro").unwrap(),
        SetOutcome::Updated,
        |t| t.replacen("label=Müller & Söhne\n", "label=Zürich Büro\n", 1),
    );
    assert_edit(
        "ansi-cp1252-lf.ini",
        CodePage::WINDOWS_1252,
        |d| d.set("Settings", "singleMode", "0").unwrap(),
        SetOutcome::AddedKey,
        |t| t.replacen("accountId=1\n", "accountId=1\nsingleMode=0\n", 1),
    );
    // A UTF-8 BOM hides the first header from Windows, so [Settings] does not exist for it: the
    // edit adds a visible [Settings] at the end instead of touching the hidden one (rule 7).
    assert_edit(
        "utf8-bom.ini",
        CodePage::WINDOWS_1252,
        |d| d.set("Settings", "accountId", "2").unwrap(),
        SetOutcome::AddedSection,
        |t| format!("{t}[Settings]\r\naccountId=2\r\n"),
    );
    assert_edit(
        "utf8-bom.ini",
        CodePage::WINDOWS_1252,
        |d| d.set("Account1", "label", "Zoë").unwrap(),
        SetOutcome::Updated,
        |t| t.replacen("label=MÃ¼ller", "label=Zoë", 1),
    );
}
