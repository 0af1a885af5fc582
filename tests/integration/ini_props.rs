//! Property tests of the INI engine: the no-op round trip is byte-identical for every input that
//! decodes, in every encoding, and an edit changes exactly what it should.

use microsip_provision::ini::{CodePage, Encoding, IniDocument};
use proptest::prelude::*;

/// A name fragment: letters of several scripts, digits, blanks and the characters INI parsers
/// trip over.
fn name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9_ .#$-]{0,8}|[äöüÄÖÜéß]{1,3}|[李雷😀]{1,2}").unwrap()
}

fn value() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "[ \t]{0,2}[\"']?[A-Za-z0-9=;#\\[\\] äöü李\\\\/:.\"']{0,12}[\"']?[ \t]{0,2}",
    )
    .unwrap()
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        (name(), "[ \t]{0,2}", "[ \t]{0,2}", "(\\]|\\]junk|\\]x\\]|)")
            .prop_map(|(n, a, b, close)| format!("{a}[{b}{n}{close}")),
        (name(), "[ \t]{0,2}", "[ \t]{0,2}", value())
            .prop_map(|(k, a, b, v)| format!("{a}{k}{b}={v}")),
        ("[ \t]{0,2}", "[;#]", value()).prop_map(|(a, c, v)| format!("{a}{c}{v}")),
        "[ \t\u{0B}]{0,3}",
        name(),
        Just("=".to_string()),
        Just("[]".to_string()),
    ]
}

fn eol() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        6 => Just("\r\n"),
        2 => Just("\n"),
        1 => Just("\r"),
    ]
}

/// Random INI text: lines, each with its own terminator, maybe no final terminator.
fn ini_text() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((line(), eol()), 0..24),
        any::<bool>(),
    )
        .prop_map(|(lines, final_eol)| {
            let mut text = String::new();
            let count = lines.len();
            for (i, (line, eol)) in lines.into_iter().enumerate() {
                text.push_str(&line);
                if i + 1 < count || final_eol {
                    text.push_str(eol);
                }
            }
            text
        })
}

#[derive(Debug, Clone, Copy)]
enum FileEncoding {
    Utf16LeBom,
    Cp1252,
    Utf8Bom,
    Utf8Acp,
    ShiftJis,
}

fn file_encoding() -> impl Strategy<Value = FileEncoding> {
    prop_oneof![
        Just(FileEncoding::Utf16LeBom),
        Just(FileEncoding::Cp1252),
        Just(FileEncoding::Utf8Bom),
        Just(FileEncoding::Utf8Acp),
        Just(FileEncoding::ShiftJis),
    ]
}

/// Encode `text` as a file in `encoding`; `None` when the text does not fit (cp1252, Shift_JIS).
fn encode(text: &str, encoding: FileEncoding) -> Option<(Vec<u8>, CodePage)> {
    match encoding {
        FileEncoding::Utf16LeBom => {
            let mut out = vec![0xFF, 0xFE];
            Encoding::Utf16Le.encode_into(text, &mut out).ok()?;
            Some((out, CodePage::WINDOWS_1252))
        }
        FileEncoding::Cp1252 => {
            let mut out = Vec::new();
            Encoding::Ansi(CodePage::WINDOWS_1252)
                .encode_into(text, &mut out)
                .ok()?;
            Some((out, CodePage::WINDOWS_1252))
        }
        FileEncoding::Utf8Bom => {
            let mut out = vec![0xEF, 0xBB, 0xBF];
            out.extend_from_slice(text.as_bytes());
            Some((out, CodePage::WINDOWS_1252))
        }
        FileEncoding::Utf8Acp => Some((text.as_bytes().to_vec(), CodePage::UTF8)),
        FileEncoding::ShiftJis => {
            let page = CodePage::new(932).unwrap();
            let mut out = Vec::new();
            Encoding::Ansi(page).encode_into(text, &mut out).ok()?;
            Some((out, page))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// Non-negotiable 1: printing an unmodified document gives the input bytes back.
    #[test]
    fn no_op_round_trip_is_byte_identical(text in ini_text(), encoding in file_encoding()) {
        if let Some((bytes, page)) = encode(&text, encoding) {
            let document = IniDocument::parse(&bytes, page).unwrap();
            prop_assert_eq!(document.to_bytes(), bytes);
        }
    }

    /// Any byte string at all decodes in Windows-1252 (every byte maps) and round-trips.
    #[test]
    fn arbitrary_bytes_round_trip_in_cp1252(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(document) = IniDocument::parse(&bytes, CodePage::WINDOWS_1252) {
            prop_assert_eq!(document.to_bytes(), bytes);
        } else {
            // Only a UTF-16LE BOM with an odd tail or a lone surrogate may fail to decode.
            prop_assert!(bytes.starts_with(&[0xFF, 0xFE]));
        }
    }

    /// An edit reads back as given, survives a re-parse, and leaves every other visible key and
    /// every untouched line exactly as it was.
    #[test]
    fn set_changes_exactly_one_value(
        text in ini_text(),
        encoding in prop_oneof![Just(FileEncoding::Utf16LeBom), Just(FileEncoding::Cp1252)],
        section in "[A-Za-z][A-Za-z0-9]{0,5}",
        key in "[A-Za-z][A-Za-z0-9]{0,5}",
        new_value in "[ ]{0,1}[\"'A-Za-z0-9 =;#äö]{0,10}[ ]{0,1}",
    ) {
        let Some((bytes, page)) = encode(&text, encoding) else { return Ok(()); };
        let before = IniDocument::parse(&bytes, page).unwrap();
        let mut after = before.clone();
        after.set(&section, &key, &new_value).unwrap();
        let printed = after.to_bytes();
        let reparsed = IniDocument::parse(&printed, page).unwrap();
        prop_assert_eq!(reparsed.get(&section, &key), Some(new_value.clone()));
        prop_assert_eq!(reparsed.encoding(), before.encoding());

        // Every other visible key is unchanged.
        let mut expected = before.view();
        let mut actual = reparsed.view();
        for view in [&mut expected, &mut actual] {
            view.newline = "";
            for s in &mut view.sections {
                if s.name.eq_ignore_ascii_case(&section) {
                    s.keys.retain(|k| !k.name.eq_ignore_ascii_case(&key));
                }
            }
            view.sections.retain(|s| !(s.name.eq_ignore_ascii_case(&section) && s.keys.is_empty()));
        }
        prop_assert_eq!(expected, actual);

        // At most two lines differ (the edited or added line, and a terminator added to the line
        // before an insertion) plus one added header.
        let old_lines: Vec<&str> = text.split_inclusive(['\n']).collect();
        let new_text = match encoding {
            FileEncoding::Utf16LeBom => String::from_utf16(
                &printed[2..].chunks(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect::<Vec<_>>(),
            ).unwrap(),
            _ => encoding_rs::WINDOWS_1252.decode_without_bom_handling(&printed).0.into_owned(),
        };
        let new_lines: Vec<&str> = new_text.split_inclusive(['\n']).collect();
        let unchanged_prefix = old_lines.iter().zip(&new_lines).take_while(|(a, b)| a == b).count();
        let unchanged_suffix = old_lines.iter().rev().zip(new_lines.iter().rev())
            .take_while(|(a, b)| a == b).count();
        prop_assert!(
            unchanged_prefix + unchanged_suffix + 3 >= new_lines.len(),
            "too many lines changed:\n{:?}\n{:?}", text, new_text
        );
    }

    /// Setting the value a key already reads as changes nothing at all.
    #[test]
    fn setting_the_current_value_is_a_no_op(text in ini_text()) {
        let Some((bytes, page)) = encode(&text, FileEncoding::Utf16LeBom) else { return Ok(()); };
        let document = IniDocument::parse(&bytes, page).unwrap();
        for section in document.view().sections {
            for key in section.keys {
                let mut copy = document.clone();
                if copy.set(&section.name, &key.name, &key.value).is_ok() {
                    prop_assert_eq!(copy.to_bytes(), bytes.clone());
                }
            }
        }
    }
}

/// Differential test against rust-ini, an independent reader, on the inputs it handles the same
/// way (no quotes, no `#`, no backslashes, no duplicates, no blanks in names).
#[test]
fn agrees_with_rust_ini_on_plain_files() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    let plain = proptest::collection::btree_map(
        "[A-Za-z][A-Za-z0-9]{0,6}",
        proptest::collection::btree_map(
            "[a-z][a-z0-9]{0,6}",
            "[A-Za-z0-9 .,:/]{0,10}[A-Za-z0-9]",
            0..6,
        ),
        1..5,
    );
    runner
        .run(&plain, |sections| {
            let mut text = String::new();
            let mut seen = std::collections::HashSet::new();
            let written: Vec<_> = sections
                .iter()
                .filter(|(name, _)| seen.insert(name.to_ascii_lowercase()))
                .collect();
            for (name, keys) in &written {
                text.push_str(&format!("[{name}]\r\n"));
                for (key, value) in keys.iter() {
                    text.push_str(&format!("{key} = {value}\r\n"));
                }
            }
            let ours = IniDocument::parse(text.as_bytes(), CodePage::WINDOWS_1252).unwrap();
            let theirs = ini::Ini::load_from_str_opt(
                &text,
                ini::ParseOption {
                    enabled_quote: false,
                    enabled_escape: false,
                    ..ini::ParseOption::default()
                },
            )
            .unwrap();
            for (name, keys) in &written {
                for key in keys.keys() {
                    let theirs_value = theirs
                        .section(Some(name.as_str()))
                        .and_then(|s| s.get(key.as_str()));
                    let ours_value = ours.get(name, key);
                    prop_assert_eq!(ours_value.as_deref(), theirs_value);
                }
            }
            Ok(())
        })
        .unwrap();
}
