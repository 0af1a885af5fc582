//! `microsip-provision`: provision the MicroSIP softphone across a fleet of Windows users.
//!
//! The data flow is visible in the module names: a `manifest` is rendered per user (`render`)
//! into INI fragments, merged into the user's `profile` through the lossless [`ini`] engine,
//! shown as a `plan`, written by [`apply`], and summarised by a `report`. [`keys`] is the one
//! table of MicroSIP's keys that every other module reads from.
//!
//! The binary (`src/main.rs`, `src/cli.rs`) is a thin layer over this library.

pub mod apply;
pub mod contacts;
pub mod history;
pub mod ini;
pub mod keys;
pub mod manifest;
pub mod plan;
pub mod profile;
pub mod registry;
pub mod render;
pub mod report;
