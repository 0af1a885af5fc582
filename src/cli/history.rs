//! `history ...` verbs (being written).

use std::process::ExitCode;

use clap::Subcommand;

use super::{Failure, Global};

/// The `history` verbs.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Not yet implemented.
    Placeholder,
}

/// Run one `history` verb.
pub fn run(command: HistoryCommand, global: &Global) -> Result<ExitCode, Failure> {
    let _ = (command, global);
    Err(Failure {
        path: None,
        position: None,
        message: "not implemented yet".into(),
        hint: None,
        code: super::EXIT_FAILURE,
    })
}
