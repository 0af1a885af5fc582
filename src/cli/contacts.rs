//! `contacts list|export|import|remove|check`: MicroSIP's `Contacts.xml`, read and edited
//! without loss, through the library's [`microsip_provision::contacts`] (this file only parses
//! flags, prints, and turns errors into prose).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use microsip_provision::apply::atomic::{self, WriteOptions};
use microsip_provision::contacts::exchange::{self, Format};
use microsip_provision::contacts::import::ImportError;
use microsip_provision::contacts::store::{
    self, Modified, RunningPolicy, StoreError, StoreOptions,
};
use microsip_provision::contacts::{
    import_records, ContactChange, ContactsDocument, ExchangeError, ImportSummary, Warning,
    MICROSIP_EMPTY,
};
use microsip_provision::profile::{self, Profile, ProfileSelection};

use super::provision::{ProfileArgs, EXIT_PENDING};
use super::{Failure, Global, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// The `contacts` verbs.
#[derive(Debug, Subcommand)]
pub enum ContactsCommand {
    /// List the contacts MicroSIP shows, in file order.
    #[command(
        after_help = "Example:\n  microsip-provision contacts list --profile \"%APPDATA%\\MicroSIP\" --format table"
    )]
    List {
        /// Which profile (Contacts.xml sits next to microsip.ini).
        #[command(flatten)]
        profile: ProfileArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Export the contacts as CSV, JSON, or the Contacts.xml bytes themselves.
    #[command(
        after_help = "Examples:\n  microsip-provision contacts export --format csv -o contacts.csv\n  microsip-provision contacts export --profile D:\\MicroSIP --format xml > Contacts.backup.xml"
    )]
    Export {
        /// Which profile.
        #[command(flatten)]
        profile: ProfileArgs,
        /// Output format: csv and json carry the 17 attributes by name (and unknown ones after
        /// them); xml is the file exactly as it is.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Write to FILE (atomically) instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Import contacts from CSV, JSON or MicroSIP XML, matched by number: new ones are added
    /// where MicroSIP's sort puts them, existing ones get only the fields that differ.
    #[command(
        after_help = "Examples:\n  microsip-provision contacts import company.csv --dry-run\n  microsip-provision contacts import contacts.json --profile \"%APPDATA%\\MicroSIP\"\n\nCSV: a header row of attribute names (name,number,firstname,...,starred,directory); only the\ncolumns present are imported. Exit codes: 0 done, 1 failure, 2 invalid input, 3 changes pending\n(with --dry-run --exit-code)."
    )]
    Import(ImportArgs),
    /// Remove every contact with a number, each with its line.
    #[command(after_help = "Example:\n  microsip-provision contacts remove 2002 --dry-run")]
    Remove {
        /// The number (as in the `number` attribute).
        number: String,
        /// Which profile.
        #[command(flatten)]
        profile: ProfileArgs,
        /// How to write.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Check that files parse and round-trip byte for byte; print what MicroSIP reads oddly.
    #[command(
        after_help = "Example:\n  microsip-provision contacts check profiles/*/Contacts.xml"
    )]
    Check {
        /// The Contacts.xml files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `contacts list` formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// CSV, as `export --format csv`.
    Csv,
    /// JSON, as `export --format json`.
    Json,
}

/// `contacts export` formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    /// A header row of attribute names, one row per contact, flags 1/0, UTF-8, CRLF.
    Csv,
    /// An array of objects keyed by attribute name, flags as booleans.
    Json,
    /// The Contacts.xml bytes, untouched (MicroSIP's empty file when there is none).
    Xml,
}

/// `contacts import --from`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ImportFrom {
    /// From the extension (.csv, .json, .xml), else from the content.
    Auto,
    /// CSV with a header row.
    Csv,
    /// JSON as exported.
    Json,
    /// MicroSIP's Contacts.xml.
    Xml,
}

/// `--if-running` of the contacts verbs.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum IfRunningContacts {
    /// Refuse: MicroSIP rewrites Contacts.xml from memory on its next change, undoing ours.
    Fail,
    /// Do nothing, say so, exit 0.
    Skip,
    /// Write anyway.
    Ignore,
}

/// `--format` of import and remove.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    /// Changes and a summary line for people.
    Human,
    /// One JSON object.
    Json,
}

/// How the verbs that change Contacts.xml write it.
#[derive(Debug, Clone, Args)]
pub struct WriteArgs {
    /// Show the plan (a diff and a summary); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: exit 3 when changes are pending.
    #[arg(long)]
    pub exit_code: bool,
    /// Keep no backup of the previous Contacts.xml.
    #[arg(long)]
    pub no_backup: bool,
    /// What to do when MicroSIP is running.
    #[arg(long, value_enum, default_value_t = IfRunningContacts::Fail)]
    pub if_running: IfRunningContacts,
    /// The executable name MicroSIP runs as, for the running check.
    #[arg(
        long,
        default_value = "microsip.exe",
        env = "MICROSIP_PROVISION_MICROSIP_EXE",
        value_name = "NAME"
    )]
    pub microsip_exe: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
}

/// `contacts import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import (`-`: standard input).
    pub file: PathBuf,
    /// Its format.
    #[arg(long, value_enum, default_value_t = ImportFrom::Auto)]
    pub from: ImportFrom,
    /// Which profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// How to write.
    #[command(flatten)]
    pub write: WriteArgs,
}

/// Run one `contacts` verb.
pub fn run(command: ContactsCommand, global: &Global) -> Result<ExitCode, Failure> {
    match command {
        ContactsCommand::List { profile, format } => list(&profile, format),
        ContactsCommand::Export {
            profile,
            format,
            output,
        } => export(&profile, format, output.as_deref(), global),
        ContactsCommand::Import(args) => import(args, global),
        ContactsCommand::Remove {
            number,
            profile,
            write,
        } => remove(&number, &profile, &write, global),
        ContactsCommand::Check { files } => check(&files, global),
    }
}

/// The profile; a profile whose user cannot be told is still fine for reading and writing
/// contacts (the user only matters for the running-MicroSIP check).
fn select(args: &ProfileArgs) -> Result<Profile, Failure> {
    let mut selection = ProfileSelection {
        profile: args.profile.clone(),
        portable: args.portable.clone(),
        user: args.user.clone(),
    };
    match Profile::select(&selection) {
        Err(profile::ProfileError::NoUser(_)) => {
            selection.user = Some(String::new());
            Profile::select(&selection)
        }
        other => other,
    }
    .map_err(|e| Failure {
        path: None,
        position: None,
        message: e.to_string(),
        hint: None,
        code: EXIT_USAGE,
    })
}

fn store_failure(error: StoreError) -> Failure {
    match error {
        StoreError::Parse { path, source } => Failure::at(&path, &source.kind)
            .position(source.line, source.column)
            .hint(
                "the file was left untouched; fix it by hand or restore a backup \
                 (Contacts.xml.<timestamp>.bak beside it; `contacts check FILE` shows every \
                 problem)",
            ),
        StoreError::MicrosipRunning { pid } => Failure {
            path: None,
            position: None,
            message: format!("MicroSIP is running (process {pid}); nothing was written"),
            hint: Some(
                "MicroSIP rewrites Contacts.xml from memory on its next contact change, which \
                 would undo this; close it first (`microsip.exe /exit`), or pass --if-running \
                 ignore"
                    .into(),
            ),
            code: EXIT_FAILURE,
        },
        StoreError::Fs(e) => Failure::at(e.path(), &e),
        StoreError::Verify { ref path, .. } => Failure::at(path, &error),
    }
}

fn print_warnings(path: &Path, warnings: &[Warning]) {
    for warning in warnings {
        if warning.line == 0 {
            eprintln!("warning: {}: {}", path.display(), warning.message);
        } else {
            eprintln!(
                "warning: {}:{}:{}: {}",
                path.display(),
                warning.line,
                warning.column,
                warning.message
            );
        }
    }
}

fn load(profile: &Profile) -> Result<store::Loaded, Failure> {
    let loaded = store::load(&store::contacts_path(profile)).map_err(store_failure)?;
    print_warnings(&loaded.path, &loaded.document.warnings());
    Ok(loaded)
}

fn list(args: &ProfileArgs, format: ListFormat) -> Result<ExitCode, Failure> {
    let profile = select(args)?;
    let loaded = load(&profile)?;
    if loaded.bytes.is_none() {
        eprintln!(
            "note: no {} yet (MicroSIP creates it with the first contact)",
            loaded.path.display()
        );
    }
    let contacts = loaded.document.contacts();
    match format {
        ListFormat::Csv => write_stdout(&exchange::write_csv(&contacts))?,
        ListFormat::Json => write_stdout(&exchange::write_json(&contacts))?,
        ListFormat::Table => {
            let mut out = String::from(
                "STAR NUMBER                   NAME                         PHONE            MOBILE           EMAIL                          FLAGS\n",
            );
            for contact in &contacts {
                let mut flags = Vec::new();
                if contact.presence {
                    flags.push("presence");
                }
                if contact.directory {
                    flags.push("directory");
                }
                let line = format!(
                    "{:<4} {:<24} {:<28} {:<16} {:<16} {:<30} {}",
                    if contact.starred { "*" } else { "" },
                    contact.number,
                    contact.display_name(),
                    contact.phone,
                    contact.mobile,
                    contact.email,
                    flags.join(",")
                );
                out.push_str(line.trim_end());
                out.push('\n');
            }
            write_stdout(out.as_bytes())?;
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|_| stdout.flush())
        .map_err(|e| Failure {
            path: None,
            position: None,
            message: format!("cannot write to standard output: {e}"),
            hint: None,
            code: EXIT_FAILURE,
        })
}

fn export(
    args: &ProfileArgs,
    format: ExportFormat,
    output: Option<&Path>,
    global: &Global,
) -> Result<ExitCode, Failure> {
    let profile = select(args)?;
    let loaded = load(&profile)?;
    let contacts = loaded.document.contacts();
    let bytes = match format {
        ExportFormat::Csv => exchange::write_csv(&contacts),
        ExportFormat::Json => exchange::write_json(&contacts),
        ExportFormat::Xml => loaded
            .bytes
            .clone()
            .unwrap_or_else(|| MICROSIP_EMPTY.as_bytes().to_vec()),
    };
    match output {
        None => write_stdout(&bytes)?,
        Some(path) => {
            atomic::write_atomic(path, &bytes, &WriteOptions::default())
                .map_err(|e| Failure::at(path, e))?;
            if !global.quiet {
                println!(
                    "exported {} contact{} to {}",
                    contacts.len(),
                    if contacts.len() == 1 { "" } else { "s" },
                    path.display()
                );
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Errors of an edit under the store's lock.
enum EditFailure {
    Store(StoreError),
    Import(ImportError),
}

impl From<StoreError> for EditFailure {
    fn from(e: StoreError) -> Self {
        EditFailure::Store(e)
    }
}

fn store_options(write: &WriteArgs) -> StoreOptions {
    StoreOptions {
        dry_run: write.dry_run,
        no_backup: write.no_backup,
        if_running: match write.if_running {
            IfRunningContacts::Fail => RunningPolicy::Fail,
            IfRunningContacts::Skip => RunningPolicy::Skip,
            IfRunningContacts::Ignore => RunningPolicy::Ignore,
        },
        microsip_exe: Some(write.microsip_exe.clone()),
        caller_holds_lock: false,
    }
}

fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::at(path, format!("cannot read standard input: {e}")))?;
        return Ok(bytes);
    }
    atomic::read_file(path)
        .map_err(|e| Failure::at(path, e))?
        .ok_or_else(|| {
            Failure::at(path, "no such file")
                .hint("check the path")
                .code(EXIT_USAGE)
        })
}

fn exchange_failure(path: &Path, error: ExchangeError) -> Failure {
    let mut failure = Failure::at(path, &error.message)
        .hint("nothing was written; fix the file and run again")
        .code(EXIT_USAGE);
    if let Some(line) = error.line {
        failure = failure.position(line, error.column.unwrap_or(1));
    }
    failure
}

fn import(args: ImportArgs, global: &Global) -> Result<ExitCode, Failure> {
    let bytes = read_input(&args.file)?;
    let format = match args.from {
        ImportFrom::Csv => Format::Csv,
        ImportFrom::Json => Format::Json,
        ImportFrom::Xml => Format::Xml,
        ImportFrom::Auto => {
            Format::from_extension(&args.file).unwrap_or_else(|| Format::sniff(&bytes))
        }
    };
    let (records, warnings) =
        exchange::read(&bytes, format).map_err(|e| exchange_failure(&args.file, e))?;
    print_warnings(&args.file, &warnings);
    let profile = select(&args.profile)?;
    let file = args.file.clone();
    let outcome = store::modify(
        &profile,
        &store_options(&args.write),
        &mut on_wait(global),
        |document: &mut ContactsDocument| {
            import_records(document, &records).map_err(EditFailure::Import)
        },
    )
    .map_err(|e| match e {
        EditFailure::Store(e) => store_failure(e),
        EditFailure::Import(e) => {
            let mut failure = Failure::at(&file, format!("{}: {}", e.location, e.source))
                .hint("nothing was written; fix the record and run again")
                .code(EXIT_USAGE);
            if let Some(line) = e.line {
                failure = failure.position(line, 1);
            }
            failure
        }
    })?;
    report(&profile, outcome, &args.write, global)
}

fn remove(
    number: &str,
    args: &ProfileArgs,
    write: &WriteArgs,
    global: &Global,
) -> Result<ExitCode, Failure> {
    let profile = select(args)?;
    let outcome = store::modify(
        &profile,
        &store_options(write),
        &mut on_wait(global),
        |document: &mut ContactsDocument| -> Result<ImportSummary, StoreError> {
            let removed = document.contacts_with_number(number);
            document.remove(number);
            Ok(ImportSummary {
                changes: removed
                    .iter()
                    .map(|c| ContactChange::Removed {
                        number: number.to_string(),
                        name: c.display_name().into_owned(),
                    })
                    .collect(),
                ..ImportSummary::default()
            })
        },
    )
    .map_err(store_failure)?;
    if let Modified::Done { value, .. } = &outcome {
        if value.changes.is_empty() {
            return Err(Failure::at(
                &store::contacts_path(&profile),
                format!("no contact has the number {number:?}"),
            )
            .hint("`contacts list` shows the numbers"));
        }
    }
    report(&profile, outcome, write, global)
}

fn on_wait(global: &Global) -> impl FnMut(&Path) {
    let quiet = global.quiet;
    move |lock: &Path| {
        if !quiet {
            eprintln!(
                "waiting for lock on {} (another microsip-provision is editing these contacts)",
                lock.display()
            );
        }
    }
}

/// Print what an edit did (a diff in a dry run, the changes otherwise) and pick the exit code.
fn report(
    profile: &Profile,
    outcome: Modified<ImportSummary>,
    write: &WriteArgs,
    global: &Global,
) -> Result<ExitCode, Failure> {
    let path = store::contacts_path(profile);
    let (summary, before, after, written) = match outcome {
        Modified::Skipped { reason } => {
            match write.format {
                ReportFormat::Json => println!(
                    "{}",
                    serde_json::json!({"path": path, "outcome": "skipped", "reason": reason})
                ),
                ReportFormat::Human => eprintln!("skipped: {}: {reason}", path.display()),
            }
            return Ok(ExitCode::from(EXIT_OK));
        }
        Modified::Done {
            value,
            before,
            after,
            written,
        } => (value, before, after, written),
    };
    let pending = before.as_deref() != Some(after.as_slice()) && summary.changed();
    let outcome = if written {
        "changed"
    } else if pending {
        "pending"
    } else {
        "unchanged"
    };
    let diff = if write.dry_run && pending {
        store::unified_diff(store::CONTACTS_FILE, before.as_deref(), &after)
    } else {
        String::new()
    };
    match write.format {
        ReportFormat::Json => {
            let json = serde_json::json!({
                "path": path,
                "outcome": outcome,
                "added": summary.added,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "removed": summary.changes.iter().filter(|c| matches!(c, ContactChange::Removed { .. })).count(),
                "changes": summary.changes,
                "diff": (!diff.is_empty()).then_some(diff),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("JSON serialises")
            );
        }
        ReportFormat::Human if !global.quiet => {
            if !diff.is_empty() {
                print!("{diff}");
            } else {
                for change in &summary.changes {
                    println!("  {}", change.describe());
                }
            }
            let removed = summary
                .changes
                .iter()
                .filter(|c| matches!(c, ContactChange::Removed { .. }))
                .count();
            let mut counts = summary.counts();
            if removed > 0 {
                counts = format!("{removed} removed");
            }
            let what = match outcome {
                "changed" => "written",
                "pending" => "dry run, nothing written",
                _ => "nothing to change",
            };
            println!("{}: {counts} ({what})", path.display());
        }
        ReportFormat::Human => {}
    }
    Ok(ExitCode::from(
        if pending && write.dry_run && write.exit_code {
            EXIT_PENDING
        } else {
            EXIT_OK
        },
    ))
}

fn check(files: &[PathBuf], global: &Global) -> Result<ExitCode, Failure> {
    let mut failed = 0usize;
    for path in files {
        let outcome = (|| -> Result<(), Failure> {
            let bytes = atomic::read_file(path)
                .map_err(|e| Failure::at(path, e))?
                .ok_or_else(|| Failure::at(path, "no such file"))?;
            let document = ContactsDocument::parse(&bytes).map_err(|e| {
                store_failure(StoreError::Parse {
                    path: path.clone(),
                    source: e,
                })
            })?;
            if document.to_bytes() != bytes {
                return Err(Failure::at(
                    path,
                    "does not round-trip byte for byte (a bug: please report it)",
                ));
            }
            print_warnings(path, &document.warnings());
            if !global.quiet {
                let n = document.len();
                let w = document.warnings().len();
                println!(
                    "ok: {} ({n} contact{}, {} bytes round-trip, {w} warning{})",
                    path.display(),
                    if n == 1 { "" } else { "s" },
                    bytes.len(),
                    if w == 1 { "" } else { "s" }
                );
            }
            Ok(())
        })();
        if let Err(failure) = outcome {
            failure.print();
            failed += 1;
        }
    }
    Ok(ExitCode::from(if failed == 0 {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }))
}
