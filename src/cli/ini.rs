//! `microsip-provision ini …`: read and edit one INI file with Win32 semantics, losslessly.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use microsip_provision::apply::atomic::{self, Fingerprint, WriteOptions, WriteOutcome};
use microsip_provision::apply::lock;
use microsip_provision::ini::{CodePage, DecodeError, EditError, Encoding, IniDocument};

use super::{Failure, Global, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// How long an edit waits for another microsip-provision holding the same file.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The `ini` verbs.
#[derive(Debug, Subcommand)]
pub enum IniCommand {
    /// Print a value as GetPrivateProfileStringW returns it (exit 1, no output, when absent).
    #[command(
        after_help = "Example:\n  microsip-provision ini get microsip.ini Settings accountId"
    )]
    Get {
        /// The INI file.
        file: PathBuf,
        /// Section name (case-insensitive).
        section: String,
        /// Key name (case-insensitive).
        key: String,
    },
    /// Set a value in place (creating the file or section as needed); unchanged files are not
    /// rewritten.
    #[command(
        after_help = "Example:\n  microsip-provision ini set microsip.ini Account1 server pbx.example.com"
    )]
    Set {
        /// The INI file (created as UTF-16LE with BOM and CRLF when missing).
        file: PathBuf,
        /// Section name.
        section: String,
        /// Key name.
        key: String,
        /// The value, exactly as MicroSIP should read it back.
        value: String,
        /// Convert an ANSI file to UTF-16LE when the value does not fit its code page.
        #[arg(long)]
        convert: bool,
    },
    /// Delete a key, or a whole section when no key is given.
    #[command(
        after_help = "Examples:\n  microsip-provision ini del microsip.ini Settings callsLastKey\n  microsip-provision ini del microsip.ini Calls"
    )]
    Del {
        /// The INI file.
        file: PathBuf,
        /// Section name.
        section: String,
        /// Key name; without it the whole section goes.
        key: Option<String>,
    },
    /// Print the Windows-visible view: each section once, each key once, values as read.
    #[command(after_help = "Example:\n  microsip-provision ini dump microsip.ini --format json")]
    Dump {
        /// The INI file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DumpFormat::Text)]
        format: DumpFormat,
    },
    /// Verify the byte-exact round trip and print lints (warnings); exit 1 if any file fails.
    #[command(after_help = "Example:\n  microsip-provision ini check profiles/*/microsip.ini")]
    Check {
        /// The INI files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Rewrite a file as UTF-16LE with BOM, on purpose (repairs UTF-8/UTF-16BE BOMs).
    #[command(
        after_help = "Examples:\n  microsip-provision ini convert microsip.ini\n  microsip-provision ini convert --from utf-8 microsip.ini"
    )]
    Convert {
        /// The INI file.
        file: PathBuf,
        /// What the file really is: auto (a UTF-8 or UTF-16BE BOM is followed, otherwise the
        /// ANSI code page), ansi, or utf-8 (a UTF-8 file without BOM).
        #[arg(long, value_enum, default_value_t = ConvertFrom::Auto)]
        from: ConvertFrom,
        /// Say what would happen, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `ini dump` output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DumpFormat {
    /// A readable listing.
    Text,
    /// `{"encoding", "newline", "sections": [{"name", "keys": [{"name", "value"}]}]}`.
    Json,
}

/// `ini convert --from`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ConvertFrom {
    /// Follow a UTF-8 or UTF-16BE BOM; otherwise the ANSI code page.
    Auto,
    /// The ANSI code page (`--ansi-codepage`).
    Ansi,
    /// UTF-8 (with or without BOM).
    #[value(name = "utf-8")]
    Utf8,
}

/// Run one `ini` verb.
pub fn run(command: IniCommand, global: &Global) -> Result<ExitCode, Failure> {
    match command {
        IniCommand::Get { file, section, key } => {
            let document = load(&file, global.ansi)?;
            match document.get(&section, &key) {
                Some(value) => {
                    println!("{value}");
                    Ok(ExitCode::from(EXIT_OK))
                }
                None => Ok(ExitCode::from(EXIT_FAILURE)),
            }
        }
        IniCommand::Set {
            file,
            section,
            key,
            value,
            convert,
        } => {
            modify(&file, global.ansi, true, |document| {
                match document.set(&section, &key, &value) {
                    Err(EditError::Unrepresentable(_)) if convert => {
                        document.convert_to_utf16le();
                        document.set(&section, &key, &value).map(|_| ())
                    }
                    result => result.map(|_| ()),
                }
                .map_err(|e| edit_failure(&file, e))
            })?;
            Ok(ExitCode::from(EXIT_OK))
        }
        IniCommand::Del { file, section, key } => {
            modify(&file, global.ansi, false, |document| {
                match &key {
                    Some(key) => document.remove_key(&section, key),
                    None => document.remove_section(&section),
                };
                Ok(())
            })?;
            Ok(ExitCode::from(EXIT_OK))
        }
        IniCommand::Dump { file, format } => {
            let document = load(&file, global.ansi)?;
            let view = document.view();
            match format {
                DumpFormat::Json => {
                    let json = serde_json::to_string_pretty(&view).expect("views serialise");
                    println!("{json}");
                }
                DumpFormat::Text => {
                    println!("; encoding: {}, newline: {}", view.encoding, view.newline);
                    for section in &view.sections {
                        println!("[{}]", section.name);
                        for key in &section.keys {
                            println!("{}={}", key.name, key.value);
                        }
                    }
                }
            }
            Ok(ExitCode::from(EXIT_OK))
        }
        IniCommand::Check { files } => check(&files, global),
        IniCommand::Convert {
            file,
            from,
            dry_run,
        } => convert(&file, from, dry_run, global),
    }
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, Failure> {
    atomic::read_file(path)
        .map_err(|e| Failure::at(path, e).hint("check the path and that you may read the file"))
}

fn decode_failure(path: &Path, error: DecodeError) -> Failure {
    Failure::at(path, format!("cannot decode: {}", error.what))
        .position(error.line, error.column)
        .hint(
            "the file was left untouched; MicroSIP's files are UTF-16LE with BOM, or ANSI \
             (choose the code page with --ansi-codepage)",
        )
}

fn edit_failure(path: &Path, error: EditError) -> Failure {
    let hint = match &error {
        EditError::Unrepresentable(_) => {
            "pass --convert to rewrite the file as UTF-16LE, or choose another value"
        }
        _ => "choose another name or value; the file was left untouched",
    };
    Failure::at(path, error).hint(hint).code(EXIT_USAGE)
}

fn load(path: &Path, ansi: CodePage) -> Result<IniDocument, Failure> {
    let bytes = read(path)?.ok_or_else(|| {
        Failure::at(path, "no such file")
            .hint("check the path (MicroSIP keeps it in %APPDATA%\\MicroSIP)")
    })?;
    IniDocument::parse(&bytes, ansi).map_err(|e| decode_failure(path, e))
}

/// Read-modify-write under the file's lock: the edit sees the current bytes, and the write is
/// atomic and skipped when nothing changed (mtime kept).
fn modify(
    path: &Path,
    ansi: CodePage,
    create: bool,
    edit: impl FnOnce(&mut IniDocument) -> Result<(), Failure>,
) -> Result<WriteOutcome, Failure> {
    let _guard = lock::lock_for(path, LOCK_WAIT, &mut |lock_path| {
        eprintln!(
            "waiting for lock on {} (another microsip-provision is editing this file)",
            lock_path.display()
        );
    })
    .map_err(|e| Failure::at(path, e))?;
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        // A crash of an earlier run may have left a temp file; we hold the lock, so it is stale.
        let _ = atomic::clean_stale_temps(dir, &name.to_string_lossy());
    }
    let original = read(path)?;
    let mut document = match &original {
        Some(bytes) => IniDocument::parse(bytes, ansi).map_err(|e| decode_failure(path, e))?,
        None if create => IniDocument::new(),
        None => {
            return Err(Failure::at(path, "no such file").hint("check the path"));
        }
    };
    edit(&mut document)?;
    let bytes = document.to_bytes();
    if original.as_deref() == Some(bytes.as_slice()) {
        return Ok(WriteOutcome::Unchanged);
    }
    let options = WriteOptions {
        if_unchanged_since: original.as_deref().map(Fingerprint::of),
        ..WriteOptions::default()
    };
    atomic::write_atomic(path, &bytes, &options).map_err(|e| Failure::at(path, e))
}

fn check(files: &[PathBuf], global: &Global) -> Result<ExitCode, Failure> {
    let mut failed = 0usize;
    for path in files {
        let outcome = (|| -> Result<(), Failure> {
            let bytes = read(path)?.ok_or_else(|| Failure::at(path, "no such file"))?;
            let document =
                IniDocument::parse(&bytes, global.ansi).map_err(|e| decode_failure(path, e))?;
            if document.to_bytes() != bytes {
                return Err(Failure::at(
                    path,
                    "does not round-trip byte for byte (a bug: please report it)",
                ));
            }
            let lints = document.lints();
            for lint in &lints {
                eprintln!(
                    "warning: {}:{}:{}: {}",
                    path.display(),
                    lint.line,
                    lint.column,
                    lint.message
                );
            }
            if !global.quiet {
                println!(
                    "ok: {} ({}, {} bytes round-trip, {} warning{})",
                    path.display(),
                    match document.encoding() {
                        Encoding::Utf16Le => "UTF-16LE".to_string(),
                        Encoding::Ansi(page) => format!("ANSI code page {page}"),
                    },
                    bytes.len(),
                    lints.len(),
                    if lints.len() == 1 { "" } else { "s" }
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

fn convert(
    path: &Path,
    from: ConvertFrom,
    dry_run: bool,
    global: &Global,
) -> Result<ExitCode, Failure> {
    let bytes = read(path)?.ok_or_else(|| Failure::at(path, "no such file"))?;
    let mut document = if from == ConvertFrom::Auto {
        match IniDocument::repair_foreign_bom(&bytes).map_err(|e| decode_failure(path, e))? {
            Some(repaired) => repaired,
            None => IniDocument::parse(&bytes, global.ansi).map_err(|e| decode_failure(path, e))?,
        }
    } else {
        let page = match from {
            ConvertFrom::Utf8 => CodePage::UTF8,
            _ => global.ansi,
        };
        let body = if from == ConvertFrom::Utf8 {
            bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(&bytes)
        } else {
            &bytes
        };
        IniDocument::parse(body, page).map_err(|e| decode_failure(path, e))?
    };
    if bytes.starts_with(&[0xFF, 0xFE]) {
        if !global.quiet {
            println!(
                "{}: already UTF-16LE with BOM; nothing to do",
                path.display()
            );
        }
        return Ok(ExitCode::from(EXIT_OK));
    }
    document.convert_to_utf16le();
    if dry_run {
        println!(
            "{}: would rewrite as UTF-16LE with BOM (dry run)",
            path.display()
        );
        return Ok(ExitCode::from(EXIT_OK));
    }
    let new_bytes = document.to_bytes();
    let _guard = lock::lock_for(path, LOCK_WAIT, &mut |lock_path| {
        eprintln!("waiting for lock on {}", lock_path.display());
    })
    .map_err(|e| Failure::at(path, e))?;
    let options = WriteOptions {
        if_unchanged_since: Some(Fingerprint::of(&bytes)),
        ..WriteOptions::default()
    };
    atomic::write_atomic(path, &new_bytes, &options).map_err(|e| Failure::at(path, e))?;
    if !global.quiet {
        println!("{}: rewritten as UTF-16LE with BOM", path.display());
    }
    Ok(ExitCode::from(EXIT_OK))
}
