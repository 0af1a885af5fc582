//! The one integration test binary (ripgrep's model): every module below drives the real library
//! or the real `microsip-provision` binary on real files in temp folders.

mod atomic;
mod common;
mod company;
mod contacts;
mod deploy;
mod discovery;
mod fleet;
mod history;
mod ini_cli;
mod ini_golden;
mod ini_props;
mod manifest;
mod merge;
mod oracle;
mod provision_cli;
mod registry;
mod render;
mod summarize;
mod target;
