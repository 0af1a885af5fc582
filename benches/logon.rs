//! The logon case: wall time of one `apply` on one profile (changes to write) and of the
//! no-change re-run that every later logon performs, running the real release binary as a logon
//! script does. Side by side: the floor of starting the process at all (`--version`). Then the
//! same logon with a company-wide users file (10,000 more rows), which every logon reads.
//! Target (issue 3): both under 20 ms on the 2-core CI machine.
//! Run with `cargo bench --bench logon`; the README quotes its output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn settle() {
    #[cfg(unix)]
    let _ = Command::new("sync").status();
}

fn run(args: &[&str]) -> Duration {
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_microsip-provision"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(status.success(), "{args:?} failed");
    elapsed
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples[samples.len() / 2];
    let p95 = samples[samples.len() * 95 / 100];
    println!(
        "{name:<48} median {:>6.2} ms   p95 {:>6.2} ms   ({} runs)",
        ms(median),
        ms(p95),
        samples.len()
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("logon: run with `cargo bench --bench logon`");
        return;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let work = tempfile::tempdir().unwrap();
    copy_tree(&examples, work.path());
    let manifest = work.path().join("fleet.toml");
    let manifest = manifest.to_str().unwrap();
    let pristine = examples.join("profiles/bob/AppData/Roaming/MicroSIP");
    let runs = 40;

    let floor: Vec<Duration> = (0..runs).map(|_| run(&["--version"])).collect();
    let mut first = Vec::new();
    let mut again = Vec::new();
    let mut plan = Vec::new();
    for i in 0..runs {
        let profile: PathBuf = work.path().join(format!("bob{i}/AppData/Roaming/MicroSIP"));
        copy_tree(&pristine, &profile);
        // At a real logon the profile was written long ago: flush the fresh copy first so the
        // first apply's fsync does not pay for the copy.
        settle();
        let profile = profile.to_str().unwrap();
        let common = ["--quiet", "--profile", profile, "--user", "bob"];
        let apply: Vec<&str> = ["apply", manifest].iter().copied().chain(common).collect();
        first.push(run(&apply));
        again.push(run(&apply));
        let plan_args: Vec<&str> = ["plan", manifest].iter().copied().chain(common).collect();
        plan.push(run(&plan_args));
    }
    // The same logon when the manifest's users file is the whole company's (a logon script
    // points at one manifest on NETLOGON): the examples' users plus 10,000 more rows.
    let company = work.path().join("company");
    copy_tree(&examples, &company);
    let mut users = std::fs::read_to_string(examples.join("users.csv")).unwrap();
    for n in 0..10_000 {
        users.push_str(&format!("user{n:05},User {n:05},{},Staff\n", 20_000 + n));
    }
    std::fs::write(company.join("users.csv"), users).unwrap();
    let company_manifest = company.join("fleet.toml");
    let company_manifest = company_manifest.to_str().unwrap();
    let mut company_first = Vec::new();
    let mut company_again = Vec::new();
    for i in 0..runs {
        let profile: PathBuf = company.join(format!("bob{i}/AppData/Roaming/MicroSIP"));
        copy_tree(&pristine, &profile);
        settle();
        let profile = profile.to_str().unwrap();
        let apply = [
            "apply",
            company_manifest,
            "--quiet",
            "--profile",
            profile,
            "--user",
            "bob",
        ];
        company_first.push(run(&apply));
        company_again.push(run(&apply));
    }
    println!("logon case: bob's lived-in 3.22 profile (UTF-16LE, 6.7 KB), examples/fleet.toml");
    summary("floor: process start (--version)", floor);
    summary("apply, first logon (7 changes, backup, 1 write)", first);
    summary("apply, every later logon (no change, no write)", again);
    summary("plan (no change)", plan);
    println!("the same, the users file holding 10,000 more users (a company-wide users.csv)");
    summary("apply, first logon", company_first);
    summary("apply, every later logon", company_again);
}
