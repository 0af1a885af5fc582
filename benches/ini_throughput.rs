//! INI engine throughput: parse + print of a realistic 16 KB UTF-16LE MicroSIP INI and of a
//! 10 MB INI, side by side with the floor (a plain `read` + `write` of the same bytes) and with
//! one in-place edit. Run with `cargo bench --bench ini_throughput`; the README quotes its output.

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use microsip_provision::ini::{CodePage, IniDocument};

fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// A lived-in MicroSIP 3.22 profile of about `target_bytes` bytes: the [Settings] block
/// MicroSIP writes, accounts, shortcuts, dialed numbers, then legacy [Calls] to fill.
fn realistic_ini(target_bytes: usize) -> Vec<u8> {
    let mut text = String::from("[Global]\r\nversion=3.22.16\r\ncheckUpdatesTime=1789000000\r\n[Settings]\r\naccountId=1\r\n");
    for (key, value) in [
        ("singleMode", "1"),
        ("ringingSound", ""),
        ("volumeRing", "100"),
        ("audioRingDevice", "\"\""),
        ("audioOutputDevice", "\"Speakers (Realtek(R) Audio)\""),
        (
            "audioInputDevice",
            "\"Microphone Array (Realtek(R) Audio)\"",
        ),
        (
            "audioCodecs",
            "opus/48000/2 G722/16000/1 PCMA/8000/1 PCMU/8000/1",
        ),
        ("recordingPath", "C:\\Users\\alice\\Desktop\\Recordings"),
        ("autoAnswer", "button"),
        ("denyIncoming", "button"),
        ("featureCodeCP", "**"),
        ("featureCodeBT", "##"),
    ] {
        text.push_str(&format!("{key}={value}\r\n"));
    }
    for i in 0..60 {
        text.push_str(&format!("setting{i}=0\r\n"));
    }
    for n in 1..=3 {
        text.push_str(&format!(
            "[Account{n}]\r\nlabel=Account {n}\r\nserver=pbx{n}.example.com\r\nproxy=\r\ndomain=pbx{n}.example.com\r\nusername=100{n}\r\npassword=8f3a9c0d1e2b4a5f6c7d8e9f0a1b2c3d\r\nauthID=\r\ndisplayName=Anna Müller\r\ndialingPrefix=\r\ndialPlan=\r\nhideCID=\r\nvoicemailNumber=\r\ntransport=udp\r\npublicAddr=\r\nSRTP=\r\nregisterRefresh=300\r\nkeepAlive=15\r\npublish=0\r\nICE=0\r\nallowRewrite=0\r\ndisableSessionTimer=0\r\n"
        ));
    }
    text.push_str("[Shortcuts]\r\n0=Reception;100;call;;0;\r\n[Dialed]\r\n");
    for i in 0..10 {
        text.push_str(&format!("{i}=+4930123456{i}\r\n"));
    }
    text.push_str("[Calls]\r\n");
    let mut i = 0;
    while text.len() * 2 < target_bytes {
        text.push_str(&format!("{i}=+4930{i:06};Caller {i};0;1767261600;125;\r\n"));
        i += 1;
    }
    utf16le_bom(&text)
}

/// Median time of `f` over enough runs to fill about `budget`.
fn measure(budget: Duration, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    let once = start.elapsed().max(Duration::from_nanos(1));
    let runs = (budget.as_nanos() / once.as_nanos()).clamp(5, 20_000) as usize;
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn report(name: &str, bytes: usize, time: Duration) {
    let mib_per_s = bytes as f64 / (1024.0 * 1024.0) / time.as_secs_f64();
    println!(
        "{name:<44} {:>12.1} µs {mib_per_s:>10.1} MiB/s",
        time.as_secs_f64() * 1e6
    );
}

fn bench_file(label: &str, bytes: &[u8], dir: &Path) {
    let path = dir.join(format!("{label}.ini"));
    fs::write(&path, bytes).unwrap();
    let budget = Duration::from_millis(1500);
    println!("\n{label}: {} bytes", bytes.len());
    report(
        "floor: fs::read + fs::write (same bytes)",
        bytes.len(),
        measure(budget, || {
            let data = fs::read(&path).unwrap();
            fs::write(dir.join("floor.out"), black_box(&data)).unwrap();
        }),
    );
    report(
        "parse + print (in memory)",
        bytes.len(),
        measure(budget, || {
            let document = IniDocument::parse(black_box(bytes), CodePage::WINDOWS_1252).unwrap();
            black_box(document.to_bytes());
        }),
    );
    report(
        "parse + one set + print (in memory)",
        bytes.len(),
        measure(budget, || {
            let mut document =
                IniDocument::parse(black_box(bytes), CodePage::WINDOWS_1252).unwrap();
            document
                .set("Account1", "server", "pbx9.example.com")
                .unwrap();
            black_box(document.to_bytes());
        }),
    );
    report(
        "read + parse + set + print + write",
        bytes.len(),
        measure(budget, || {
            let data = fs::read(&path).unwrap();
            let mut document = IniDocument::parse(&data, CodePage::WINDOWS_1252).unwrap();
            document
                .set("Account1", "server", "pbx9.example.com")
                .unwrap();
            fs::write(dir.join("engine.out"), document.to_bytes()).unwrap();
        }),
    );
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("ini_throughput: run with `cargo bench --bench ini_throughput`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    bench_file(
        "16 KB UTF-16LE MicroSIP INI",
        &realistic_ini(16 * 1024),
        dir.path(),
    );
    bench_file(
        "10 MB UTF-16LE INI",
        &realistic_ini(10 * 1024 * 1024),
        dir.path(),
    );
}
