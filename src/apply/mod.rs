//! Applying changes to disk safely: atomic replacement of a file (temp file in the same folder,
//! fsync, rename; `ReplaceFileW` on Windows so the ACL and owner survive), refusal to follow a
//! planted symlink or reparse point, no write when the bytes are unchanged, and a sidecar lock so
//! that concurrent read-modify-write cycles by this tool never lose an update.

pub mod atomic;
pub mod lock;
