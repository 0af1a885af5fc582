//! `apply::atomic` and `apply::lock` on real files in temp folders: no-op writes, creation,
//! replacement, refusal of links and directories, planted temp names, stale temp cleanup,
//! optimistic concurrency, Unix modes, and concurrent read-modify-write cycles under the lock
//! (two threads, and two processes: this test binary re-runs itself as the second writer).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use microsip_provision::apply::atomic::{
    clean_stale_temps, read_file, write_atomic, Fingerprint, FsError, WriteOptions, WriteOutcome,
};
use microsip_provision::apply::lock::{lock_for, lock_path_for, LOCK_FILE};

const NAME: &str = "microsip.ini";

fn opts() -> WriteOptions {
    WriteOptions::default()
}

/// Sorted file names in `dir`.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn temp_name(pid: u32, counter: u64) -> String {
    format!(".{NAME}.{pid}.{counter}.mpv-tmp")
}

/// Create a file symlink `link` -> `target`. Returns false (the caller skips its link checks)
/// only on Windows when links cannot be made here: no privilege (no Developer Mode /
/// SeCreateSymbolicLinkPrivilege), or a `CreateSymbolicLinkW` that reports success but creates
/// nothing (Wine 8's stub). Anything else is a test failure.
fn symlink_file(target: &Path, link: &Path) -> bool {
    #[cfg(unix)]
    let result = std::os::unix::fs::symlink(target, link);
    #[cfg(windows)]
    let result = std::os::windows::fs::symlink_file(target, link);
    match result {
        Ok(()) if fs::symlink_metadata(link).is_ok() => true,
        Ok(()) if cfg!(windows) => {
            eprintln!(
                "skipped: creating a symlink reported success but created nothing \
                 (Wine's stub CreateSymbolicLinkW)"
            );
            false
        }
        Ok(()) => panic!("symlink {} was not created", link.display()),
        // ERROR_PRIVILEGE_NOT_HELD
        Err(e) if cfg!(windows) && e.raw_os_error() == Some(1314) => {
            eprintln!("skipped: creating a symlink needs a privilege here: {e}");
            false
        }
        Err(e) => panic!("cannot create symlink {}: {e}", link.display()),
    }
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).unwrap().file_type().is_symlink()
}

fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn unchanged_bytes_are_not_written_and_mtime_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(NAME);
    fs::write(&target, b"\xFF\xFE[\0S\0]\0").unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    set_mtime(&target, old);
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&target).unwrap());

    let outcome = write_atomic(&target, b"\xFF\xFE[\0S\0]\0", &opts()).unwrap();
    assert_eq!(outcome, WriteOutcome::Unchanged);
    assert_eq!(mtime(&target), old, "an unchanged write touched the file");
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&fs::metadata(&target).unwrap()),
        inode,
        "the file was replaced"
    );
    assert_eq!(names_in(dir.path()), vec![NAME]);

    // The same check must see a real change.
    let outcome = write_atomic(&target, b"\xFF\xFE[\0T\0]\0", &opts()).unwrap();
    assert_eq!(outcome, WriteOutcome::Written);
    assert_ne!(mtime(&target), old);
}

#[test]
fn a_new_file_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(NAME);
    assert_eq!(read_file(&target).unwrap(), None);
    assert_eq!(
        write_atomic(&target, b"new", &opts()).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(fs::read(&target).unwrap(), b"new");
    assert_eq!(names_in(dir.path()), vec![NAME], "temp file left behind");
    assert_eq!(
        write_atomic(&target, b"new", &opts()).unwrap(),
        WriteOutcome::Unchanged
    );
    // Empty content is content too.
    let empty = dir.path().join("empty.ini");
    assert_eq!(
        write_atomic(&empty, b"", &opts()).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(read_file(&empty).unwrap(), Some(Vec::new()));
}

#[test]
fn existing_content_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(NAME);
    fs::write(&target, "a much longer old content\r\n".repeat(100)).unwrap();
    assert_eq!(
        write_atomic(&target, b"short", &opts()).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(fs::read(&target).unwrap(), b"short");
    assert_eq!(read_file(&target).unwrap().as_deref(), Some(&b"short"[..]));
    assert_eq!(names_in(dir.path()), vec![NAME], "temp file left behind");
}

#[test]
fn a_symlink_target_is_refused_and_the_link_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, b"precious").unwrap();
    let link = dir.path().join(NAME);
    if !symlink_file(&victim, &link) {
        return;
    }
    let err = write_atomic(&link, b"evil", &opts()).unwrap_err();
    assert!(
        matches!(&err, FsError::SymlinkRefused { path } if path == &link),
        "{err:?}"
    );
    assert!(err.to_string().contains(NAME), "{err}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(is_symlink(&link), "the link was replaced");
    assert!(matches!(
        read_file(&link),
        Err(FsError::SymlinkRefused { .. })
    ));
    assert!(matches!(
        Fingerprint::of_file(&link),
        Err(FsError::SymlinkRefused { .. })
    ));
    // Only files we wrote are here: no temp left behind.
    assert_eq!(names_in(dir.path()), vec![NAME, "victim.txt"]);

    // Explicitly allowed: the file behind the link is replaced, the link stays a link.
    let allow = WriteOptions {
        allow_symlink_target: true,
        ..opts()
    };
    assert_eq!(
        write_atomic(&link, b"through", &allow).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(fs::read(&victim).unwrap(), b"through");
    assert!(is_symlink(&link));
    assert_eq!(
        write_atomic(&link, b"through", &allow).unwrap(),
        WriteOutcome::Unchanged
    );
}

#[test]
fn a_directory_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(NAME);
    fs::create_dir(&target).unwrap();
    let err = write_atomic(&target, b"x", &opts()).unwrap_err();
    assert!(
        matches!(&err, FsError::IsADirectory { path } if path == &target),
        "{err:?}"
    );
    assert!(err.to_string().contains("is a directory"), "{err}");
    assert!(matches!(
        read_file(&target),
        Err(FsError::IsADirectory { .. })
    ));
    assert!(target.is_dir());
    assert!(names_in(&target).is_empty());
    assert_eq!(names_in(dir.path()), vec![NAME]);
}

#[test]
fn entries_planted_at_temp_names_neither_break_nor_redirect_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(NAME);
    fs::write(&target, b"old").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    fs::write(&victim, b"precious").unwrap();
    // The counter is per process and shared by every test of this binary; far fewer than
    // PLANTED writes happen before this one, so the next name is certainly taken.
    const PLANTED: u64 = 1000;
    let pid = std::process::id();
    let mut links = true;
    for n in 0..PLANTED {
        let planted = dir.path().join(temp_name(pid, n));
        if n % 2 == 1 && links {
            links = symlink_file(&victim, &planted);
            if links {
                continue;
            }
        }
        fs::write(&planted, n.to_string()).unwrap();
    }
    assert_eq!(
        write_atomic(&target, b"new", &opts()).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(fs::read(&target).unwrap(), b"new");
    assert_eq!(fs::read(&victim).unwrap(), b"precious", "write redirected");
    for n in 0..PLANTED {
        let planted = dir.path().join(temp_name(pid, n));
        if fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink()
        {
            continue;
        }
        assert_eq!(fs::read_to_string(&planted).unwrap(), n.to_string());
    }
    assert_eq!(names_in(dir.path()).len() as u64, PLANTED + 1);

    // And they are crash leftovers as far as the cleaner is concerned.
    assert_eq!(
        clean_stale_temps(dir.path(), NAME).unwrap(),
        PLANTED as usize
    );
    assert_eq!(names_in(dir.path()), vec![NAME]);
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn stale_temps_are_cleaned_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let keep = [
        NAME,
        ".mpv-lock",
        ".Contacts.xml.1.2.mpv-tmp",
        ".microsip.ini.x.1.mpv-tmp",
        "microsip.ini.1.2.mpv-tmp",
        ".microsip.ini.1.2.mpv-tmp.bak",
    ];
    for name in keep {
        fs::write(dir.path().join(name), b"keep").unwrap();
    }
    for name in [".microsip.ini.4242.0.mpv-tmp", ".microsip.ini.7.19.mpv-tmp"] {
        fs::write(dir.path().join(name), b"stale").unwrap();
    }
    // A directory with a temp name is not ours to delete.
    fs::create_dir(dir.path().join(".microsip.ini.1.1.mpv-tmp")).unwrap();

    assert_eq!(clean_stale_temps(dir.path(), NAME).unwrap(), 2);
    let mut expected: Vec<&str> = keep.to_vec();
    expected.push(".microsip.ini.1.1.mpv-tmp");
    expected.sort();
    assert_eq!(names_in(dir.path()), expected);
    assert_eq!(clean_stale_temps(dir.path(), NAME).unwrap(), 0);
    assert_eq!(
        clean_stale_temps(&dir.path().join("missing"), NAME).unwrap(),
        0
    );
}

#[test]
fn a_change_since_read_is_detected_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(NAME);
    fs::write(&target, b"v1").unwrap();
    let read = read_file(&target).unwrap().unwrap();
    let seen = Fingerprint::of(&read);
    assert_eq!(Fingerprint::of_file(&target).unwrap(), Some(seen));

    fs::write(&target, b"v2 by MicroSIP").unwrap();
    let guarded = WriteOptions {
        if_unchanged_since: Some(seen),
        ..opts()
    };
    let err = write_atomic(&target, b"v1 + ours", &guarded).unwrap_err();
    assert!(
        matches!(&err, FsError::ChangedSinceRead { path } if path == &target),
        "{err:?}"
    );
    assert_eq!(fs::read(&target).unwrap(), b"v2 by MicroSIP");
    assert_eq!(names_in(dir.path()), vec![NAME]);

    // Deleted since read: also a change.
    fs::remove_file(&target).unwrap();
    assert!(matches!(
        write_atomic(&target, b"v1 + ours", &guarded),
        Err(FsError::ChangedSinceRead { .. })
    ));
    assert!(!target.exists());

    // The matching fingerprint lets the write through.
    fs::write(&target, b"v1").unwrap();
    assert_eq!(
        write_atomic(&target, b"v1 + ours", &guarded).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(fs::read(&target).unwrap(), b"v1 + ours");
}

#[cfg(unix)]
#[test]
fn the_permission_mode_is_preserved() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // 0o660 and 0o606 lose a bit to the usual umasks (022, 002) unless the mode is copied.
    for mode in [0o600, 0o640, 0o660, 0o606] {
        let target = dir.path().join(format!("{mode:o}.ini"));
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(mode)).unwrap();
        assert_eq!(
            write_atomic(&target, b"new", &opts()).unwrap(),
            WriteOutcome::Written
        );
        let got = fs::metadata(&target).unwrap().permissions().mode() & 0o7777;
        assert_eq!(got, mode, "mode {mode:o} became {got:o}");
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }
}

#[test]
fn errors_name_the_path_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no such folder");
    let err = write_atomic(&missing.join(NAME), b"x", &opts()).unwrap_err();
    assert!(matches!(err, FsError::Io { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("cannot "), "{msg}");
    assert!(msg.contains("no such folder"), "{msg}");
    assert!(msg.contains("check that the folder exists"), "{msg}");
    assert!(!missing.exists());
}

/// One read-modify-write cycle under the lock: append `line`. Then a pause outside the lock,
/// so that a waiter polling every 25 ms gets its turn and the writers really interleave.
fn append_line(target: &Path, line: &str) {
    append_line_locked(target, line);
    std::thread::sleep(Duration::from_millis(3));
}

fn append_line_locked(target: &Path, line: &str) {
    let _lock = lock_for(target, Duration::from_secs(120), &mut |_| {}).unwrap();
    let current = read_file(target).unwrap();
    let seen = current.as_deref().map(Fingerprint::of);
    let mut next = current.unwrap_or_default();
    next.extend_from_slice(line.as_bytes());
    next.extend_from_slice(b"\r\n");
    std::thread::yield_now(); // widen the read-write window a lost update would need
    let guarded = WriteOptions {
        if_unchanged_since: seen,
        ..opts()
    };
    assert_eq!(
        write_atomic(target, &next, &guarded).unwrap(),
        WriteOutcome::Written
    );
}

/// Every writer's lines are present, each writer's in its own order.
fn assert_all_lines(target: &Path, writers: &[&str], per_writer: usize) {
    let text = String::from_utf8(fs::read(target).unwrap()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        writers.len() * per_writer,
        "lost updates:\n{text}"
    );
    for writer in writers {
        let mine: Vec<String> = lines
            .iter()
            .filter(|l| l.split(' ').next() == Some(writer))
            .map(|l| l.to_string())
            .collect();
        let expected: Vec<String> = (0..per_writer).map(|i| format!("{writer} {i}")).collect();
        assert_eq!(mine, expected, "writer {writer}");
    }
    // The test only proves something if the writers overlapped.
    let switches = lines
        .windows(2)
        .filter(|w| w[0].split(' ').next() != w[1].split(' ').next())
        .count();
    assert!(switches >= 2, "the writers never interleaved:\n{text}");
}

#[test]
fn two_threads_appending_under_the_lock_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(NAME);
    std::thread::scope(|s| {
        for writer in ["left", "right"] {
            let target = &target;
            s.spawn(move || {
                for i in 0..50 {
                    append_line(target, &format!("{writer} {i}"));
                }
            });
        }
    });
    assert_all_lines(&target, &["left", "right"], 50);
    let mut names = names_in(dir.path());
    names.sort();
    // Unix locks the folder itself; Windows needs a lock file in it.
    let expected: Vec<&str> = if cfg!(windows) {
        vec![LOCK_FILE, NAME]
    } else {
        vec![NAME]
    };
    assert_eq!(names, expected);
}

/// Set by [`two_processes_appending_under_the_lock_lose_no_update`] for its child.
const CHILD_TARGET: &str = "MICROSIP_PROVISION_TEST_APPEND_TARGET";

/// The second writer of the two-process test, run in a child process; does nothing otherwise.
#[test]
#[ignore = "helper run by two_processes_appending_under_the_lock_lose_no_update"]
fn child_appender() {
    let Some(target) = std::env::var_os(CHILD_TARGET) else {
        return;
    };
    for i in 0..50 {
        append_line(Path::new(&target), &format!("child {i}"));
    }
}

#[test]
fn two_processes_appending_under_the_lock_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(NAME);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "atomic::child_appender",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_TARGET, &target)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Start once the child is writing, so that the two really overlap.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if fs::read(&target).is_ok_and(|b| b.starts_with(b"child 0")) {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited early: {status}");
        }
        assert!(Instant::now() < deadline, "child never wrote");
        std::thread::sleep(Duration::from_millis(5));
    }
    for i in 0..50 {
        append_line(&target, &format!("parent {i}"));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
    assert_all_lines(&target, &["child", "parent"], 50);
}

#[test]
fn lock_timeout_reports_and_calls_on_wait_once_and_never_blocks_the_ini() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(NAME);
    fs::write(&target, b"ini").unwrap();
    let held = lock_for(&target, Duration::ZERO, &mut |_| {
        panic!("no contention yet")
    })
    .unwrap();
    let lock_path: PathBuf = lock_path_for(&target).unwrap();
    assert_eq!(held.path(), lock_path);

    // The INI itself stays usable by MicroSIP (and by us) while the lock is held.
    fs::write(&target, b"written by MicroSIP").unwrap();
    assert_eq!(read_file(&target).unwrap().unwrap(), b"written by MicroSIP");
    write_atomic(&target, b"ours", &opts()).unwrap();

    let mut waited_on = Vec::new();
    let err = std::thread::scope(|s| {
        s.spawn(|| {
            lock_for(&target, Duration::from_millis(200), &mut |p| {
                waited_on.push(p.to_path_buf())
            })
        })
        .join()
        .unwrap()
    })
    .unwrap_err();
    match &err {
        FsError::LockTimeout { path, waited } => {
            assert_eq!(path, &lock_path);
            assert!(*waited >= Duration::from_millis(200), "{waited:?}");
        }
        other => panic!("expected LockTimeout, got {other:?}"),
    }
    assert!(
        err.to_string().contains("another microsip-provision"),
        "{err}"
    );
    assert_eq!(waited_on, vec![lock_path.clone()]);

    // Released on drop; a Windows lock file stays.
    drop(held);
    let mut calls = 0;
    let again = lock_for(&target, Duration::from_secs(5), &mut |_| calls += 1).unwrap();
    assert_eq!(calls, 0);
    drop(again);
    assert!(lock_path.exists());
}

#[test]
fn a_symlink_at_the_lock_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, b"precious").unwrap();
    // Unix locks the folder: a link in place of the folder. Windows: a link at the lock file.
    #[cfg(unix)]
    let target = {
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("linked")).unwrap();
        dir.path().join("linked").join(NAME)
    };
    #[cfg(not(unix))]
    let target = dir.path().join(NAME);
    #[cfg(not(unix))]
    if !symlink_file(&victim, &dir.path().join(LOCK_FILE)) {
        return;
    }
    let err = lock_for(&target, Duration::ZERO, &mut |_| {}).unwrap_err();
    assert!(matches!(err, FsError::SymlinkRefused { .. }), "{err:?}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}
