//! `microsip-provision completions SHELL` and `microsip-provision man`: shell completions and a
//! roff man page, both generated from the clap definitions so they never drift from the CLI.
//!
//! The man page is one page for the whole tool: the top-level synopsis, options, verbs and exit
//! codes (clap_mangen), followed by one section per verb (nested verbs such as `ini get`
//! included) with its usage, description, options and examples.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, Failure, EXIT_OK};

/// The name completions are registered for (the binary's name, without `.exe`).
const BIN_NAME: &str = "microsip-provision";

/// Write generated text to stdout; a closed pipe (`| head`) is not an error.
fn emit(bytes: &[u8]) -> Result<ExitCode, Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::from(EXIT_OK)),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::from(EXIT_OK)),
        Err(e) => Err(Failure {
            path: None,
            position: None,
            message: format!("cannot write to standard output: {e}"),
            hint: None,
            code: super::EXIT_FAILURE,
        }),
    }
}

/// `completions SHELL`: the completion script for `shell` on stdout.
pub fn completions(shell: Shell) -> Result<ExitCode, Failure> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, BIN_NAME, &mut script);
    emit(&script)
}

/// `man`: the man page (roff) on stdout.
pub fn man() -> Result<ExitCode, Failure> {
    let mut command = Cli::command();
    command.build();
    let mut page = Vec::new();
    render_man(&command, &mut page).expect("writing to memory cannot fail");
    emit(&page)
}

/// The whole page: clap_mangen's page for the tool, then a section per verb.
fn render_man(command: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let top = clap_mangen::Man::new(command.clone());
    top.render_title(out)?;
    top.render_name_section(out)?;
    top.render_synopsis_section(out)?;
    top.render_description_section(out)?;
    top.render_options_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    render_verb_list(command, BIN_NAME, out)?;
    top.render_extra_section(out)?;
    let mut verbs = Vec::new();
    collect_verbs(command, BIN_NAME, &mut verbs);
    for (path, verb) in verbs {
        render_verb(&path, verb, out)?;
    }
    top.render_version_section(out)?;
    Ok(())
}

/// Every verb below `command`, depth first, with its full name (`microsip-provision ini get`).
fn collect_verbs<'a>(
    command: &'a clap::Command,
    prefix: &str,
    verbs: &mut Vec<(String, &'a clap::Command)>,
) {
    for verb in command.get_subcommands() {
        if verb.is_hide_set() || verb.get_name() == "help" {
            continue;
        }
        let path = format!("{prefix} {}", verb.get_name());
        verbs.push((path.clone(), verb));
        collect_verbs(verb, &path, verbs);
    }
}

/// Roff-escape a heading's text.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('-', "\\-")
}

/// One verb: a `.SH` heading with the verb's full name; clap_mangen's own sections for it
/// become `.SS` subsections, so the page keeps one level of headings per verb.
fn render_verb(path: &str, verb: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    // After `Command::build`, a verb's bin name is its full path, which its synopsis shows.
    let man = clap_mangen::Man::new(verb.clone());
    let mut body = Vec::new();
    man.render_synopsis_section(&mut body)?;
    man.render_description_section(&mut body)?;
    if verb.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut body)?;
    }
    if verb.has_subcommands() {
        writeln!(body, ".SH COMMANDS")?;
        render_verb_list(verb, path, &mut body)?;
    }
    if verb.get_after_help().is_some() || verb.get_after_long_help().is_some() {
        man.render_extra_section(&mut body)?;
    }
    writeln!(out, ".SH \"{}\"", escape(&path.to_uppercase()))?;
    let body = String::from_utf8_lossy(&body);
    for line in body.lines() {
        match line.strip_prefix(".SH ") {
            Some(heading) => writeln!(out, ".SS {heading}")?,
            None => writeln!(out, "{line}")?,
        }
    }
    Ok(())
}

/// The verbs directly below `command`, each with its one-line description. (clap_mangen's own
/// list points at one page per verb; this page holds them all, as sections.)
fn render_verb_list(
    command: &clap::Command,
    prefix: &str,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    for verb in command.get_subcommands() {
        if verb.is_hide_set() || verb.get_name() == "help" {
            continue;
        }
        writeln!(
            out,
            ".TP\n\\fB{} {}\\fR",
            escape(prefix),
            escape(verb.get_name())
        )?;
        let about = verb.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(out, "{}", text(&about))?;
    }
    Ok(())
}

/// Roff-escape running text: backslashes, hyphens, and a control character at a line start.
fn text(text: &str) -> String {
    escape(text)
        .lines()
        .map(|line| {
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
