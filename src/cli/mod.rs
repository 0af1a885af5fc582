//! The command line: clap definitions, the verbs' dispatch, and errors turned into prose.
//!
//! Every flag can also come from a `MICROSIP_PROVISION_*` environment variable, so a Group
//! Policy logon script can configure the tool without a long command line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser, Subcommand};
use microsip_provision::ini::CodePage;

mod account;
mod completions;
mod contacts;
mod history;
mod ini;
mod provision;
mod report;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: a failure (a file could not be read or written, a check failed, a key is absent).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: usage error or invalid input (clap also uses 2).
pub const EXIT_USAGE: u8 = 2;

/// Provision the MicroSIP softphone: lossless edits of its UTF-16 `microsip.ini`.
#[derive(Debug, Parser)]
#[command(
    name = "microsip-provision",
    version,
    about,
    after_help = "Exit codes: 0 success, 1 failure, 2 usage or invalid input, 3 changes pending.\n\
                  Example:\n  microsip-provision ini dump examples/profiles/alice/AppData/Roaming/MicroSIP/microsip.ini"
)]
pub struct Cli {
    /// The options every verb takes.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// The verb to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The options every verb takes, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// ANSI code page for INI files without a UTF-16LE BOM (Windows' GetACP; 65001 = UTF-8).
    #[arg(
        long,
        global = true,
        default_value = "1252",
        env = "MICROSIP_PROVISION_ANSI_CODEPAGE",
        value_parser = parse_codepage
    )]
    pub ansi_codepage: CodePage,

    /// Print nothing but errors.
    #[arg(long, short, global = true, env = "MICROSIP_PROVISION_QUIET", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub quiet: bool,
}

impl Cli {
    /// Parse the process's command line.
    ///
    /// `apply` and `plan`, which a logon script and a fleet run call over and over, build
    /// clap's parser for their own verb only: building the whole tree of verbs takes about
    /// 0.4 ms, a quarter of a logon run's start. Any other verb, and anything the short way does
    /// not take as it is (help, version, a usage error), goes the whole way, so help and error
    /// messages are exactly clap's; a test holds both ways to the same result.
    pub fn parse_args() -> Cli {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        Cli::parse_provisioning(&args).unwrap_or_else(|| Cli::parse_from(args))
    }

    /// [`Cli::parse_args`]'s short way: `None` when it does not apply or does not parse.
    fn parse_provisioning(args: &[std::ffi::OsString]) -> Option<Cli> {
        use clap::{Args, FromArgMatches};
        let (verb, augment): (&'static str, fn(clap::Command) -> clap::Command) =
            match args.get(1)?.to_str()? {
                "apply" => ("apply", provision::ApplyArgs::augment_args),
                "plan" => ("plan", provision::PlanArgs::augment_args),
                _ => return None,
            };
        let asks_for_help = args[2..].iter().any(|arg| {
            matches!(
                arg.to_str(),
                None | Some("-h" | "--help" | "-V" | "--version" | "help")
            )
        });
        if asks_for_help {
            return None;
        }
        let command = GlobalArgs::augment_args(clap::Command::new("microsip-provision"))
            .subcommand(augment(clap::Command::new(verb)));
        let matches = command.try_get_matches_from(args).ok()?;
        Cli::from_arg_matches(&matches).ok()
    }
}

fn parse_codepage(text: &str) -> Result<CodePage, String> {
    text.parse::<CodePage>().map_err(|e| e.to_string())
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a manifest and its templates for every user (exit 0 valid, 2 invalid).
    #[command(
        after_help = "Example:\n  microsip-provision validate examples/fleet.toml --format github"
    )]
    Validate(provision::ValidateArgs),
    /// Show what `apply` would change in one profile, as a diff (passwords redacted).
    #[command(
        after_help = "Example:\n  microsip-provision plan examples/fleet.toml --profile examples/profiles/bob/AppData/Roaming/MicroSIP\n\nWith --exit-code: 0 in line, 3 changes pending, 1 failure, 2 invalid manifest."
    )]
    Plan(provision::PlanArgs),
    /// Merge the manifest into one profile: locked, backed up, atomic, verified.
    #[command(
        after_help = "Example (a Group Policy logon script):\n  microsip-provision apply \\\\corp\\netlogon\\microsip\\fleet.toml --quiet --log-file \"%LOCALAPPDATA%\\microsip-provision.log\""
    )]
    Apply(provision::ApplyArgs),
    /// Add, list or remove single accounts (helpdesk), through the same merge rules.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Read, export and import MicroSIP's Contacts.xml, losslessly.
    #[command(subcommand)]
    Contacts(contacts::ContactsCommand),
    /// Export, import, prune and migrate call history ([Calls] and call_log.db).
    #[command(subcommand)]
    History(history::HistoryCommand),
    /// Registry settings (autostart, URL protocols) as a .reg file.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Print the manifest's JSON Schema (for editors).
    #[command(
        after_help = "Example:\n  microsip-provision schema > microsip-provision.schema.json"
    )]
    Schema,
    /// Read and edit INI files exactly as the Win32 profile API reads them, without loss.
    #[command(subcommand)]
    Ini(ini::IniCommand),
    /// Fold the JSON Lines reports of many machines or logons into a fleet view per user.
    #[command(
        subcommand,
        after_help = "Example:\n  microsip-provision report summarize \\\\fs01\\microsip-reports$ --format json"
    )]
    Report(report::ReportCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(
        after_help = "Examples:\n  microsip-provision completions bash > /etc/bash_completion.d/microsip-provision\n  microsip-provision completions powershell >> $PROFILE"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) for the tool and every verb.
    #[command(
        after_help = "Example:\n  microsip-provision man > /usr/local/share/man/man1/microsip-provision.1"
    )]
    Man,
}

/// The `registry` verbs.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Write the manifest's [registry] settings as a .reg file (UTF-16LE, for GPP or reg import).
    #[command(
        after_help = "Example:\n  microsip-provision registry export fleet.toml --exe \"C:\\Program Files\\MicroSIP\\microsip.exe\" -o microsip.reg"
    )]
    Export {
        /// The manifest.
        manifest: PathBuf,
        /// MicroSIP's executable (default: the manifest's, else C:\Program Files\MicroSIP\microsip.exe).
        #[arg(long)]
        exe: Option<String>,
        /// Output file (default: stdout).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let global = Global {
        ansi: cli.global.ansi_codepage,
        quiet: cli.global.quiet,
    };
    match cli.command {
        Command::Validate(args) => provision::validate(args, &global),
        Command::Plan(args) => provision::plan(args, &global),
        Command::Apply(args) => provision::apply(args, &global),
        Command::Account(command) => account::run(command, &global),
        Command::Contacts(command) => contacts::run(command, &global),
        Command::History(command) => history::run(command, &global),
        Command::Registry(RegistryCommand::Export {
            manifest,
            exe,
            output,
        }) => provision::registry_export(&manifest, exe, output.as_deref()),
        Command::Schema => provision::schema(),
        Command::Ini(command) => ini::run(command, &global),
        Command::Report(command) => report::run(command, &global),
        Command::Completions { shell } => completions::completions(shell),
        Command::Man => completions::man(),
    }
}

/// Options every verb sees.
#[derive(Debug, Clone)]
pub struct Global {
    /// Code page for ANSI INI files.
    pub ansi: CodePage,
    /// `--quiet`.
    pub quiet: bool,
}

/// An error on its way to the user: what, where, and what to do.
#[derive(Debug)]
pub struct Failure {
    /// The file concerned, if any.
    pub path: Option<PathBuf>,
    /// 1-based line and column in that file, if known.
    pub position: Option<(usize, usize)>,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The exit code.
    pub code: u8,
}

impl Failure {
    /// A failure (exit 1) concerning `path`.
    pub fn at(path: &Path, message: impl fmt::Display) -> Failure {
        Failure {
            path: Some(path.to_path_buf()),
            position: None,
            message: message.to_string(),
            hint: None,
            code: EXIT_FAILURE,
        }
    }

    /// Add a line and column.
    pub fn position(mut self, line: usize, column: usize) -> Failure {
        self.position = Some((line, column));
        self
    }

    /// Add a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// Change the exit code.
    pub fn code(mut self, code: u8) -> Failure {
        self.code = code;
        self
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// Print to stderr as `error: <path>:<line>:<column>: <what>` plus `hint: ...`.
    pub fn print(&self) {
        eprintln!("{self}");
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: ")?;
        microsip_provision::report::write_location(f, self.path.as_deref(), self.position)?;
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &[&str]) -> Vec<std::ffi::OsString> {
        std::iter::once("microsip-provision")
            .chain(line.iter().copied())
            .map(Into::into)
            .collect()
    }

    /// The short way reads `apply` and `plan` exactly as the whole parser does, and steps
    /// aside for everything else.
    #[test]
    fn provisioning_verbs_parse_the_same_the_short_way() {
        let lines: &[&[&str]] = &[
            &["apply", "fleet.toml"],
            &["apply", "fleet.toml", "--quiet", "--log-file", "x.log"],
            &[
                "apply",
                "fleet.toml",
                "--profiles-root",
                "/srv/p",
                "--jobs",
                "4",
                "--strict",
            ],
            &[
                "apply",
                "fleet.toml",
                "--dry-run",
                "--no-backup",
                "--if-running",
                "ignore",
            ],
            &[
                "apply",
                "fleet.toml",
                "--ansi-codepage",
                "65001",
                "--format",
                "json",
            ],
            &[
                "plan",
                "fleet.toml",
                "--exit-code",
                "--report",
                "r.jsonl",
                "-q",
            ],
            &[
                "plan",
                "fleet.toml",
                "--profile",
                "dir",
                "--layout",
                "{user}/MicroSIP",
            ],
        ];
        for line in lines {
            let short = Cli::parse_provisioning(&args(line)).expect("the short way takes it");
            let whole = Cli::try_parse_from(args(line)).unwrap();
            assert_eq!(format!("{short:?}"), format!("{whole:?}"), "{line:?}");
        }
        let aside: &[&[&str]] = &[
            &["apply", "--help"],
            &["plan", "-h"],
            &["apply", "fleet.toml", "--no-such-flag"],
            &["--quiet", "apply", "fleet.toml"],
            &["validate", "fleet.toml"],
            &["ini", "dump", "microsip.ini"],
        ];
        for line in aside {
            assert!(Cli::parse_provisioning(&args(line)).is_none(), "{line:?}");
        }
    }
}
