//! The `microsip-provision` binary: a thin layer over the library (ripgrep's model).
//!
//! It parses the command line (`cli`), runs one verb, prints errors as
//! `error: <path>:<line>:<column>: <what>` followed by a hint, and maps outcomes to the exit codes
//! documented in the README: 0 success, 1 failure, 2 usage or invalid input, 3 changes pending.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let args = cli::Cli::parse_args();
    match cli::run(args) {
        Ok(code) => code,
        Err(failure) => {
            failure.print();
            failure.exit_code().into()
        }
    }
}

/// `microsip-provision plan … | head` must end quietly when the reader goes away, as ripgrep does:
/// Rust ignores SIGPIPE, so `println!` panics with "Broken pipe"; exit 0 instead of a backtrace.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") || message.contains("os error 232") {
            std::process::exit(0);
        }
        default(info);
    }));
}
