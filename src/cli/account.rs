//! `account add|list|remove`: the one-off, imperative form a helpdesk uses for a single user.
//!
//! No manifest is needed, but the change goes through the very same merge as `apply` (slots,
//! gaps, password rules, `accountId`, lock, backup, atomic write), so a helpdesk fix and a
//! fleet run never disagree about where an account lives.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use microsip_provision::apply::{self, atomic, ApplyOptions, ApplyOutcome};
use microsip_provision::ini::IniDocument;
use microsip_provision::keys::{self, SectionKind};
use microsip_provision::manifest::{self, SecretRef, UserRow};
use microsip_provision::plan::{DesiredAccount, DesiredProfile};
use microsip_provision::profile::state::ProfileState;
use microsip_provision::report::{Outcome, ProfileReport};

use super::provision::ProfileArgs;
use super::{Failure, Global, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// The `account` verbs.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add (or update) one SIP account in a profile.
    #[command(
        after_help = "Example:\n  microsip-provision account add sip:1001@pbx.example.com --label Office --password-from env:SIP_PASSWORD --transport tls --activate"
    )]
    Add(AddArgs),
    /// List the profile's accounts (never their passwords).
    #[command(
        after_help = "Example:\n  microsip-provision account list --profile \"%APPDATA%\\MicroSIP\""
    )]
    List {
        /// Which profile.
        #[command(flatten)]
        profile: ProfileArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Remove an account by label (or id); later accounts move down so no gap hides them.
    #[command(after_help = "Example:\n  microsip-provision account remove \"Legacy PBX\"")]
    Remove {
        /// The account's label, or the id it was provisioned with.
        label: String,
        /// Which profile.
        #[command(flatten)]
        profile: ProfileArgs,
        /// Show what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `account list` formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// A JSON array.
    Json,
}

/// `account add` arguments.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The account as a SIP URI: sip:USER@DOMAIN.
    pub uri: String,
    /// Menu label (default: USER@DOMAIN); also the account's id for later runs.
    #[arg(long)]
    pub label: Option<String>,
    /// Where the password comes from: env:NAME or file:PATH (never on the command line).
    #[arg(long, value_name = "env:NAME|file:PATH")]
    pub password_from: Option<String>,
    /// Registrar host[:port] (default: the domain).
    #[arg(long)]
    pub server: Option<String>,
    /// SIP transport.
    #[arg(long, value_enum)]
    pub transport: Option<Transport>,
    /// Make it the active account.
    #[arg(long)]
    pub activate: bool,
    /// Which profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// MicroSIP's transports (`microsip-formats.md` §1.7).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS.
    Tls,
}

/// Run one `account` verb.
pub fn run(command: AccountCommand, global: &Global) -> Result<ExitCode, Failure> {
    match command {
        AccountCommand::Add(args) => add(args, global),
        AccountCommand::List { profile, format } => list(&profile, format, global),
        AccountCommand::Remove {
            label,
            profile,
            dry_run,
        } => {
            let desired = DesiredProfile {
                removed_accounts: vec![label],
                ..DesiredProfile::default()
            };
            change(&profile, &desired, dry_run, global)
        }
    }
}

fn usage(message: impl Into<String>, hint: &str) -> Failure {
    Failure {
        path: None,
        position: None,
        message: message.into(),
        hint: Some(hint.to_string()),
        code: EXIT_USAGE,
    }
}

fn add(args: AddArgs, global: &Global) -> Result<ExitCode, Failure> {
    let hint = "write the account as sip:USER@DOMAIN, e.g. sip:1001@pbx.example.com";
    let rest = args
        .uri
        .strip_prefix("sip:")
        .ok_or_else(|| usage(format!("{:?} is not a sip: URI", args.uri), hint))?;
    let (user, domain) = rest
        .split_once('@')
        .filter(|(u, d)| !u.is_empty() && !d.is_empty())
        .ok_or_else(|| usage(format!("{:?} has no USER@DOMAIN", args.uri), hint))?;
    let label = args
        .label
        .clone()
        .unwrap_or_else(|| format!("{user}@{domain}"));
    let mut keys = vec![
        (
            "server".to_string(),
            args.server.clone().unwrap_or_else(|| domain.to_string()),
        ),
        ("domain".to_string(), domain.to_string()),
        ("username".to_string(), user.to_string()),
    ];
    if let Some(transport) = args.transport {
        let value = match transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        };
        keys.push(("transport".to_string(), value.to_string()));
    }
    for (key, value) in keys
        .iter()
        .chain([("label".to_string(), label.clone())].iter())
    {
        if let Some(spec) = keys::lookup_in(SectionKind::Account, key) {
            keys::check_value(spec, value)
                .map_err(|e| usage(format!("{key}: {e}"), "choose another value"))?;
        }
    }
    let (password, password_missing) = match &args.password_from {
        None => (None, false),
        Some(source) => {
            let (reference, name) = match source.split_once(':') {
                Some(("env", name)) => (SecretRef::Env(name.to_string()), name),
                Some(("file", path)) => (SecretRef::File(path.to_string()), path),
                _ => {
                    return Err(usage(
                        "--password-from takes env:NAME or file:PATH (the value given is not repeated here: it may be a password)".to_string(),
                        "passwords never go on the command line: use env:NAME or file:PATH",
                    ))
                }
            };
            let nobody = UserRow::new(std::iter::empty::<(String, String)>(), 0);
            let secret = manifest::resolve_secret(&reference, name, &nobody, Path::new("."))
                .map_err(|e| usage(e.to_string(), "check the password source"))?;
            if secret.is_none() {
                return Err(usage(
                    format!("the password source {source:?} is empty or missing"),
                    "set the variable or create the file, or leave out --password-from",
                ));
            }
            (secret, false)
        }
    };
    let desired = DesiredProfile {
        accounts: vec![DesiredAccount {
            id: label.clone(),
            label,
            keys,
            password,
            password_missing,
            active: args.activate,
        }],
        ..DesiredProfile::default()
    };
    change(&args.profile, &desired, args.dry_run, global)
}

fn change(
    profile_args: &ProfileArgs,
    desired: &DesiredProfile,
    dry_run: bool,
    global: &Global,
) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let profile = profile_args.select()?;
    let options = ApplyOptions {
        dry_run,
        ansi: global.ansi,
        ..ApplyOptions::default()
    };
    let outcome = apply::apply_profile(&profile, desired, &options, &mut |lock| {
        eprintln!("waiting for lock on {}", lock.display());
    })
    .map_err(|e| Failure {
        path: None,
        position: None,
        message: e.to_string(),
        hint: None,
        code: EXIT_FAILURE,
    })?;
    let (outcome, plan) = match outcome {
        ApplyOutcome::Changed(plan) if dry_run => (Outcome::Pending, plan),
        ApplyOutcome::Changed(plan) => (Outcome::Changed, plan),
        ApplyOutcome::Unchanged(plan) => (Outcome::Unchanged, plan),
        ApplyOutcome::Skipped { reason } => {
            eprintln!("skipped: {reason}");
            return Ok(ExitCode::from(EXIT_OK));
        }
    };
    if !global.quiet {
        if dry_run {
            print!("{}", plan.diff());
        } else {
            for change in &plan.changes {
                println!("  {}", change.describe());
            }
        }
        let mut report =
            ProfileReport::new(&profile.user, &profile.dir, outcome, started.elapsed());
        report.changes = plan.changes.clone();
        println!("{}", report.summary_line());
    }
    for warning in &plan.warnings {
        eprintln!("warning: {}", warning.message);
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn list(
    profile_args: &ProfileArgs,
    format: ListFormat,
    global: &Global,
) -> Result<ExitCode, Failure> {
    let profile = profile_args.select()?;
    let path = &profile.ini_path;
    let bytes = atomic::read_file(path)
        .map_err(|e| Failure::at(path, e))?
        .unwrap_or_default();
    let document = IniDocument::parse(&bytes, global.ansi).map_err(|e| {
        Failure::at(path, format!("cannot decode: {}", e.what)).position(e.line, e.column)
    })?;
    let (state, _) =
        ProfileState::load(path, Some(&document), &ProfileState::legacy_path(&profile))
            .map_err(|e| Failure::at(path, e))?;
    let active = document.get("Settings", "accountId");
    let mut rows = Vec::new();
    let mut gap_seen = false;
    let mut slots: Vec<u32> = document
        .section_names()
        .iter()
        .filter_map(|name| match keys::classify(name) {
            Some((SectionKind::Account, Some(slot))) if slot >= keys::FIRST_ACCOUNT_INDEX => {
                Some(slot)
            }
            _ => None,
        })
        .collect();
    slots.sort_unstable();
    slots.dedup();
    let mut expected = keys::FIRST_ACCOUNT_INDEX;
    for slot in slots {
        let section = format!("{}{slot}", keys::ACCOUNT_SECTION_PREFIX);
        let get = |key: &str| document.get(&section, key).unwrap_or_default();
        // MicroSIP's menu stops at the first slot that does not load (§1.9).
        if slot != expected || get("domain").is_empty() {
            gap_seen = true;
        }
        expected = slot + 1;
        let managed = state
            .accounts
            .iter()
            .find(|(_, record)| record.slot == slot)
            .map(|(id, _)| id.clone());
        rows.push(serde_json::json!({
            "slot": slot,
            "label": get("label"),
            "account": format!("{}@{}", get("username"), get("domain")),
            "server": get("server"),
            "transport": document.get(&section, "transport").unwrap_or_else(|| "udp".into()),
            "password": if get("password").is_empty() { "empty" } else { "set" },
            "active": active.as_deref() == Some(slot.to_string().as_str()),
            "visible": !gap_seen,
            "managed_id": managed,
        }));
    }
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&rows).expect("JSON")),
        ListFormat::Table => {
            println!("SLOT  LABEL                    ACCOUNT                          TRANSPORT PASSWORD NOTES");
            for row in &rows {
                let mut notes = Vec::new();
                if row["active"] == true {
                    notes.push("active".to_string());
                }
                if row["visible"] == false {
                    notes.push("hidden by a gap".to_string());
                }
                if let Some(id) = row["managed_id"].as_str() {
                    notes.push(format!("managed as {id:?}"));
                }
                println!(
                    "{:<5} {:<24} {:<32} {:<9} {:<8} {}",
                    row["slot"].as_u64().unwrap_or_default(),
                    row["label"].as_str().unwrap_or_default(),
                    row["account"].as_str().unwrap_or_default(),
                    row["transport"].as_str().unwrap_or_default(),
                    row["password"].as_str().unwrap_or_default(),
                    notes.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
