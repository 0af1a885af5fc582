//! `contacts ...` verbs (being written).

use std::process::ExitCode;

use clap::Subcommand;

use super::{Failure, Global};

/// The `contacts` verbs.
#[derive(Debug, Subcommand)]
pub enum ContactsCommand {
    /// Not yet implemented.
    Placeholder,
}

/// Run one `contacts` verb.
pub fn run(command: ContactsCommand, global: &Global) -> Result<ExitCode, Failure> {
    let _ = (command, global);
    Err(Failure {
        path: None,
        position: None,
        message: "not implemented yet".into(),
        hint: None,
        code: super::EXIT_FAILURE,
    })
}
