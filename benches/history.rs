//! Call-history throughput: export and import of 100,000 calls through every format (db -> XML,
//! XML -> empty db, and the same for CSV and JSON), plus prune on a 1,000-row `call_log.db`.
//! Each figure is the median of several runs of the library path the CLI takes (open, read,
//! render or parse, write, one transaction). Run with `cargo bench --bench history`; the README
//! quotes its table.

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use microsip_provision::history::db::{CallLog, OpenMode, DB_FILE};
use microsip_provision::history::{
    self, CallRecord, CallType, Format, ImportOptions, PruneOptions, PruneRule, RunningGuard,
    StoreChoice,
};
use microsip_provision::ini::CodePage;
use microsip_provision::profile::Profile;

const ROWS: usize = 100_000;
const PRUNE_ROWS: usize = 1_000;
const NOW: i64 = 1_789_020_000;

/// `n` calls that look like a busy office line: SIP Call-IDs, names in several scripts, all
/// four types, a minute apart.
fn calls(n: usize) -> Vec<CallRecord> {
    let names = [
        "Anna Müller",
        "李雷",
        "\"Big Mike\" O'Neil",
        "Tom & Jerry's Café",
        "Reception",
    ];
    let infos = [
        "",
        "Busy Here",
        "Request Terminated",
        "Call completed elsewhere",
    ];
    (0..n)
        .map(|i| CallRecord {
            call_id: format!(
                "{:016x}@pbx.example.com",
                (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ),
            number: format!("+49301234{:05}", i % 100_000),
            name: names[i % names.len()].to_string(),
            call_type: CallType::from_code((i % 4) as i64).unwrap(),
            time: NOW - (n - i) as i64 * 60,
            duration: (i % 600) as i64,
            info: infos[i % infos.len()].to_string(),
        })
        .collect()
}

fn profile(dir: &Path) -> Profile {
    Profile::in_dir(dir, "bench")
}

fn fill_db(dir: &Path, records: &[CallRecord]) {
    let mut log = CallLog::open(&dir.join(DB_FILE), OpenMode::Create).unwrap();
    log.insert(records, false, false).unwrap();
}

/// Median of `runs` timings of `f`, each after a fresh `setup`.
fn median<S>(runs: usize, mut setup: impl FnMut() -> S, mut f: impl FnMut(S)) -> Duration {
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let state = setup();
            let start = Instant::now();
            f(state);
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn row(name: &str, rows: usize, time: Duration, bytes: Option<usize>) {
    let per_second = rows as f64 / time.as_secs_f64();
    let size = bytes.map_or(String::new(), |b| {
        format!("{:.1} MiB", b as f64 / 1_048_576.0)
    });
    println!(
        "| {name:<36} | {rows:>7} | {:>9.1} | {per_second:>11.0} | {size:>8} |",
        time.as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("history: run with `cargo bench --bench history`");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let records = calls(ROWS);
    let source = work.path().join("source");
    fs::create_dir(&source).unwrap();
    fill_db(&source, &records);
    let source_profile = profile(&source);

    println!(
        "| operation                            |    rows |        ms |      rows/s |     file |"
    );
    println!(
        "|--------------------------------------|--------:|----------:|------------:|---------:|"
    );
    for (format, name) in [
        (Format::Xml, "xml"),
        (Format::Csv, "csv"),
        (Format::Json, "json"),
    ] {
        let file = work.path().join(format!("calls.{name}"));
        let export = median(
            5,
            || (),
            |()| {
                let read =
                    history::read_profile(&source_profile, StoreChoice::Db, CodePage::WINDOWS_1252)
                        .unwrap();
                fs::write(&file, history::render(&read.records, format)).unwrap();
            },
        );
        let size = fs::metadata(&file).unwrap().len() as usize;
        row(&format!("export db -> {name}"), ROWS, export, Some(size));

        let mut n = 0;
        let import = median(
            5,
            || {
                n += 1;
                let dir = work.path().join(format!("import-{name}-{n}"));
                fs::create_dir(&dir).unwrap();
                dir
            },
            |dir| {
                let bytes = fs::read(&file).unwrap();
                let (parsed, _) = history::parse_file(&bytes, format).unwrap();
                let options = ImportOptions {
                    store: StoreChoice::Db,
                    guard: RunningGuard::ignore(),
                    ..ImportOptions::default()
                };
                let report = history::import(&profile(&dir), &parsed, &options).unwrap();
                assert_eq!(report.inserted, ROWS);
                black_box(report);
            },
        );
        row(
            &format!("import {name} -> empty db"),
            ROWS,
            import,
            Some(size),
        );
    }

    let small = work.path().join("small");
    fs::create_dir(&small).unwrap();
    fill_db(&small, &calls(PRUNE_ROWS));
    let template = fs::read(small.join(DB_FILE)).unwrap();
    for (case, (label, rule, removed)) in [
        (
            "prune --older-than 7 (1,000-row db)",
            PruneRule::OlderThanDays(7),
            0,
        ),
        (
            "prune --older-than 0 (1,000-row db)",
            PruneRule::OlderThanDays(0),
            PRUNE_ROWS,
        ),
        ("prune --keep 500 (1,000-row db)", PruneRule::Keep(500), 500),
    ]
    .into_iter()
    .enumerate()
    {
        let mut n = 0;
        let time = median(
            21,
            || {
                n += 1;
                let dir = work.path().join(format!("prune-{case}-{n}"));
                fs::create_dir(&dir).unwrap();
                fs::write(dir.join(DB_FILE), &template).unwrap();
                dir
            },
            |dir| {
                let options = PruneOptions {
                    rule,
                    now: NOW,
                    store: StoreChoice::Db,
                    dry_run: false,
                    ansi: CodePage::WINDOWS_1252,
                    take_lock: true,
                    guard: RunningGuard::ignore(),
                };
                let report = history::prune(&profile(&dir), &options).unwrap();
                assert_eq!(report.removed(), removed);
            },
        );
        row(label, PRUNE_ROWS, time, None);
    }
}
