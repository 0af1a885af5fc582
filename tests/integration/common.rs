//! Helpers shared by the integration tests: paths to the binary and the corpus, UTF-16 builders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `microsip-provision` binary built by cargo for this test run.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_microsip-provision"))
}

/// Run `command` to the end, as `Command::output`, but fail the test when it takes longer than
/// `limit`: a run that hangs (a planted named pipe, a lock never given up) is a failure to
/// report, not a test suite that never ends.
pub fn output_within(command: &mut Command, limit: std::time::Duration) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the binary") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {limit:?}: it hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    std::process::Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// `tests/corpus`, the golden INI files (stored as binary in git).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// UTF-16LE with BOM, the way MicroSIP stores `microsip.ini`.
pub fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// Decode UTF-16LE with BOM (panics on anything else: for assertions only).
pub fn from_utf16le_bom(bytes: &[u8]) -> String {
    assert!(bytes.starts_with(&[0xFF, 0xFE]), "no UTF-16LE BOM");
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).expect("valid UTF-16")
}

/// `examples/`, the shipped example fleet.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Copy a folder tree (tests work on copies of `examples/`, never on the originals).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
