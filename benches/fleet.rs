//! Fleet mode at scale (issue 6): the real release binary over generated trees of N profiles
//! (N = 1,000 and 10,000; 100 for the memory baseline), side by side with
//!
//! * the floor, two minimal programs on the same number of threads: one that reads every
//!   `microsip.ini`, one that reads it, writes a temp file next to it, fsyncs and renames it over
//!   the original (both walk the tree first, as the tool's discovery does). Each is this bench
//!   binary run again (`FLEET_FLOOR=read|write`), doing nothing else, and is timed from outside
//!   around its process exactly as the tool is, start and exit included; the time of the work
//!   alone, measured inside, is shown beside it (and the no-change ratio against it too);
//! * the peer, `crudini` (Debian's package), making the same key edits on UTF-8 copies of the same
//!   INIs (it cannot read UTF-16), one process per file as admins run it in a loop, timed on a
//!   sample of 200 files and extrapolated per file. Debian's crudini 0.9.4 takes one edit per
//!   process (several `--set`/`--del` in one call came with 0.9.5), so with it every edit is a
//!   process of its own, and the output says so.
//!
//! Measured for each N, in one run: the first `apply` (changes in every profile), a no-change
//! re-run (zero writes: every file's mtime and size compared before and after; also with
//! `--if-running ignore`, which shows what the check for a running MicroSIP costs) and `plan`. Peak
//! memory is the child's own `ru_maxrss`, from the `wait4` that reaps it (no wrapper process). The OS page cache cannot be dropped
//! reliably here, so every measurement runs warm (the tree was just generated) and the output
//! says so; dirty pages are flushed with `sync` before each timed step. Against a load that drifts
//! during the run (the CI machine is shared), the write floor is run before and after the first
//! apply and their mean is used, the cheap repeatable steps run in three interleaved rounds (nine at N <= 1,000) and
//! their medians are used, and the load average is printed with the results.
//!
//! `crudini` is installed with `apt-get install -y` when missing, unless `CI` is set (then the
//! peer is skipped with a note). Sizes can be overridden with
//! `FLEET_BENCH_SIZES=100,1000`. Run with `cargo bench --bench fleet`; the README quotes its
//! output. Everything is generated in a temp folder and deleted.

#[path = "fleet/generate.rs"]
mod generate;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Files in the crudini sample.
const CRUDINI_SAMPLE: usize = 200;

/// Rounds of the cheap, repeatable measurements (read floor, no-change apply, plan) at N <= 1,000, where one run takes a few
/// milliseconds and the shared machine's jitter is of the same size: more rounds, a steadier
/// median.
const ROUNDS_SMALL: usize = 9;

/// Rounds of the cheap, repeatable measurements for `n` profiles.
fn rounds(n: usize) -> usize {
    if n <= 1_000 {
        ROUNDS_SMALL
    } else {
        ROUNDS
    }
}

/// Rounds of the cheap, repeatable measurements at larger N.
const ROUNDS: usize = 3;

fn settle() {
    let _ = Command::new("sync").status();
}

/// Run `work(i)` for `i` in `0..n` on `threads` threads.
fn parallel(n: usize, threads: usize, work: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                work(i);
            });
        }
    });
}

/// Every `microsip.ini` under the root, found the way the tool's discovery looks (one listing of
/// the root, then the layout below each user folder).
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(root)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .join(generate::LAYOUT)
                .join("microsip.ini")
        })
        .collect();
    found.sort();
    found
}

/// The floor for a no-change run: read every INI.
fn read_floor(root: &Path, threads: usize) -> Duration {
    let start = Instant::now();
    let inis = walk(root);
    let bytes = AtomicUsize::new(0);
    parallel(inis.len(), threads, |i| {
        let mut buffer = Vec::new();
        fs::File::open(&inis[i])
            .unwrap()
            .read_to_end(&mut buffer)
            .unwrap();
        bytes.fetch_add(buffer.len(), Ordering::Relaxed);
    });
    let elapsed = start.elapsed();
    assert!(bytes.into_inner() > 0);
    elapsed
}

/// The floor for a first apply: read every INI, write it to a temp file next to it, fsync,
/// rename over the original.
fn write_floor(root: &Path, threads: usize) -> Duration {
    let start = Instant::now();
    let inis = walk(root);
    parallel(inis.len(), threads, |i| {
        let ini = &inis[i];
        let bytes = fs::read(ini).unwrap();
        let temp = ini.with_file_name(".microsip.ini.floor-tmp");
        let mut file = fs::File::create(&temp).unwrap();
        file.write_all(&bytes).unwrap();
        file.sync_all().unwrap();
        drop(file);
        fs::rename(&temp, ini).unwrap();
    });
    start.elapsed()
}

/// Which floor a child run of this bench is (`FLEET_FLOOR=read|write`, root and threads as
/// arguments).
const FLOOR_ENV: &str = "FLEET_FLOOR";

/// A floor measured the way the tool is: as a program of its own (this bench binary run again,
/// doing nothing but the floor's work), timed from outside around the process, start and exit
/// included. Also the time of the work alone, measured inside it.
struct Floor {
    program: Duration,
    work: Duration,
}

/// Run the `kind` floor ("read" or "write") over `root` as its own process.
fn floor_program(kind: &str, root: &Path, threads: usize) -> Floor {
    let start = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .env(FLOOR_ENV, kind)
        .arg(root)
        .arg(threads.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let program = start.elapsed();
    assert!(output.status.success(), "the {kind} floor failed");
    let nanos: u64 = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Floor {
        program,
        work: Duration::from_nanos(nanos),
    }
}

/// The child side of [`floor_program`]: do the work, print its time in nanoseconds.
fn floor_child(kind: &str) {
    let args: Vec<String> = std::env::args().collect();
    let root = Path::new(&args[1]);
    let threads: usize = args[2].parse().unwrap();
    let work = match kind {
        "read" => read_floor(root, threads),
        "write" => write_floor(root, threads),
        other => panic!("{FLOOR_ENV}={other}: read or write"),
    };
    println!("{}", work.as_nanos());
}

/// Is `program` there (it runs with `--version`)?
fn present(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Make sure `program` (from Debian's `package`) is installed: `apt-get install -y` when missing
/// and `CI` is not set. `Err(note)` when it cannot be had.
fn ensure(program: &str, package: &str) -> Result<(), String> {
    if present(program) {
        return Ok(());
    }
    if std::env::var_os("CI").is_some() {
        return Err(format!(
            "{program} is not installed and CI is set: not installing it"
        ));
    }
    eprintln!("fleet: installing {package} (apt-get install -y {package})");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", package])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get")
            .args(["update", "-q"])
            .stdout(Stdio::null())
            .status();
        install();
    }
    if present(program) {
        Ok(())
    } else {
        Err(format!("{program} could not be installed ({package})"))
    }
}

/// One run of the real binary: wall time and its peak RSS in KiB.
struct BinRun {
    elapsed: Duration,
    max_rss_kib: Option<u64>,
}

/// Run the binary with `args`; it must exit 0. The child is reaped with `wait4`, whose resource
/// usage holds the child's own peak RSS: no wrapper process (`/usr/bin/time -v` added a fork and
/// an exec to every timed run) and nothing to install.
fn run_bin(args: &[&str]) -> BinRun {
    let bin = env!("CARGO_BIN_EXE_microsip-provision");
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let (status, max_rss_kib) = wait_with_rusage(child);
    let elapsed = start.elapsed();
    assert!(
        status == Some(0),
        "microsip-provision {args:?} failed ({status:?}): {stderr}"
    );
    BinRun {
        elapsed,
        max_rss_kib,
    }
}

/// Reap `child`: its exit code and peak RSS (KiB; Linux reports `ru_maxrss` in KiB).
#[cfg(unix)]
fn wait_with_rusage(child: std::process::Child) -> (Option<i32>, Option<u64>) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data, all-zero is a valid value for the kernel to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unreaped child; `status` and `usage` are valid out-pointers.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    // The child is reaped: `Child` must not wait for it again (dropping it does not).
    drop(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, u64::try_from(usage.ru_maxrss).ok())
}

/// Elsewhere: the exit code only.
#[cfg(not(unix))]
fn wait_with_rusage(mut child: std::process::Child) -> (Option<i32>, Option<u64>) {
    (child.wait().unwrap().code(), None)
}

/// The run with the median time, carrying the highest peak RSS of all of them.
fn median_run(mut runs: Vec<BinRun>) -> BinRun {
    let peak = runs.iter().filter_map(|r| r.max_rss_kib).max();
    runs.sort_by_key(|r| r.elapsed);
    let mut median = runs.swap_remove(runs.len() / 2);
    median.max_rss_kib = peak;
    median
}

/// The load average over the last minute (`?` where there is no `/proc/loadavg`).
fn load() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Every file under `dir` (not following links) with its mtime and size.
fn file_times(dir: &Path, out: &mut BTreeMap<PathBuf, (SystemTime, u64)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = fs::symlink_metadata(entry.path()).unwrap();
        if meta.is_dir() {
            file_times(&entry.path(), out);
        } else {
            out.insert(entry.path(), (meta.modified().unwrap(), meta.len()));
        }
    }
}

/// The outcome of every line of a JSON Lines report, counted.
fn outcomes(report: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in fs::read_to_string(report).unwrap().lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        *counts
            .entry(value["outcome"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    counts
}

/// The measurements for one N.
struct Measured {
    n: usize,
    generate: Duration,
    read_floor: Floor,
    write_floor: Floor,
    first: BinRun,
    again: BinRun,
    /// The no-change apply without the check for a running MicroSIP.
    ignore: BinRun,
    plan: BinRun,
    zero_writes: bool,
}

fn measure(n: usize, threads: usize, work: &Path) -> Measured {
    let dir = work.join(format!("n{n}"));
    let start = Instant::now();
    let fleet = generate::generate(&dir, n, threads).unwrap();
    let generate = start.elapsed();
    settle();

    let root = fleet.profiles_root.display().to_string();
    let manifest = fleet.manifest.display().to_string();
    let jobs = threads.to_string();
    let report = dir.join("report.jsonl");
    let report_arg = report.display().to_string();
    let fleet_args = |verb: &'static str| -> Vec<String> {
        [
            verb,
            &manifest,
            "--profiles-root",
            &root,
            "--jobs",
            &jobs,
            "--quiet",
            "--report",
            &report_arg,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    // The write floor brackets the first apply (before and after, on the same files): the mean
    // of the two is what the apply is compared with, so a load that drifts during the run (the
    // machine is shared) weighs on both sides alike.
    let write_before = floor_program("write", &fleet.profiles_root, threads);
    settle();
    let apply_args = fleet_args("apply");
    let apply_refs: Vec<&str> = apply_args.iter().map(String::as_str).collect();
    let first = run_bin(&apply_refs);
    let counts = outcomes(&report);
    assert_eq!(
        counts.get("changed"),
        Some(&n),
        "first apply over {n} profiles: {counts:?}"
    );
    settle();
    let write_after = floor_program("write", &fleet.profiles_root, threads);
    let write_floor = Floor {
        program: (write_before.program + write_after.program) / 2,
        work: (write_before.work + write_after.work) / 2,
    };
    settle();

    // Then interleaved rounds of: read floor, no-change apply, plan; medians are kept.
    let plan_args = fleet_args("plan");
    let plan_refs: Vec<&str> = plan_args.iter().map(String::as_str).collect();
    let mut before = BTreeMap::new();
    file_times(&fleet.profiles_root, &mut before);
    let mut ignore_args = apply_args.clone();
    ignore_args.extend(["--if-running".to_string(), "ignore".to_string()]);
    let ignore_refs: Vec<&str> = ignore_args.iter().map(String::as_str).collect();
    let (mut reads, mut agains, mut plans) = (Vec::new(), Vec::new(), Vec::new());
    let mut ignores = Vec::new();
    for _ in 0..rounds(n) {
        reads.push(floor_program("read", &fleet.profiles_root, threads));
        agains.push(run_bin(&apply_refs));
        let counts = outcomes(&report);
        assert_eq!(
            counts.get("unchanged"),
            Some(&n),
            "no-change apply: {counts:?}"
        );
        plans.push(run_bin(&plan_refs));
        let counts = outcomes(&report);
        assert_eq!(counts.get("unchanged"), Some(&n), "plan: {counts:?}");
        ignores.push(run_bin(&ignore_refs));
        let counts = outcomes(&report);
        assert_eq!(
            counts.get("unchanged"),
            Some(&n),
            "no-change apply --if-running ignore: {counts:?}"
        );
    }
    let mut after = BTreeMap::new();
    file_times(&fleet.profiles_root, &mut after);
    let zero_writes = before == after;
    if !zero_writes {
        let changed: Vec<_> = after
            .iter()
            .filter(|(path, stamp)| before.get(*path) != Some(stamp))
            .take(5)
            .map(|(path, _)| path.display().to_string())
            .collect();
        eprintln!("fleet: the no-change runs wrote files, e.g. {changed:#?}");
    }
    reads.sort_by_key(|floor| floor.program);
    let read_floor = reads.swap_remove(reads.len() / 2);
    let again = median_run(agains);
    let plan = median_run(plans);
    let ignore = median_run(ignores);

    let _ = fs::remove_dir_all(&dir);
    Measured {
        n,
        generate,
        read_floor,
        write_floor,
        first,
        again,
        ignore,
        plan,
        zero_writes,
    }
}

/// crudini's version, e.g. (0, 9, 4).
fn crudini_version() -> (u32, u32, u32) {
    let output = Command::new("crudini").arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let version = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("0.0.0");
    let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// The peer: crudini making the manifest's key edits on UTF-8 copies of `CRUDINI_SAMPLE`
/// profiles' INIs, `threads` files at a time. Returns the wall time per file, the number of
/// processes per file, and crudini's version.
fn crudini_per_file(threads: usize, work: &Path) -> (Duration, usize, String) {
    let version = crudini_version();
    let multi = version >= (0, 9, 5);
    let dir = work.join("crudini");
    fs::create_dir_all(&dir).unwrap();
    let files: Vec<PathBuf> = (0..CRUDINI_SAMPLE)
        .map(|i| {
            let path = dir.join(format!("{}.ini", generate::user_name(i)));
            fs::write(&path, generate::ini_text(i)).unwrap();
            path
        })
        .collect();
    settle();
    let processes = AtomicUsize::new(0);
    let run = |args: &[String]| {
        let status = Command::new("crudini")
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "crudini {args:?} failed");
        processes.fetch_add(1, Ordering::Relaxed);
    };
    let start = Instant::now();
    parallel(files.len(), threads, |i| {
        let file = files[i].display().to_string();
        let mut one_call: Vec<String> = Vec::new();
        for (op, section, key, value) in generate::crudini_edits(i) {
            let mut args = vec![op.to_string(), file.clone(), section, key.to_string()];
            if op == "--set" {
                args.push(value);
            }
            if multi {
                one_call.extend(args);
            } else {
                run(&args);
            }
        }
        if multi {
            run(&one_call);
        }
    });
    let elapsed = start.elapsed();
    // The edits are there.
    let text = fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains(&format!("username = {}", generate::extension(0)))
            || text.contains(&format!("username={}", generate::extension(0))),
        "crudini did not edit {}",
        files[0].display()
    );
    let per_process = processes.into_inner() / files.len();
    let _ = fs::remove_dir_all(&dir);
    (
        elapsed / files.len() as u32,
        per_process,
        format!("{}.{}.{}", version.0, version.1, version.2),
    )
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn per(d: Duration, n: usize) -> String {
    let us = d.as_secs_f64() * 1e6 / n as f64;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    if let Ok(kind) = std::env::var(FLOOR_ENV) {
        return floor_child(&kind);
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!("fleet: run with `cargo bench --bench fleet`");
        return;
    }
    let sizes: Vec<usize> = std::env::var("FLEET_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000]);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let peer = ensure("crudini", "crudini");
    let rss = cfg!(unix);
    let work = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let load_at_start = load();

    let baseline = rss.then(|| measure(100, threads, work.path()));
    let measured: Vec<Measured> = sizes
        .iter()
        .map(|&n| measure(n, threads, work.path()))
        .collect();
    let crudini = peer
        .as_ref()
        .ok()
        .map(|_| crudini_per_file(threads, work.path()));

    println!(
        "fleet mode: N generated profiles (16 KB UTF-16LE microsip.ini + 200-contact Contacts.xml, \
         1 in 5 with user edits), {threads} threads (--jobs {threads}), release build"
    );
    println!(
        "warm page cache: the OS cache cannot be dropped reliably here, so every run reads files \
         that are already cached; `sync` before each timed step"
    );
    println!(
        "write floor: mean of one run before and one after the first apply; read floor, no-change \
         apply and plan: median of {ROUNDS} interleaved rounds ({ROUNDS_SMALL} at N <= 1000); load average {load_at_start} at the \
         start, {} at the end ({threads} cores)",
        load()
    );
    println!();
    print!("{:<48}", "run");
    for m in &measured {
        print!("{:>24}", format!("N={}", m.n));
    }
    println!();
    let row = |name: &str, f: &dyn Fn(&Measured) -> Duration| {
        print!("{name:<48}");
        for m in &measured {
            let d = f(m);
            print!("{:>24}", format!("{} ({}/prof)", secs(d), per(d, m.n)));
        }
        println!();
    };
    row("generate the tree (not a measurement)", &|m| m.generate);
    row("floor: read every INI (a program)", &|m| {
        m.read_floor.program
    });
    row("  its work alone (inside the program)", &|m| {
        m.read_floor.work
    });
    row("floor: read + temp + fsync + rename (program)", &|m| {
        m.write_floor.program
    });
    row("  its work alone (inside the program)", &|m| {
        m.write_floor.work
    });
    row("apply, first (changes in every profile)", &|m| {
        m.first.elapsed
    });
    row("apply, no change (zero writes)", &|m| m.again.elapsed);
    row("  the same with --if-running ignore", &|m| m.ignore.elapsed);
    row("plan (no change)", &|m| m.plan.elapsed);
    let crudini_label = match &crudini {
        Some((_, processes, version)) => format!(
            "crudini {version}, {processes} process{} per file*",
            if *processes == 1 { "" } else { "es" }
        ),
        None => "crudini".to_string(),
    };
    match &crudini {
        Some((per_file, _, _)) => row(&crudini_label, &|m| *per_file * m.n as u32),
        None => println!(
            "{crudini_label:<48}skipped: {}",
            peer.as_ref().err().unwrap()
        ),
    }
    print!("{:<48}", "zero writes in the no-change run (mtimes)");
    for m in &measured {
        print!(
            "{:>24}",
            if m.zero_writes {
                "yes"
            } else {
                "NO (files written)"
            }
        );
    }
    println!();
    if let Some((_, processes, _)) = &crudini {
        println!(
            "* crudini timed on a sample of {CRUDINI_SAMPLE} UTF-8 copies ({} edits each, {threads} \
             files at a time) and extrapolated per file to N{}",
            generate::crudini_edits(0).len(),
            if *processes > 1 {
                "; Debian's crudini takes one edit per process (several per call need 0.9.5)"
            } else {
                ""
            }
        );
    }

    println!();
    print!("{:<48}", "ratio (target)");
    for m in &measured {
        print!("{:>24}", format!("N={}", m.n));
    }
    println!();
    let ratio_row = |name: &str, f: &dyn Fn(&Measured) -> Option<(f64, bool)>| {
        print!("{name:<48}");
        for m in &measured {
            match f(m) {
                Some((r, ok)) => print!("{:>24}", format!("{r:.2}x {}", verdict(ok))),
                None => print!("{:>24}", "n/a"),
            }
        }
        println!();
    };
    ratio_row("first apply / write floor (<= 1.5x)", &|m| {
        let r = m.first.elapsed.as_secs_f64() / m.write_floor.program.as_secs_f64();
        Some((r, r <= 1.5))
    });
    ratio_row("no-change apply / read floor (<= 1.5x)", &|m| {
        let r = m.again.elapsed.as_secs_f64() / m.read_floor.program.as_secs_f64();
        Some((r, r <= 1.5 && m.zero_writes))
    });
    // For reference: against the floor's work alone, as if reading the files cost no program
    // start (the tool's own start, about 1.5 ms, is in every one of its times).
    ratio_row("  the same against the work alone (reference)", &|m| {
        let r = m.again.elapsed.as_secs_f64() / m.read_floor.work.as_secs_f64();
        Some((r, true))
    });
    ratio_row("plan / read floor (no target)", &|m| {
        let r = m.plan.elapsed.as_secs_f64() / m.read_floor.program.as_secs_f64();
        Some((r, true))
    });
    ratio_row("crudini / first apply (>= 50x)", &|m| {
        let (per_file, _, _) = crudini.as_ref()?;
        let r = per_file.as_secs_f64() * m.n as f64 / m.first.elapsed.as_secs_f64();
        Some((r, r >= 50.0))
    });

    println!();
    match (&baseline, rss) {
        (Some(base), true) => {
            let peak = |run: &BinRun| run.max_rss_kib.unwrap_or(0);
            let base_peak = [&base.first, &base.again, &base.ignore, &base.plan]
                .into_iter()
                .map(peak)
                .max()
                .unwrap();
            println!(
                "peak RSS (wait4 rusage; first apply / no change / plan): N={}: {:.1} / {:.1} / {:.1} MB",
                base.n,
                mib(peak(&base.first)),
                mib(peak(&base.again)),
                mib(peak(&base.plan))
            );
            for m in &measured {
                let top = [&m.first, &m.again, &m.ignore, &m.plan]
                    .into_iter()
                    .map(peak)
                    .max()
                    .unwrap();
                let growth = mib(top) - mib(base_peak);
                println!(
                    "  N={}: {:.1} / {:.1} / {:.1} MB; peak {:+.1} MB over N={} (<= 20 MB: {})",
                    m.n,
                    mib(peak(&m.first)),
                    mib(peak(&m.again)),
                    mib(peak(&m.plan)),
                    growth,
                    base.n,
                    verdict(growth <= 20.0)
                );
            }
        }
        _ => println!("peak RSS: skipped: no wait4 here"),
    }
    println!(
        "\nwhole benchmark: {:.0} s (trees generated in {} and deleted)",
        started.elapsed().as_secs_f64(),
        work.path().display()
    );
}
