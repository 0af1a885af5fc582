//! Oracle tests: our engine's Windows-visible view against the real Win32 profile API.
//!
//! On Windows (in CI: Wine 8 under `ci/windows-test.sh`) every oracle file is read three ways and
//! the answers must agree:
//!
//! * the harness `tests/oracle/inidump.c` (path in `MICROSIP_ORACLE_EXE`, built by the script)
//!   asks `GetPrivateProfileSectionNamesW` / `GetPrivateProfileStringW` in its own process, and
//!   the `microsip-provision ini dump --format json` binary must print the same view;
//! * this test process calls the same functions directly through `windows-sys`, with no harness;
//! * our engine, `IniDocument::view()`.
//!
//! The API lists every section header and every key; the comparison keeps what a lookup can
//! reach: each section once (first block, first spelling) and each key once (first occurrence),
//! with the value `GetPrivateProfileStringW` returns. A write check then edits UTF-16LE (and ANSI)
//! files with `IniDocument::set` and reads every new value back through the real API.
//!
//! Oracle files: everything in `tests/corpus/oracle/`, plus each `tests/corpus/*.ini` that
//! [`wine_differences`] finds clean (the decision per file is printed and documented in
//! `tests/oracle/README.md`). Wine 8 differs from Windows on nine documented rules
//! (`shared/docs/win32-ini-rules.md`); files that exercise them would make Wine a wrong oracle,
//! so they are never oracle files: `tests/corpus/win32-rules/` tests them against Windows'
//! documented answers instead. The same goes for a few corners where Windows' answer is not
//! documented and Wine's cannot be trusted (see [`wine_differences`]).
//!
//! On other platforms only the corpus itself is checked (present, parses, no Wine differences).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use microsip_provision::ini::{CodePage, IniDocument};

use crate::common::corpus_dir;

/// A view as the profile API can report it: section names, and per section (key, value) pairs,
/// in file order.
type View = Vec<(String, Vec<(String, String)>)>;

/// The smallest number of files `tests/corpus/oracle/` must hold (guards against a lost corpus).
const MIN_ORACLE_FILES: usize = 15;

/// `tests/corpus/oracle`.
fn oracle_dir() -> PathBuf {
    corpus_dir().join("oracle")
}

/// The `.ini` files directly in `dir`, sorted.
fn ini_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("ini")))
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parse(path: &Path, bytes: &[u8]) -> Result<IniDocument, String> {
    IniDocument::parse(bytes, CodePage::WINDOWS_1252)
        .map_err(|e| format!("{}: the engine cannot parse it: {e}", path.display()))
}

/// Why Wine 8 cannot stand in for Windows on this file; empty when it can.
///
/// Flags the nine documented differences (`win32-ini-rules.md`) that change what a lookup of a
/// listed section or key returns, and the corners where Windows' answer is undocumented and
/// Wine's is known to be odd. Rules 5 and 6 concern lookup *arguments* (a key spelled `;key`, an
/// argument with a tab at an end); the oracles only look up names the API itself listed, which
/// never start with `;` or end in a blank, so comment lines are allowed in oracle files.
fn wine_differences(bytes: &[u8]) -> Vec<String> {
    let mut why: Vec<String> = Vec::new();
    let text = if let Some(body) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if body.len() % 2 == 1 {
            why.push("odd byte count after the UTF-16LE BOM (the engine refuses it)".into());
        }
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect();
        String::from_utf16(&units).unwrap_or_else(|_| {
            why.push("a lone surrogate (the engine refuses it)".into());
            String::from_utf16_lossy(&units)
        })
    } else {
        if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            why.push("rule 7: UTF-8 BOM (Windows reads ANSI, Wine decodes UTF-8)".into());
        }
        if bytes.starts_with(&[0xFE, 0xFF]) {
            why.push("rule 8: UTF-16BE BOM (Windows reads ANSI, Wine decodes it)".into());
        }
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
        text.into_owned()
    };
    if text.contains('\0') {
        why.push("a NUL character (Wine then reads nothing at all; Windows undocumented)".into());
    }
    if text.replace("\r\n", "\n").contains('\r') {
        why.push("a lone CR (Wine ends a line there; Windows undocumented)".into());
    }

    // Windows trims space, tab and \v around names and values (WelliSolutions' WhiteSpace
    // tests); Wine trims every Unicode space. Other blanks at an edge are undocumented.
    let odd_edge = |s: &str| {
        let t = s.trim_matches([' ', '\t', '\x0b']);
        t.starts_with(char::is_whitespace) || t.ends_with(char::is_whitespace)
    };
    let mut seen_header = false;
    // Per block: key folds; over the file: section folds. Unicode fold -> the ASCII folds seen.
    let mut section_folds: Vec<(String, String)> = Vec::new();
    let mut key_folds: Vec<(String, String)> = Vec::new();
    let collision = |folds: &mut Vec<(String, String)>, name: &str, what: &str| {
        let (full, ascii) = (name.to_lowercase(), name.to_ascii_lowercase());
        let clash = folds.iter().any(|(f, a)| *f == full && *a != ascii);
        folds.push((full, ascii));
        clash.then(|| {
            format!(
                "{what} {name:?} differs from an earlier one only in non-ASCII case \
                 (Windows folds it, Wine does not)"
            )
        })
    };
    for (number, line) in text.split('\n').enumerate() {
        let number = number + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.encode_utf16().count() >= 65_536 {
            why.push(format!(
                "rule 9: line {number} holds 65,536 characters or more"
            ));
        }
        if odd_edge(line) {
            why.push(format!(
                "line {number}: a blank other than space/tab/\\v at an edge"
            ));
        }
        let t = line.trim_matches([' ', '\t', '\x0b']);
        if let Some(rest) = t.strip_prefix('[') {
            seen_header = true;
            key_folds.clear();
            let Some(close) = rest.find(']') else {
                why.push(format!("rule 2: line {number} is a header without `]`"));
                continue;
            };
            if rest[close + 1..].contains(']') {
                why.push(format!(
                    "rule 1: line {number} is a header with a second `]`"
                ));
            }
            let name = &rest[..close];
            if name.trim_matches([' ', '\t', '\x0b']).is_empty() {
                why.push(format!("rule 4: line {number} is a `[]` header"));
            }
            if odd_edge(name) {
                why.push(format!(
                    "line {number}: a blank other than space/tab/\\v at an edge"
                ));
            }
            let name = name.trim_matches([' ', '\t', '\x0b']);
            why.extend(collision(&mut section_folds, name, "section"));
        } else if !t.starts_with(';') {
            let Some((key, value)) = t.split_once('=') else {
                continue;
            };
            if !seen_header {
                why.push(format!(
                    "rule 3: line {number} is a key before the first header"
                ));
            }
            let key = key.trim_matches([' ', '\t', '\x0b']);
            if key.is_empty() {
                why.push(format!(
                    "line {number}: a key with an empty name (the API's key list ends there)"
                ));
            }
            if odd_edge(key) || odd_edge(value) {
                why.push(format!(
                    "line {number}: a blank other than space/tab/\\v at an edge"
                ));
            }
            why.extend(collision(&mut key_folds, key, "key"));
        }
    }
    why.sort();
    why.dedup();
    why
}

/// The files the oracles read: all of `tests/corpus/oracle/` (which must be clean) and each clean
/// `tests/corpus/*.ini`. Prints the decision for every `tests/corpus/*.ini`.
fn oracle_files() -> Vec<PathBuf> {
    let mut files = ini_files(&oracle_dir());
    for path in ini_files(&corpus_dir()) {
        let bytes = read(&path);
        let mut why = wine_differences(&bytes);
        if let Err(e) = parse(&path, &bytes) {
            why.push(e);
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if why.is_empty() {
            println!("oracle: tests/corpus/{name}: included");
            files.push(path);
        } else {
            println!("oracle: tests/corpus/{name}: skipped: {}", why.join("; "));
        }
    }
    files
}

/// The engine's view, reduced to what the API can report.
fn engine_view(doc: &IniDocument) -> View {
    doc.view()
        .sections
        .into_iter()
        .map(|s| {
            let keys = s.keys.into_iter().map(|k| (k.name, k.value)).collect();
            (s.name, keys)
        })
        .collect()
}

/// Keep what a lookup reaches: each section once (first spelling) and each key once (first
/// occurrence). Wine folds ASCII case only; oracle files have no non-ASCII case variants.
fn dedupe(raw: View) -> View {
    let mut sections = HashSet::new();
    raw.into_iter()
        .filter(|(name, _)| sections.insert(name.to_ascii_lowercase()))
        .map(|(name, keys)| {
            let mut seen = HashSet::new();
            let keys = keys
                .into_iter()
                .filter(|(k, _)| seen.insert(k.to_ascii_lowercase()))
                .collect();
            (name, keys)
        })
        .collect()
}

/// A value for a message: escaped, long ones shortened around `at`.
fn excerpt(value: &str, at: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 80 {
        return format!("{value:?}");
    }
    let from = at.saturating_sub(20);
    let to = (at + 40).min(chars.len());
    let piece: String = chars[from..to].iter().collect();
    format!("({} chars) …{piece:?}… (from char {from})", chars.len())
}

/// Differences between two views, as readable lines; empty when they agree.
fn diff_views(left_name: &str, left: &View, right_name: &str, right: &View) -> Vec<String> {
    let mut out = Vec::new();
    let names = |v: &View| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(left) != names(right) {
        out.push(format!(
            "sections differ:\n    {left_name}: {:?}\n    {right_name}: {:?}",
            names(left),
            names(right)
        ));
    }
    for (section, lkeys) in left {
        let Some((_, rkeys)) = right.iter().find(|(n, _)| n == section) else {
            continue;
        };
        let keys = |v: &Vec<(String, String)>| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        if keys(lkeys) != keys(rkeys) {
            out.push(format!(
                "[{section}] keys differ:\n    {left_name}: {:?}\n    {right_name}: {:?}",
                keys(lkeys),
                keys(rkeys)
            ));
        }
        for (key, lvalue) in lkeys {
            let Some((_, rvalue)) = rkeys.iter().find(|(k, _)| k == key) else {
                continue;
            };
            if lvalue != rvalue {
                let at = lvalue
                    .chars()
                    .zip(rvalue.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                out.push(format!(
                    "[{section}] {key:?}:\n    {left_name}: {}\n    {right_name}: {}",
                    excerpt(lvalue, at),
                    excerpt(rvalue, at)
                ));
            }
        }
    }
    out
}

/// Panic with every file's differences at once.
fn report(what: &str, failures: Vec<String>, checked: usize) {
    assert!(checked > 0, "{what}: no file was checked");
    assert!(
        failures.is_empty(),
        "{what}: {} of {checked} files disagree:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    println!("{what}: {checked} files agree");
}

#[test]
fn oracle_corpus_is_present_parses_and_avoids_wine_differences() {
    let files = ini_files(&oracle_dir());
    assert!(
        files.len() >= MIN_ORACLE_FILES,
        "tests/corpus/oracle holds {} .ini files, expected at least {MIN_ORACLE_FILES}",
        files.len()
    );
    let mut problems = Vec::new();
    let (mut utf16, mut ansi) = (0, 0);
    for path in &files {
        let bytes = read(path);
        if bytes.starts_with(&[0xFF, 0xFE]) {
            utf16 += 1;
        } else {
            ansi += 1;
        }
        let why = wine_differences(&bytes);
        if !why.is_empty() {
            problems.push(format!("{}: {}", path.display(), why.join("; ")));
        }
        match parse(path, &bytes) {
            Ok(doc) => {
                assert!(
                    !doc.view().sections.is_empty(),
                    "{}: an oracle file without a visible section checks nothing",
                    path.display()
                );
                assert_eq!(
                    doc.to_bytes(),
                    bytes,
                    "{}: no byte-exact round trip",
                    path.display()
                );
            }
            Err(e) => problems.push(e),
        }
    }
    assert!(
        utf16 > 0 && ansi > 0,
        "the oracle corpus needs UTF-16LE and ANSI files"
    );
    assert!(
        problems.is_empty(),
        "files in tests/corpus/oracle must not exercise a Wine/Windows difference \
         (move them to tests/corpus/win32-rules):\n{}",
        problems.join("\n")
    );
    // Prints the decision for tests/corpus/*.ini and checks the included ones parse.
    assert!(oracle_files().len() >= files.len());
}

#[test]
fn wine_difference_detector_flags_the_nine_rules() {
    let flagged = |text: &str| !wine_differences(text.as_bytes()).is_empty();
    assert!(flagged("[sec]whoops]\r\nk=v\r\n"), "rule 1");
    assert!(flagged("[Name   \r\nk=v\r\n"), "rule 2");
    assert!(flagged("orphan=1\r\n[S]\r\n"), "rule 3");
    assert!(flagged("[]\r\nk=v\r\n"), "rule 4");
    assert!(flagged("\u{feff}[S]\r\nk=v\r\n"), "rule 7");
    assert!(
        !wine_differences(&[0xFE, 0xFF, 0, b'[', 0, b'S', 0, b']']).is_empty(),
        "rule 8"
    );
    assert!(
        flagged(&format!("[S]\r\nk={}\r\n", "x".repeat(65_536))),
        "rule 9"
    );
    assert!(flagged("[S]\r\n=no name\r\n"), "empty key name");
    assert!(flagged("[S]\r\na=1\rb=2\r\n"), "lone CR");
    assert!(flagged("[S]\r\nk=v\u{a0}\r\n"), "NBSP at an edge");
    let utf16 = crate::common::utf16le_bom("[Übersicht]\r\na=1\r\n[übersicht]\r\nb=2\r\n");
    assert!(
        !wine_differences(&utf16).is_empty(),
        "non-ASCII case variants"
    );
    assert!(!flagged(
        "; comment\r\n[S]\r\n; semi=x\r\n\tk\t=\x0bv\x0b\r\n# h=1\r\n"
    ));
    assert!(!flagged("[trailing] junk\r\nk=v\r\n[S]\nk=\"  q  \"\n"));
}

#[test]
fn view_comparison_keeps_what_a_lookup_reaches_and_reports_differences() {
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let raw: View = vec![
        (
            "General".into(),
            vec![pair("Name", "first"), pair("NAME", "first"), pair("b", "2")],
        ),
        ("general".into(), vec![pair("Name", "first")]),
        ("Other".into(), vec![]),
    ];
    let view = dedupe(raw);
    let expected: View = vec![
        (
            "General".into(),
            vec![pair("Name", "first"), pair("b", "2")],
        ),
        ("Other".into(), vec![]),
    ];
    assert_eq!(view, expected);
    assert!(diff_views("api", &view, "engine", &view).is_empty());

    let mut changed = view.clone();
    changed[0].1[1].1 = format!("{}x", "y".repeat(200));
    changed.push(("Extra".into(), vec![]));
    let diffs = diff_views("api", &view, "engine", &changed);
    assert_eq!(diffs.len(), 2, "{diffs:#?}");
    assert!(
        diffs[0].contains("Extra") && diffs[1].contains("(201 chars)"),
        "{diffs:#?}"
    );

    // The engine's view is already what a lookup reaches: deduplicating it changes nothing.
    let files = ini_files(&oracle_dir());
    for path in &files {
        let doc = parse(path, &read(path)).unwrap_or_else(|e| panic!("{e}"));
        let ours = engine_view(&doc);
        assert_eq!(dedupe(ours.clone()), ours, "{}", path.display());
    }
    report("engine views already deduplicated", Vec::new(), files.len());
}

#[cfg(windows)]
mod windows {
    //! The oracles proper: the harness, the CLI and the in-process API, and the write check.

    use std::ffi::OsString;
    use std::os::windows::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::OnceLock;

    use microsip_provision::ini::{CodePage, IniDocument};
    use windows_sys::Win32::System::WindowsProgramming::{
        GetPrivateProfileSectionNamesW, GetPrivateProfileStringW,
    };

    use super::{dedupe, diff_views, engine_view, oracle_files, parse, read, report, View};
    use crate::common::{bin, utf16le_bom};

    /// The harness built by `ci/windows-test.sh`.
    fn harness() -> PathBuf {
        match std::env::var_os("MICROSIP_ORACLE_EXE") {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => panic!(
                "MICROSIP_ORACLE_EXE is not set: the oracle tests need the profile-API harness \
                 tests/oracle/inidump.exe. Run `bash ci/windows-test.sh`, which builds it and \
                 runs these tests under Wine (or build it with mingw on Windows and set the \
                 variable to its path)."
            ),
        }
    }

    /// A full Windows path (`Z:\work\...` under Wine) for a path the build baked in as `/work/...`:
    /// what the harness, the CLI and the API are given.
    fn windows_path(path: &Path) -> PathBuf {
        std::path::absolute(path)
            .unwrap_or_else(|e| panic!("cannot make {} absolute: {e}", path.display()))
    }

    /// The harness's answer: its ANSI code page and the raw (not deduplicated) view.
    fn harness_view(path: &Path) -> Result<(u64, View), String> {
        let exe = harness();
        let output = Command::new(&exe)
            .arg("json")
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run the harness {}: {e}", exe.display()))?;
        let stdout = String::from_utf8(output.stdout)
            .map_err(|e| format!("the harness printed invalid UTF-8: {e}"))?;
        if !output.status.success() {
            return Err(format!("the harness failed ({}): {stdout}", output.status));
        }
        let mut acp = None;
        let mut ended = false;
        let mut view: View = Vec::new();
        for line in stdout.lines() {
            let record: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| format!("the harness printed {line:?}: {e}"))?;
            let text = |field: &str| record[field].as_str().map(str::to_string);
            match record["type"].as_str() {
                Some("file") => acp = record["acp"].as_u64(),
                Some("section") => {
                    view.push((text("name").ok_or("section without a name")?, Vec::new()))
                }
                Some("key") => {
                    let name = text("name").ok_or("key without a name")?;
                    let value = text("value").ok_or_else(|| {
                        format!("the API lists key {name:?} but a lookup does not find it")
                    })?;
                    view.last_mut()
                        .ok_or("a key before any section")?
                        .1
                        .push((name, value));
                }
                Some("line") => {}
                Some("end") => ended = true,
                other => return Err(format!("unknown harness record {other:?}")),
            }
        }
        if !ended {
            return Err(format!("the harness answer is incomplete:\n{stdout}"));
        }
        Ok((acp.ok_or("the harness did not report its code page")?, view))
    }

    /// `microsip-provision ini dump FILE --format json`, reduced to a view.
    fn cli_view(path: &Path) -> Result<View, String> {
        let output = bin()
            .args(["ini", "dump"])
            .arg(path)
            .args(["--format", "json"])
            .output()
            .map_err(|e| format!("cannot run microsip-provision: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "ini dump failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("ini dump printed no JSON: {e}"))?;
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string).ok_or("not a string");
        let mut view = Vec::new();
        for section in json["sections"].as_array().ok_or("no sections array")? {
            let mut keys = Vec::new();
            for key in section["keys"].as_array().ok_or("no keys array")? {
                keys.push((text(&key["name"])?, text(&key["value"])?));
            }
            view.push((text(&section["name"])?, keys));
        }
        Ok(view)
    }

    fn wide(text: &str) -> Vec<u16> {
        text.encode_utf16().chain([0]).collect()
    }

    fn wide_path(path: &Path) -> Vec<u16> {
        path.as_os_str().encode_wide().chain([0]).collect()
    }

    fn from_wide(units: &[u16]) -> String {
        OsString::from_wide(units)
            .into_string()
            .unwrap_or_else(|s| panic!("the API returned invalid UTF-16: {s:?}"))
    }

    /// Strings of a double-NUL-terminated list, read as the C harness walks it (an empty string
    /// ends the list).
    fn list(fill: impl Fn(*mut u16, u32) -> u32) -> Vec<String> {
        let mut size: u32 = 256;
        loop {
            let mut buf = vec![0u16; size as usize + 2];
            let n = fill(buf.as_mut_ptr(), size);
            if n < size - 2 {
                return buf[..n as usize + 1]
                    .split(|&u| u == 0)
                    .take_while(|s| !s.is_empty())
                    .map(from_wide)
                    .collect();
            }
            size *= 4;
        }
    }

    /// `GetPrivateProfileStringW(section, key)`; `None` when the key is absent.
    fn api_get(file: &[u16], section: &str, key: &str) -> Option<String> {
        const ABSENT: &str = "\u{1}<<absent>>";
        let (section, key, absent) = (wide(section), wide(key), wide(ABSENT));
        let mut size: u32 = 256;
        loop {
            let mut buf = vec![0u16; size as usize + 2];
            // SAFETY: all strings are NUL-terminated and outlive the call; `buf` holds `size`
            // (+2 spare) units and the API writes at most `size`.
            let n = unsafe {
                GetPrivateProfileStringW(
                    section.as_ptr(),
                    key.as_ptr(),
                    absent.as_ptr(),
                    buf.as_mut_ptr(),
                    size,
                    file.as_ptr(),
                )
            };
            if n < size - 1 {
                let value = from_wide(&buf[..n as usize]);
                return (value != ABSENT).then_some(value);
            }
            size *= 4;
        }
    }

    /// The raw view through the API, in this process.
    fn api_view(path: &Path) -> Result<View, String> {
        let file = wide_path(path);
        let names = list(|buf, size| {
            // SAFETY: `buf` holds `size` units (+2 spare); `file` is NUL-terminated.
            unsafe { GetPrivateProfileSectionNamesW(buf, size, file.as_ptr()) }
        });
        let mut view = Vec::new();
        for name in names {
            let section = wide(&name);
            let keys = list(|buf, size| {
                // SAFETY: as above; a NULL key asks for the key list, the default is "".
                unsafe {
                    GetPrivateProfileStringW(
                        section.as_ptr(),
                        std::ptr::null(),
                        [0u16].as_ptr(),
                        buf,
                        size,
                        file.as_ptr(),
                    )
                }
            });
            let mut pairs = Vec::new();
            for key in keys {
                let value = api_get(&file, &name, &key).ok_or_else(|| {
                    format!("the API lists [{name}] {key:?} but a lookup does not find it")
                })?;
                pairs.push((key, value));
            }
            view.push((name, pairs));
        }
        Ok(view)
    }

    fn engine(path: &Path) -> Result<View, String> {
        parse(path, &read(path)).map(|doc| engine_view(&doc))
    }

    /// One oracle file as a Windows path, and the harness's deduplicated view of it (or why not).
    type HarnessAnswer = (PathBuf, Result<View, String>);

    /// The harness's answer for every oracle file, computed once for the tests that use it
    /// (each harness run is a Wine process start): (Windows path, deduplicated view or error).
    fn harness_views() -> &'static [HarnessAnswer] {
        static VIEWS: OnceLock<Vec<HarnessAnswer>> = OnceLock::new();
        VIEWS.get_or_init(|| {
            harness(); // fail early, with the hint, when the variable is missing
            oracle_files()
                .iter()
                .map(|path| {
                    let path = windows_path(path);
                    let view = harness_view(&path).and_then(|(acp, raw)| {
                        if acp == 1252 {
                            Ok(dedupe(raw))
                        } else {
                            Err(format!(
                                "the harness runs with ANSI code page {acp}, the engine is given \
                                 1252 (run Wine under LC_ALL=C.UTF-8)"
                            ))
                        }
                    });
                    (path, view)
                })
                .collect()
        })
    }

    /// Compare the harness's view of every oracle file with `ours`.
    fn against_harness(what: &str, ours_name: &str, ours: impl Fn(&Path) -> Result<View, String>) {
        let views = harness_views();
        let mut failures = Vec::new();
        for (path, theirs) in views {
            let outcome = theirs
                .clone()
                .and_then(|theirs| Ok(diff_views("Windows API", &theirs, ours_name, &ours(path)?)));
            match outcome {
                Ok(diffs) if diffs.is_empty() => {}
                Ok(diffs) => {
                    failures.push(format!("{}:\n  {}", path.display(), diffs.join("\n  ")))
                }
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
        report(what, failures, views.len());
    }

    #[test]
    fn harness_agrees_with_engine() {
        against_harness("harness vs engine", "engine", engine);
    }

    #[test]
    fn harness_agrees_with_cli_dump() {
        against_harness("harness vs ini dump --format json", "ini dump", cli_view);
    }

    #[test]
    fn profile_api_agrees_with_engine() {
        let files = oracle_files();
        let mut failures = Vec::new();
        for path in &files {
            let path = windows_path(path);
            let outcome = api_view(&path).and_then(|raw| {
                Ok(diff_views(
                    "Windows API",
                    &dedupe(raw),
                    "engine",
                    &engine(&path)?,
                ))
            });
            match outcome {
                Ok(diffs) if diffs.is_empty() => {}
                Ok(diffs) => {
                    failures.push(format!("{}:\n  {}", path.display(), diffs.join("\n  ")))
                }
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
        report("profile API vs engine", failures, files.len());
    }

    /// A MicroSIP-like UTF-16LE file with a duplicate key and an invisible duplicate section.
    const BASE: &str = "[Settings]\r\naccountId=1\r\n[Account1]\r\nlabel=Office\r\n\
                        Label=duplicate\r\n\r\n[account1]\r\nhidden=x\r\n[Empty]\r\n";

    /// (section, key, value) edits; each must read back through the real API.
    fn edits() -> Vec<(&'static str, &'static str, String)> {
        let s = |v: &str| v.to_string();
        vec![
            ("Settings", "accountId", s("2")),
            ("Account1", "label", s("Büro 李雷 😀")),
            ("ACCOUNT1", "LABEL", s("case-insensitive arguments")),
            ("Account1", "displayName", s("Anna Müller")),
            (
                "Account1",
                "hidden",
                s("only in the invisible block before"),
            ),
            ("Empty", "first", s("into an empty section")),
            ("NewSection", "key", s("value")),
            ("用户", "名字", s("李雷")),
            ("Settings", "padded", s("  two spaces  ")),
            ("Settings", "doubleQuoted", s("\"quoted\"")),
            ("Settings", "singleQuoted", s("'single'")),
            ("Settings", "oddQuotes", s("\"a' ")),
            ("Settings", "specials", s("a=b; c #d [e] \\path")),
            ("Settings", "emptied", s("")),
            ("Settings", "accountId", s("")),
            ("Settings", "tabs", s("\tx\t")),
            ("Settings", "emoji", s("😀𝄞")),
            ("Settings", "long", "0123456789".repeat(300)),
        ]
    }

    fn check_file(
        dir: &Path,
        name: &str,
        bytes: &[u8],
        checks: &[(&str, &str, &str)],
    ) -> Vec<String> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write the edited file");
        let file = wide_path(&path);
        let mut failures = Vec::new();
        for (section, key, value) in checks {
            let got = api_get(&file, section, key);
            if got.as_deref() != Some(*value) {
                failures.push(format!(
                    "{name}: after set([{section}] {key:?}, {value:?}) the API reads {got:?}"
                ));
            }
        }
        // Nothing else moved, as Windows sees it.
        match (api_view(&path), engine(&path)) {
            (Ok(api), Ok(ours)) => {
                let diffs = diff_views("Windows API", &dedupe(api), "engine", &ours);
                if !diffs.is_empty() {
                    failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
                }
            }
            (Err(e), _) | (_, Err(e)) => failures.push(format!("{name}: {e}")),
        }
        failures
    }

    #[test]
    fn profile_api_reads_back_engine_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = utf16le_bom(BASE);
        let mut failures = Vec::new();
        let mut checked = 0;

        // One edit per file, each from the same base.
        for (i, (section, key, value)) in edits().iter().enumerate() {
            let (section, key, value) = (*section, *key, value.as_str());
            let mut doc = IniDocument::parse(&base, CodePage::WINDOWS_1252).expect("parse base");
            if let Err(e) = doc.set(section, key, value) {
                failures.push(format!("set([{section}] {key:?}, {value:?}) refused: {e}"));
                continue;
            }
            let bytes = doc.to_bytes();
            assert!(
                bytes.starts_with(&[0xFF, 0xFE]),
                "set must keep the UTF-16LE BOM"
            );
            let name = format!("edit-{i:02}.ini");
            failures.extend(check_file(
                dir.path(),
                &name,
                &bytes,
                &[(section, key, value)],
            ));
            // Setting the value that is already there changes nothing.
            let outcome = doc.set(section, key, value).expect("set again");
            if outcome.changed() || doc.to_bytes() != bytes {
                failures.push(format!(
                    "set([{section}] {key:?}) twice changed the file the 2nd time"
                ));
            }
            checked += 1;
        }

        // All edits on one document; the last value of each key wins.
        let mut doc = IniDocument::parse(&base, CodePage::WINDOWS_1252).expect("parse base");
        let edits = edits();
        for (section, key, value) in &edits {
            let _ = doc.set(section, key, value);
        }
        let mut last: Vec<(&str, &str, &str)> = Vec::new();
        for (section, key, value) in &edits {
            last.retain(|(s, k, _)| {
                !(s.eq_ignore_ascii_case(section) && k.eq_ignore_ascii_case(key))
            });
            last.push((section, key, value));
        }
        failures.extend(check_file(
            dir.path(),
            "all-edits.ini",
            &doc.to_bytes(),
            &last,
        ));

        // An ANSI (cp1252) file stays ANSI and reads back through the ACP.
        let ansi = b"[Account1]\r\nlabel=M\xfcller\r\n";
        let mut doc = IniDocument::parse(ansi, CodePage::WINDOWS_1252).expect("parse ANSI");
        let ansi_edits = [
            ("Account1", "label", "Straße €"),
            ("Neu", "Schlüssel", "  Wert  "),
        ];
        for (section, key, value) in ansi_edits {
            doc.set(section, key, value)
                .expect("cp1252 text fits an ANSI file");
        }
        let bytes = doc.to_bytes();
        assert!(
            !bytes.starts_with(&[0xFF, 0xFE]),
            "an ANSI file must stay ANSI"
        );
        failures.extend(check_file(dir.path(), "ansi.ini", &bytes, &ansi_edits));

        // A new document (UTF-16LE with BOM) and a file holding only the BOM.
        for (name, start) in [
            ("new.ini", IniDocument::new()),
            ("bom-only.ini", {
                IniDocument::parse(&[0xFF, 0xFE], CodePage::WINDOWS_1252).expect("parse BOM only")
            }),
        ] {
            let mut doc = start;
            let new_edits = [
                ("Settings", "accountId", "1"),
                ("Account1", "displayName", "李雷 😀"),
            ];
            for (section, key, value) in new_edits {
                doc.set(section, key, value).expect("set on a new document");
            }
            failures.extend(check_file(dir.path(), name, &doc.to_bytes(), &new_edits));
        }
        checked += 4;

        report(
            "engine writes read back by the profile API",
            failures,
            checked,
        );
    }
}
