//! The `microsip-provision` binary: a thin layer over the library (ripgrep's model).
//!
//! It parses the command line (`cli`), runs one verb, prints errors as
//! `error: <path>:<line>:<column>: <what>` followed by a hint, and maps outcomes to the exit codes
//! documented in the README: 0 success, 1 failure, 2 usage or invalid input, 3 changes pending.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(failure) => {
            failure.print();
            failure.exit_code().into()
        }
    }
}
