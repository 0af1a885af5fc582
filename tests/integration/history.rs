//! Call history end to end: the real binary on real temp profiles with real SQLite files.
//!
//! The issue's "done when": db -> xml/json/csv -> empty db gives identical rows (every column,
//! `id` and `callId` included); `[Calls]` -> xml -> `[Calls]` gives identical entries; migrate
//! equals MicroSIP 3.22's documented algorithm on the sample files (`microsip-formats.md` §3.1);
//! prune removes exactly the expected rows; a locked database and a corrupt one are reported
//! clearly and left byte-identical; unchanged XML reads and writes back byte-identically.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use microsip_provision::history::record::{CallRecord, CallType};
use microsip_provision::history::xml::{self, CallsXml};
use microsip_provision::history::{self, ini_calls};
use microsip_provision::ini::{CodePage, IniDocument};
use proptest::prelude::*;
use rusqlite::{Connection, OpenFlags};

use crate::common::{bin, corpus_dir, from_utf16le_bom, utf16le_bom};

fn fixture(name: &str) -> PathBuf {
    corpus_dir().join("history").join(name)
}

/// A temp profile folder holding copies of `files` (fixture name, name in the profile).
fn profile(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in files {
        fs::copy(fixture(from), dir.path().join(to)).unwrap();
    }
    dir
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let output = bin().args(args).output().expect("the binary runs");
    result(output)
}

fn result(output: Output) -> (i32, String, String) {
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> (String, String) {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "{args:?}\nstdout: {out}\nstderr: {err}");
    (out, err)
}

type Row = (
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
);

/// A read-only connection (the fixtures must never change).
fn read_only(db: &Path) -> Connection {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// Every column of every row, in id order.
fn rows(db: &Path) -> Vec<Row> {
    let conn = read_only(db);
    let mut statement = conn.prepare("SELECT * FROM call_log ORDER BY id").unwrap();
    statement
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// `sqlite_master` rows: type, name, table, SQL.
type Objects = Vec<(String, String, String, Option<String>)>;

/// The schema as SQLite stores it, plus `sqlite_sequence`.
fn schema(db: &Path) -> (Objects, Vec<(String, i64)>) {
    let conn = read_only(db);
    let mut statement = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
        .unwrap();
    let objects = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut statement = conn
        .prepare("SELECT name, seq FROM sqlite_sequence ORDER BY name")
        .unwrap();
    let sequence = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (objects, sequence)
}

/// The file-level settings MicroSIP leaves at SQLite's defaults (it only sets busy_timeout,
/// which is not stored in the file).
fn pragmas(db: &Path) -> Vec<(String, String)> {
    let conn = read_only(db);
    [
        "journal_mode",
        "page_size",
        "encoding",
        "auto_vacuum",
        "user_version",
        "application_id",
    ]
    .iter()
    .map(|p| {
        let value: String = conn
            .query_row(&format!("PRAGMA {p}"), [], |r| {
                r.get_ref(0).map(|v| match v {
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => format!("{other:?}"),
                })
            })
            .unwrap();
        (p.to_string(), value)
    })
    .collect()
}

/// Every file in a folder with its bytes (to prove "nothing changed", extra files included).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .filter(|(name, _)| !name.ends_with(".mpv-lock"))
        .collect();
    files.sort();
    files
}

fn ini_doc(path: &Path) -> IniDocument {
    IniDocument::parse(&fs::read(path).unwrap(), CodePage::WINDOWS_1252).unwrap()
}

const SAMPLE_IDS: [&str; 7] = [
    "f80f7e5e8314637693ace79555579c6e",
    "7ccec3c55ec6fba14c2c872ce466b360",
    "011a6852bc1ee69e2d879b329d803dbf",
    "c89eb40dece989190fdde540719a3648",
    "3f1c2a9e-7b4d-4c1e-9a55-0d6e8b2f4a17",
    "a41b77c09e3d4f2b@pbx.example.com",
    "7e2d0c5b1a9f@203.0.113.7",
];

#[test]
fn db_to_every_format_to_an_empty_db_gives_identical_rows() {
    let source = profile(&[("call_log.db", "call_log.db")]);
    let source_db = source.path().join("call_log.db");
    let original = rows(&source_db);
    assert_eq!(original.len(), 7);
    for format in ["xml", "json", "csv"] {
        let file = source.path().join(format!("calls.{format}"));
        ok(&[
            "history",
            "export",
            "--profile",
            s(source.path()),
            "--format",
            format,
            "-o",
            s(&file),
        ]);
        // A profile with no call_log.db yet: the file is created with MicroSIP's schema.
        let fresh = tempfile::tempdir().unwrap();
        let (out, _) = ok(&[
            "history",
            "import",
            s(&file),
            "--profile",
            s(fresh.path()),
            "--store",
            "db",
        ]);
        assert!(out.contains("imported 7 calls of 7"), "{out}");
        let target = fresh.path().join("call_log.db");
        assert_eq!(rows(&target), original, "{format}: rows differ");
        assert_eq!(
            schema(&target),
            schema(&source_db),
            "{format}: schema differs"
        );
        assert_eq!(
            pragmas(&target),
            pragmas(&source_db),
            "{format}: pragmas differ"
        );

        // An empty call_log.db as MicroSIP 3.22 creates it at its first start (auto store).
        let empty = tempfile::tempdir().unwrap();
        let db = empty.path().join("call_log.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch(&format!(
                "{}{}",
                history::db::CREATE_TABLE,
                history::db::CREATE_INDEX
            ))
            .unwrap();
        ok(&["history", "import", s(&file), "--profile", s(empty.path())]);
        assert_eq!(
            rows(&db),
            original,
            "{format}: rows differ (existing empty db)"
        );

        // Importing the same file again changes nothing: every call is a duplicate.
        let before = fs::read(&db).unwrap();
        let (out, _) = ok(&["history", "import", s(&file), "--profile", s(empty.path())]);
        assert!(
            out.contains("imported 0 calls of 7") && out.contains("7 duplicates"),
            "{out}"
        );
        assert_eq!(
            fs::read(&db).unwrap(),
            before,
            "{format}: duplicate import wrote"
        );
    }
}

#[test]
fn exporting_never_changes_the_database() {
    let dir = profile(&[("call_log.db", "call_log.db")]);
    let db = dir.path().join("call_log.db");
    let modified = fs::metadata(&db).unwrap().modified().unwrap();
    let before = snapshot(dir.path());
    for format in ["xml", "csv", "json"] {
        ok(&[
            "history",
            "export",
            "--profile",
            s(dir.path()),
            "--format",
            format,
        ]);
    }
    ok(&[
        "history",
        "prune",
        "--profile",
        s(dir.path()),
        "--keep",
        "1",
        "--dry-run",
    ]);
    assert_eq!(snapshot(dir.path()), before, "no byte and no file changed");
    assert_eq!(fs::metadata(&db).unwrap().modified().unwrap(), modified);
}

#[test]
fn calls_section_to_xml_to_calls_section_gives_identical_entries() {
    for fixture_name in [
        "microsip-3.21-calls-fragment.ini",
        "microsip-3.21-lived-in.ini",
    ] {
        let source = profile(&[(fixture_name, "microsip.ini")]);
        let file = source.path().join("calls.xml");
        ok(&[
            "history",
            "export",
            "--profile",
            s(source.path()),
            "--format",
            "xml",
            "-o",
            s(&file),
            "--source",
            "ini",
        ]);
        // A 3.21 profile without history: its settings must survive byte for byte.
        let target = tempfile::tempdir().unwrap();
        let ini = target.path().join("microsip.ini");
        let settings = "[Settings]\r\naccountId=1\r\n; keep me\r\n[Account1]\r\nlabel=Office\r\n";
        fs::write(&ini, utf16le_bom(settings)).unwrap();
        ok(&["history", "import", s(&file), "--profile", s(target.path())]);

        let original = ini_doc(&source.path().join("microsip.ini"));
        let restored = ini_doc(&ini);
        assert_eq!(
            restored.entries("Calls"),
            original.entries("Calls"),
            "{fixture_name}: [Calls] entries differ"
        );
        assert_eq!(
            restored.get("Settings", "callsLastKey"),
            original.get("Settings", "callsLastKey")
        );
        let view = |doc: &IniDocument| {
            ini_calls::read_ring(doc)
                .entries
                .into_iter()
                .map(|e| (e.key, e.record, e.reachable))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            view(&restored),
            view(&original),
            "{fixture_name}: ring differs"
        );
        let text = from_utf16le_bom(&fs::read(&ini).unwrap());
        assert!(
            text.starts_with("[Settings]\r\naccountId=1\r\ncallsLastKey="),
            "{text}"
        );
        // The key goes after the section's last key, as the profile API puts it (§1.3).
        assert!(
            text.contains("\r\n; keep me\r\n[Account1]\r\nlabel=Office\r\n[Calls]\r\n"),
            "{text}"
        );
    }
}

/// MicroSIP 3.22's migration as `microsip-formats.md` §3.1 documents it, written here
/// independently of the library: every non-`null` `[Calls]` entry, call id = lowercase hex MD5
/// of `"<key>-<time>"`, sorted by time, inserted with ids 1, 2, ...
fn documented_migration(ini_text: &str) -> Vec<Row> {
    let mut in_calls = false;
    let mut calls = Vec::new();
    for line in ini_text.split("\r\n") {
        if line.starts_with('[') {
            in_calls = line == "[Calls]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if !in_calls || value == "null" {
            continue;
        }
        let f: Vec<&str> = value.split(';').collect();
        let time: i64 = f[3].parse().unwrap();
        let id: String = Md5::digest(format!("{key}-{time}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        calls.push((
            id,
            f[0].to_string(),
            f[1].to_string(),
            f[2].parse::<i64>().unwrap(),
            time,
            f[4].parse::<i64>().unwrap(),
            f[5].to_string(),
        ));
    }
    calls.sort_by_key(|c| c.4);
    calls
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            (
                i as i64 + 1,
                c.0,
                c.1,
                c.2,
                Some(c.3),
                Some(c.4),
                Some(c.5),
                c.6,
            )
        })
        .collect()
}

#[test]
fn migrate_equals_microsips_documented_algorithm_on_the_samples() {
    let dir = profile(&[("microsip-3.21-calls-fragment.ini", "microsip.ini")]);
    let ini = dir.path().join("microsip.ini");
    let db = dir.path().join("call_log.db");
    let expected = documented_migration(&from_utf16le_bom(&fs::read(&ini).unwrap()));

    let before = snapshot(dir.path());
    let (out, _) = ok(&[
        "history",
        "migrate",
        "--profile",
        s(dir.path()),
        "--dry-run",
    ]);
    assert!(out.contains("would migrate 4 calls of 4"), "{out}");
    assert_eq!(snapshot(dir.path()), before, "a dry run writes nothing");

    let (out, _) = ok(&["history", "migrate", "--profile", s(dir.path())]);
    assert!(out.contains("migrated 4 calls of 4"), "{out}");
    let migrated = rows(&db);
    assert_eq!(migrated, expected);
    // ... and equals rows 1-4 of MicroSIP's own call_log.db sample, every column.
    assert_eq!(migrated, rows(&fixture("call_log.db"))[..4].to_vec());
    assert_eq!(schema(&db).0, schema(&fixture("call_log.db")).0);
    assert_eq!(pragmas(&db), pragmas(&fixture("call_log.db")));
    // [Calls] and callsLastKey are gone; nothing else changed (the section stays, as the
    // profile API leaves it).
    assert_eq!(fs::read(&ini).unwrap(), utf16le_bom("[Settings]\r\n"));

    // A second run finds nothing to do and changes nothing.
    let after = snapshot(dir.path());
    let (out, _) = ok(&["history", "migrate", "--profile", s(dir.path())]);
    assert!(out.contains("nothing to migrate"), "{out}");
    assert_eq!(snapshot(dir.path()), after);
}

#[test]
fn migrate_keeps_the_rest_of_a_lived_in_ini_byte_identical() {
    let dir = profile(&[("microsip-3.21-lived-in.ini", "microsip.ini")]);
    let ini = dir.path().join("microsip.ini");
    let text = from_utf16le_bom(&fs::read(&ini).unwrap());
    let expected_rows = documented_migration(&text);
    ok(&["history", "migrate", "--profile", s(dir.path())]);
    assert_eq!(rows(&dir.path().join("call_log.db")), expected_rows);
    let expected_ini: String = {
        let mut out = String::new();
        let mut in_calls = false;
        for line in text.split_inclusive("\r\n") {
            if line.starts_with('[') {
                in_calls = line == "[Calls]\r\n";
            }
            if !in_calls && !line.starts_with("callsLastKey=") {
                out.push_str(line);
            }
        }
        out
    };
    assert_eq!(fs::read(&ini).unwrap(), utf16le_bom(&expected_ini));
}

#[test]
fn migrate_refuses_a_filled_call_log_unless_merging() {
    let dir = profile(&[
        ("microsip-3.21-calls-fragment.ini", "microsip.ini"),
        ("call_log.db", "call_log.db"),
    ]);
    let before = snapshot(dir.path());
    let (code, _, err) = run(&["history", "migrate", "--profile", s(dir.path())]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("already holds 7 row(s)") && err.contains("--merge"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before, "nothing written");
    // Rows 1-4 of the sample are exactly this [Calls]: merging adds nothing and cleans the INI.
    let (out, _) = ok(&["history", "migrate", "--profile", s(dir.path()), "--merge"]);
    assert!(
        out.contains("migrated 0 calls of 4") && out.contains("4 already there"),
        "{out}"
    );
    assert_eq!(
        rows(&dir.path().join("call_log.db")),
        rows(&fixture("call_log.db"))
    );
    assert_eq!(
        fs::read(dir.path().join("microsip.ini")).unwrap(),
        utf16le_bom("[Settings]\r\n")
    );
}

#[test]
fn prune_removes_exactly_the_expected_rows() {
    // Sample times: ids 1-4 on 2026-01-01, ids 5-7 on 2026-09-10 (1789012345..1789019999).
    let now = 1_789_020_000i64;
    let cases: [(&[&str], Vec<i64>); 4] = [
        (&["--keep", "3"], vec![5, 6, 7]),
        (&["--keep", "0"], vec![]),
        (&["--older-than", "30"], vec![5, 6, 7]),
        (&["--older-than", "0"], vec![]),
    ];
    for (rule, kept) in cases {
        let dir = profile(&[("call_log.db", "call_log.db")]);
        let db = dir.path().join("call_log.db");
        let all = rows(&db);
        let mut args = vec!["history", "prune", "--profile", s(dir.path())];
        args.extend_from_slice(rule);
        let now_text = now.to_string();
        args.extend_from_slice(&["--now", &now_text]);
        let (out, _) = ok(&args);
        assert!(
            out.contains(&format!("removed {} ", 7 - kept.len())),
            "{out}"
        );
        let expected: Vec<Row> = all.into_iter().filter(|r| kept.contains(&r.0)).collect();
        assert_eq!(rows(&db), expected, "{rule:?}");
    }
    // A boundary: a call exactly DAYS old stays (only calls that started before the cutoff go).
    let dir = profile(&[("call_log.db", "call_log.db")]);
    let cutoff_now = (1_789_012_345 + 86_400).to_string();
    ok(&[
        "history",
        "prune",
        "--profile",
        s(dir.path()),
        "--older-than",
        "1",
        "--now",
        &cutoff_now,
    ]);
    let ids: Vec<i64> = rows(&dir.path().join("call_log.db"))
        .iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(ids, [5, 6, 7]);
}

#[test]
fn prune_nulls_calls_entries_and_keeps_the_rest_of_the_ini() {
    let dir = profile(&[("microsip-3.21-lived-in.ini", "microsip.ini")]);
    let ini = dir.path().join("microsip.ini");
    let text = from_utf16le_bom(&fs::read(&ini).unwrap());
    let (out, _) = ok(&[
        "history",
        "prune",
        "--profile",
        s(dir.path()),
        "--keep",
        "2",
    ]);
    assert!(out.contains("removed 3 calls of 5"), "{out}");
    // The two newest (keys 1 and 2) stay; 0, 4 and 5 become `null` as MicroSIP deletes them.
    let expected = text
        .replace("0=+4930123456;Anna Müller;0;1767350000;60;", "0=null")
        .replace("4=100;Tom & Jerry's Café;0;1767100000;12;", "4=null")
        .replace(
            "5=sip:tj@example.com;\"Big Mike\" O'Neil;3;1767200000;0;Call completed elsewhere",
            "5=null",
        );
    assert_eq!(from_utf16le_bom(&fs::read(&ini).unwrap()), expected);
}

/// Copy `name` into a fresh profile with a `[Calls]` INI and a JSON file to import.
fn locked_or_corrupt_profile(db_bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = profile(&[("microsip-3.21-calls-fragment.ini", "microsip.ini")]);
    fs::write(dir.path().join("call_log.db"), db_bytes).unwrap();
    let json = dir.path().join("calls.json");
    fs::write(
        &json,
        br#"{"calls":[{"callId":"new-1","number":"1","name":"N","type":1,"time":1789100000,"duration":1,"info":""}]}"#,
    )
    .unwrap();
    (dir, json)
}

fn every_verb(dir: &Path, json: &Path) -> Vec<Vec<String>> {
    let d = s(dir).to_string();
    [
        vec!["history", "export", "--profile", &d, "--format", "xml"],
        vec!["history", "import", s(json), "--profile", &d],
        vec![
            "history",
            "prune",
            "--profile",
            &d,
            "--store",
            "db",
            "--keep",
            "1",
        ],
        vec!["history", "migrate", "--profile", &d, "--merge"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect()
}

#[test]
fn a_locked_database_fails_clearly_after_microsips_timeout_and_nothing_changes() {
    let (dir, json) = locked_or_corrupt_profile(&fs::read(fixture("call_log.db")).unwrap());
    let db = dir.path().join("call_log.db");
    // Snapshot first: closing any handle to the file in this process would drop the holder's
    // POSIX locks (fcntl semantics), so the file is not touched while it is locked.
    let before = snapshot(dir.path());
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    let started = Instant::now();
    let children: Vec<(Vec<String>, Child)> = every_verb(dir.path(), &json)
        .into_iter()
        .map(|args| {
            let child = bin()
                .args(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (args, child)
        })
        .collect();
    for (args, child) in children {
        let (code, out, err) = result(child.wait_with_output().unwrap());
        assert_eq!(code, 1, "{args:?}: {out} {err}");
        assert!(err.contains("locked by another program"), "{args:?}: {err}");
        assert!(
            err.contains(&db.display().to_string()),
            "names the file: {err}"
        );
        assert!(err.contains("waited 5 s"), "{err}");
    }
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "waits as MicroSIP does"
    );
    holder.execute_batch("ROLLBACK;").unwrap();
    drop(holder);
    // The INI was not cleaned by migrate: its database commit never happened.
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_corrupt_database_is_reported_and_left_byte_identical() {
    let sample = fs::read(fixture("call_log.db")).unwrap();
    let mut damaged_page = sample.clone();
    for byte in &mut damaged_page[4096 + 8..8192] {
        *byte = 0xA5;
    }
    let variants: [(&str, Vec<u8>); 4] = [
        ("text", b"this is not a database".to_vec()),
        ("truncated header", sample[..100].to_vec()),
        ("truncated file", sample[..8192].to_vec()),
        ("damaged page", damaged_page),
    ];
    for (what, bytes) in variants {
        let (dir, json) = locked_or_corrupt_profile(&bytes);
        let before = snapshot(dir.path());
        for args in every_verb(dir.path(), &json) {
            let (code, out, err) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(code, 1, "{what} {args:?}: {out} {err}");
            assert!(
                err.contains("is not a valid SQLite database") && err.contains("left untouched"),
                "{what} {args:?}: {err}"
            );
            assert_eq!(
                snapshot(dir.path()),
                before,
                "{what} {args:?}: something changed"
            );
        }
    }
}

#[test]
fn a_foreign_sqlite_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("call_log.db");
    Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('x');")
        .unwrap();
    let json = dir.path().join("calls.json");
    fs::write(&json, "[]").unwrap();
    let before = snapshot(dir.path());
    let (code, _, err) = run(&["history", "import", s(&json), "--profile", s(dir.path())]);
    assert_eq!(code, 1);
    assert!(err.contains("without MicroSIP's call_log table"), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn ambiguous_semicolons_are_reported_with_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("microsip.ini"),
        utf16le_bom("[Settings]\r\ncallsLastKey=1\r\n[Calls]\r\n0=100;Anna;0;1767261600;5;\r\n1=200;Smith; John;1;1767265200;7;Busy\r\n"),
    )
    .unwrap();
    let (out, err) = ok(&[
        "history",
        "export",
        "--profile",
        s(dir.path()),
        "--format",
        "json",
    ]);
    assert!(
        err.contains("microsip.ini:5: [Calls] key 1: the value has 6 ';'"),
        "{err}"
    );
    assert!(
        err.contains("name=\"Smith; John\""),
        "the other reading is offered: {err}"
    );
    // The export holds what MicroSIP reads, not a guess.
    assert!(out.contains("\"name\":\"Smith\""), "{out}");
}

#[test]
fn invalid_input_files_exit_2_with_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calls.xml");
    fs::write(
        &file,
        "<?xml version=\"1.0\"?>\r\n<calls>\r\n<call type=\"sideways\" time=\"1\"/>\r\n</calls>\r\n",
    )
    .unwrap();
    let (code, _, err) = run(&["history", "import", s(&file), "--profile", s(dir.path())]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with(&format!("error: {}:3:1: type \"sideways\"", file.display())),
        "{err}"
    );
    assert!(!dir.path().join("microsip.ini").exists() && !dir.path().join("call_log.db").exists());
}

#[test]
fn a_full_ring_refuses_the_import_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("microsip.ini");
    let mut text = String::from("[Settings]\r\ncallsLastKey=999\r\n[Calls]\r\n");
    for key in 0..1000 {
        text.push_str(&format!(
            "{key}=1{key};N{key};0;{};0;\r\n",
            1_700_000_000 + key
        ));
    }
    fs::write(&ini, utf16le_bom(&text)).unwrap();
    let file = dir.path().join("calls.json");
    fs::write(
        &file,
        r#"[{"callId":"x","number":"1","name":"n","type":0,"time":5}]"#,
    )
    .unwrap();
    let before = snapshot(dir.path());
    let (code, _, err) = run(&["history", "import", s(&file), "--profile", s(dir.path())]);
    assert_eq!(code, 1);
    assert!(err.contains("at most 1000 entries"), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn help_shows_an_example_for_every_verb() {
    for verb in ["export", "import", "prune", "migrate"] {
        let (out, _) = ok(&["history", verb, "--help"]);
        assert!(out.contains("microsip-provision history "), "{verb}: {out}");
    }
}

#[test]
fn prune_store_is_the_library_entry_point_for_retention() {
    let dir = profile(&[
        ("call_log.db", "call_log.db"),
        ("microsip-3.21-lived-in.ini", "microsip.ini"),
    ]);
    let profile = microsip_provision::profile::Profile::in_dir(dir.path(), "jdoe");
    let report = history::prune_store(&profile, 30, 1_789_020_000, CodePage::WINDOWS_1252).unwrap();
    // Both stores: call_log.db keeps ids 5-7; the stale [Calls] loses all five calls.
    assert_eq!(report.removed(), 4 + 5);
    assert_eq!(
        rows(&dir.path().join("call_log.db"))
            .iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        [5, 6, 7]
    );
    let ring = ini_calls::read_ring(&ini_doc(&dir.path().join("microsip.ini")));
    assert!(ring.entries.is_empty());
    assert_eq!(ring.deleted, [0, 1, 2, 3, 4, 5]);
}

// --- the XML layer: unchanged files are byte-identical, edits are local ---

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9 +@.:_-]{0,16}",
        2 => "[<>&'\"\t\r\n äöü李雷😀;,=/]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().filter(|c| *c != '\0').take(24).collect()),
    ]
}

fn record_strategy() -> impl Strategy<Value = CallRecord> {
    (
        "[A-Za-z0-9@.:-]{1,40}",
        text_strategy(),
        text_strategy(),
        0u8..4,
        any::<i64>(),
        any::<i64>(),
        text_strategy(),
    )
        .prop_map(
            |(call_id, number, name, t, time, duration, info)| CallRecord {
                call_id,
                number,
                name,
                call_type: CallType::from_code(i64::from(t)).unwrap(),
                time,
                duration,
                info,
            },
        )
}

/// One `<call>` element spelled in one of many valid ways (quotes, spacing, order, unknown
/// attributes, empty or start/end form).
fn spelled_element(record: &CallRecord, style: u64) -> String {
    let quote = if style & 1 == 0 { '"' } else { '\'' };
    let escape = |value: &str| {
        let mut out = String::new();
        xml::escape(value, &mut out);
        out
    };
    let type_name = if style & 2 == 0 {
        record.call_type.xml_name().to_string()
    } else {
        record.call_type.code().to_string()
    };
    let mut attributes = vec![
        format!("type={quote}{type_name}{quote}"),
        format!("name={quote}{}{quote}", escape(&record.name)),
        format!("number={quote}{}{quote}", escape(&record.number)),
        format!("time={quote}{}{quote}", record.time),
        format!("duration={quote}{}{quote}", record.duration),
        format!("info={quote}{}{quote}", escape(&record.info)),
        format!("callId={quote}{}{quote}", escape(&record.call_id)),
    ];
    if style & 4 != 0 {
        attributes.reverse();
    }
    if style & 8 != 0 {
        attributes.insert(2, format!("x-extra={quote}kept &amp; sound{quote}"));
    }
    let gap = if style & 16 != 0 { " \t" } else { " " };
    let body = attributes.join(gap);
    if style & 32 != 0 {
        format!("<call {body}></call>")
    } else if style & 64 != 0 {
        format!("<call {body} />")
    } else {
        format!("<call {body}/>")
    }
}

fn spelled_document(records: &[CallRecord], styles: &[u64], layout: u64) -> String {
    let eol = if layout & 1 == 0 { "\r\n" } else { "\n" };
    let indent = if layout & 2 == 0 { "" } else { "  " };
    let mut out = String::new();
    if layout & 4 == 0 {
        out.push_str("<?xml version=\"1.0\"?>");
        out.push_str(eol);
    }
    if layout & 8 != 0 {
        out.push_str("<!-- exported by hand & kept -->");
        out.push_str(eol);
    }
    if records.is_empty() && layout & 16 == 0 {
        out.push_str("<calls/>");
        out.push_str(eol);
        return out;
    }
    out.push_str("<calls>");
    out.push_str(eol);
    for (i, record) in records.iter().enumerate() {
        out.push_str(indent);
        out.push_str(&spelled_element(record, styles[i % styles.len()]));
        out.push_str(eol);
        if layout & 32 != 0 && i == 0 {
            out.push_str(indent);
            out.push_str("<!-- a note -->");
            out.push_str(eol);
        }
    }
    out.push_str("</calls>");
    if layout & 64 == 0 {
        out.push_str(eol);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rendered_exports_read_back_to_the_same_records(records in prop::collection::vec(record_strategy(), 0..8)) {
        let bytes = xml::render(&records);
        let doc = CallsXml::parse(&bytes).unwrap();
        prop_assert_eq!(doc.records(), records);
        prop_assert_eq!(doc.to_bytes(), bytes);
    }

    #[test]
    fn unchanged_xml_is_written_back_byte_identically(
        records in prop::collection::vec(record_strategy(), 0..6),
        styles in prop::collection::vec(any::<u64>(), 1..4),
        layout in any::<u64>(),
        bom in any::<bool>(),
    ) {
        let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        bytes.extend_from_slice(spelled_document(&records, &styles, layout).as_bytes());
        let doc = CallsXml::parse(&bytes).unwrap();
        prop_assert_eq!(doc.records(), records);
        prop_assert_eq!(doc.to_bytes(), bytes);
    }

    #[test]
    fn edits_touch_only_the_edited_calls(
        records in prop::collection::vec(record_strategy(), 1..6),
        extra in prop::collection::vec(record_strategy(), 0..3),
        styles in prop::collection::vec(any::<u64>(), 1..4),
        layout in any::<u64>(),
        keep_mask in any::<u8>(),
    ) {
        let original = spelled_document(&records, &styles, layout);
        let mut doc = CallsXml::parse(original.as_bytes()).unwrap();
        let mut index = 0;
        doc.retain(|_| { index += 1; keep_mask & (1 << ((index - 1) % 8)) != 0 });
        for record in &extra {
            doc.push(record.clone());
        }
        let expected: Vec<CallRecord> = records
            .iter()
            .enumerate()
            .filter(|(i, _)| keep_mask & (1 << (i % 8)) != 0)
            .map(|(_, r)| r.clone())
            .chain(extra.iter().cloned())
            .collect();
        let edited = doc.to_bytes();
        let reread = CallsXml::parse(&edited).unwrap();
        prop_assert_eq!(reread.records(), expected);
        // Every kept element is still spelled exactly as it was.
        let text = String::from_utf8(edited).unwrap();
        for (i, record) in records.iter().enumerate() {
            if keep_mask & (1 << (i % 8)) != 0 {
                let spelled = spelled_element(record, styles[i % styles.len()]);
                prop_assert!(text.contains(&spelled), "{} not in {}", spelled, text);
            }
        }
    }
}

#[test]
fn the_corpus_fixture_matches_the_shared_sample_names() {
    // The fixtures are copies of the research samples (tests must not read /work/shared).
    for name in [
        "call_log.db",
        "call_log.sql",
        "microsip-3.21-calls-fragment.ini",
        "microsip-3.21-lived-in.ini",
    ] {
        assert!(fixture(name).is_file(), "{name}");
    }
    let sql = fs::read_to_string(fixture("call_log.sql")).unwrap();
    for id in SAMPLE_IDS {
        assert!(sql.contains(id), "{id}");
    }
    let ids: Vec<String> = rows(&fixture("call_log.db"))
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(ids, SAMPLE_IDS);
}
