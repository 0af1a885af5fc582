//! The deployment recipes of `examples/deploy/` (issue 7), tested as far as this machine
//! allows, and the generated shell completions and man page.
//!
//! Every call of the tool in every recipe (the logon scripts, the Intune pair, the playbook's
//! `argv` lists, the workflow's `run` scripts, the code blocks of the README) is found by a
//! small tokenizer per language and checked against the real CLI: the verb exists and every
//! flag is one that `microsip-provision <verb> --help` lists, with a value among the listed ones.
//! The calls are then *run*, with the real binary, on temp copies of the example profiles: the
//! scripts' variables are given the values the scripts' own assignments give them (a tiny
//! interpreter of `set "X=..."` and `$X = Join-Path ...`), with the production shares pointed at
//! temp folders, and what the surrounding script relies on is asserted (exit codes, the JSON it
//! parses, the log lines it copies). PowerShell cannot be installed here, so the `.ps1` files get
//! a structural parse (brackets, strings, here-strings, comments); the `.cmd` gets its `goto`
//! targets, parentheses and quotes checked, and under Wine (the Windows CI stage) it runs for
//! real through Wine's `cmd.exe`. The YAML files are parsed and their keys checked.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::bin;
use crate::common::{copy_dir, examples_dir};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("deploy")
}

fn recipe(name: &str) -> String {
    let path = deploy_dir().join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(name: &str) -> Value {
    serde_saphyr::from_str::<Value>(&recipe(name))
        .unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

fn text_of(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("temp paths are UTF-8").to_string()
}

// ---------------------------------------------------------------------------------------------
// The CLI as `--help` describes it.

#[derive(Debug, Clone, Default)]
struct FlagHelp {
    takes_value: bool,
    values: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct VerbHelp {
    flags: HashMap<String, FlagHelp>,
    verbs: Vec<String>,
}

/// `microsip-provision <path> --help`, parsed: the flags (with their possible values) and the
/// verbs below this one.
#[derive(Default)]
struct CliHelp {
    cache: HashMap<Vec<String>, VerbHelp>,
}

impl CliHelp {
    fn get(&mut self, path: &[String]) -> VerbHelp {
        if let Some(help) = self.cache.get(path) {
            return help.clone();
        }
        let output = bin().args(path).arg("--help").output().unwrap();
        assert!(
            output.status.success(),
            "{path:?} --help: {}",
            text_of(&output)
        );
        let help = parse_help(&String::from_utf8(output.stdout).unwrap());
        self.cache.insert(path.to_vec(), help.clone());
        help
    }
}

fn parse_help(text: &str) -> VerbHelp {
    let mut help = VerbHelp::default();
    let mut section = "";
    // The spellings of the flag whose description is being read (`-j`, `--jobs`).
    let mut current: Vec<String> = Vec::new();
    let mut in_values = false;
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line.trim_end_matches(':');
            current.clear();
            continue;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match section {
            "Commands" if indent == 2 => {
                if let Some(name) = trimmed.split_whitespace().next() {
                    help.verbs.push(name.to_string());
                }
            }
            "Options" => {
                let first = trimmed.split_whitespace().next().unwrap_or("");
                let is_flag = first.starts_with("--")
                    || (first.len() == 3 && first.starts_with('-') && first.ends_with(','));
                if is_flag && indent <= 6 {
                    let mut flag = FlagHelp::default();
                    current.clear();
                    for token in trimmed.split_whitespace() {
                        let token = token.trim_end_matches(',');
                        if token.starts_with("--") || (token.len() == 2 && token.starts_with('-')) {
                            current.push(token.to_string());
                        } else {
                            flag.takes_value = token.starts_with('<');
                            break;
                        }
                    }
                    for name in &current {
                        help.flags.insert(name.clone(), flag.clone());
                    }
                    in_values = false;
                } else if !current.is_empty() {
                    let mut values = Vec::new();
                    if trimmed == "Possible values:" {
                        in_values = true;
                    } else if in_values && trimmed.starts_with("- ") {
                        values.push(trimmed[2..].split(':').next().unwrap().trim().to_string());
                    } else if let Some(start) = trimmed.find("[possible values: ") {
                        let list = trimmed[start + 18..].split(']').next().unwrap();
                        values.extend(list.split(',').map(|v| v.trim().to_string()));
                    }
                    for name in &current {
                        let flag = help.flags.get_mut(name).unwrap();
                        flag.values.extend(values.iter().cloned());
                    }
                }
            }
            _ => {}
        }
    }
    help
}

// ---------------------------------------------------------------------------------------------
// Finding the tool's invocations in scripts, YAML and Markdown.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    /// cmd.exe batch files.
    Cmd,
    /// PowerShell.
    PowerShell,
    /// POSIX shell (workflow `run` scripts, README `sh` blocks).
    Shell,
}

#[derive(Debug, Clone)]
struct Token {
    text: String,
    /// An operator outside quotes (`|`, `>>`, `&`, `(`, ...): it ends a command.
    op: bool,
}

/// One call of the tool: where, and its arguments after the executable (quotes removed,
/// variables not yet substituted).
#[derive(Debug, Clone)]
struct Invocation {
    origin: String,
    args: Vec<String>,
}

impl Invocation {
    fn verb(&self) -> &str {
        self.args.first().map(String::as_str).unwrap_or("")
    }
}

/// Blank out `<# ... #>` (keeping the newlines, so line numbers stay right).
fn strip_block_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<#") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("#>")
            .map_or(rest.len(), |e| start + e + 2);
        out.extend(
            rest[start..end]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' }),
        );
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Lines joined at their continuations (`^`, backtick, backslash), comments left out; each
/// with the number of its first line.
fn logical_lines(text: &str, lang: Lang) -> Vec<(usize, String)> {
    let text = if lang == Lang::PowerShell {
        strip_block_comments(text)
    } else {
        text.to_string()
    };
    let continuation = match lang {
        Lang::Cmd => '^',
        Lang::PowerShell => '`',
        Lang::Shell => '\\',
    };
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lower = line.trim_start().to_ascii_lowercase();
        if lang == Lang::Cmd
            && pending.is_none()
            && (lower == "rem" || lower.starts_with("rem ") || lower.starts_with("::"))
        {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        let trimmed = line.trim_end();
        if let Some(body) = trimmed.strip_suffix(continuation) {
            joined.push_str(body);
            joined.push(' ');
            pending = Some((start, joined));
        } else {
            joined.push_str(line);
            out.push((start, joined));
        }
    }
    if let Some(p) = pending {
        out.push(p);
    }
    out
}

/// Characters that end a word and start an operator outside quotes, per language.
fn is_operator(c: char, lang: Lang) -> bool {
    match lang {
        Lang::Cmd => matches!(c, '>' | '<' | '|' | '&' | '(' | ')'),
        Lang::PowerShell => matches!(c, '>' | '<' | '|' | '&' | ';' | '(' | ')' | '{' | '}'),
        Lang::Shell => matches!(c, '>' | '<' | '|' | '&' | ';' | '(' | ')'),
    }
}

/// Split one logical line into words (quotes removed) and operators.
fn tokenize(line: &str, lang: Lang) -> Vec<Token> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut started = false;
    let flush = |tokens: &mut Vec<Token>, current: &mut String, started: &mut bool| {
        if *started {
            tokens.push(Token {
                text: std::mem::take(current),
                op: false,
            });
            *started = false;
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => flush(&mut tokens, &mut current, &mut started),
            '"' => {
                started = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    let escape = match lang {
                        Lang::PowerShell => chars[i] == '`',
                        Lang::Shell => {
                            chars[i] == '\\' && matches!(chars.get(i + 1), Some('"' | '\\' | '$'))
                        }
                        Lang::Cmd => false,
                    };
                    if escape && i + 1 < chars.len() {
                        i += 1;
                    }
                    current.push(chars[i]);
                    i += 1;
                }
            }
            '\'' if lang != Lang::Cmd => {
                started = true;
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if lang == Lang::PowerShell && chars.get(i + 1) == Some(&'\'') {
                            current.push('\'');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    current.push(chars[i]);
                    i += 1;
                }
            }
            '#' if lang != Lang::Cmd && !started => break,
            c if is_operator(c, lang) => {
                // `2>&1`, `2>$null`, `>>file`: a redirection takes its digit and its target.
                let mut op = String::new();
                if started && (current == "2" || current == "1" || current == "*") && c == '>' {
                    op = std::mem::take(&mut current);
                    started = false;
                }
                flush(&mut tokens, &mut current, &mut started);
                op.push(c);
                if c == '>' {
                    while i + 1 < chars.len()
                        && !chars[i + 1].is_whitespace()
                        && chars[i + 1] != '"'
                    {
                        i += 1;
                        op.push(chars[i]);
                    }
                } else if matches!(c, '&' | '|') && chars.get(i + 1) == Some(&c) {
                    i += 1;
                    op.push(c);
                }
                tokens.push(Token { text: op, op: true });
            }
            _ => {
                started = true;
                current.push(c);
            }
        }
        i += 1;
    }
    flush(&mut tokens, &mut current, &mut started);
    tokens
}

/// Variables that hold the tool's path (`$Exe = Join-Path $Share 'microsip-provision.exe'`).
fn exe_variables(text: &str, lang: Lang) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    for (_, line) in logical_lines(text, lang) {
        let line = line.trim();
        if !line.to_ascii_lowercase().contains("microsip-provision.exe") {
            continue;
        }
        match lang {
            Lang::PowerShell => {
                if let Some((name, _)) = line.strip_prefix('$').and_then(|l| l.split_once('=')) {
                    vars.insert(format!("${}", name.trim()).to_ascii_lowercase());
                }
            }
            Lang::Cmd => {
                let lower = line.to_ascii_lowercase();
                if let Some(rest) = lower.strip_prefix("set \"") {
                    if let Some((name, _)) = rest.split_once('=') {
                        vars.insert(format!("%{name}%"));
                    }
                }
            }
            Lang::Shell => {
                if let Some((name, _)) = line.split_once('=') {
                    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        vars.insert(format!("${}", name.to_ascii_lowercase()));
                        vars.insert(format!("${{{}}}", name.to_ascii_lowercase()));
                    }
                }
            }
        }
    }
    vars
}

fn is_exe(token: &str, exe_vars: &BTreeSet<String>) -> bool {
    let lower = token.to_ascii_lowercase();
    if exe_vars.contains(&lower) {
        return true;
    }
    let last = lower.rsplit(['/', '\\']).next().unwrap_or("");
    last == "microsip-provision" || last == "microsip-provision.exe"
}

fn invocations_in_text(origin: &str, text: &str, lang: Lang) -> Vec<Invocation> {
    let exe_vars = exe_variables(text, lang);
    let mut found = Vec::new();
    for (line_no, line) in logical_lines(text, lang) {
        let tokens = tokenize(&line, lang);
        for (i, token) in tokens.iter().enumerate() {
            if token.op || !is_exe(&token.text, &exe_vars) {
                continue;
            }
            // A PowerShell variable is called with `&`; on its own it is an assignment or a
            // value. Anything else is called from the start of a command.
            let command_position = if token.text.starts_with('$') && lang == Lang::PowerShell {
                i > 0 && tokens[i - 1].op && tokens[i - 1].text == "&"
            } else {
                i == 0
                    || tokens[i - 1].op
                    || matches!(
                        tokens[i - 1].text.to_ascii_lowercase().as_str(),
                        "call" | "do" | "then" | "exec"
                    )
            };
            // A path on its own (a YAML value naming the exe) is not a call.
            let has_args = tokens.get(i + 1).is_some_and(|t| !t.op);
            if !command_position || !has_args {
                continue;
            }
            let args = tokens[i + 1..]
                .iter()
                .take_while(|t| !t.op)
                .map(|t| t.text.clone())
                .collect();
            found.push(Invocation {
                origin: format!("{origin}:{line_no}"),
                args,
            });
        }
    }
    found
}

fn invocations_in_yaml(origin: &str, value: &Value, path: &str, found: &mut Vec<Invocation>) {
    match value {
        Value::String(text) => {
            found.extend(invocations_in_text(
                &format!("{origin} {path}"),
                text,
                Lang::Shell,
            ));
        }
        Value::Array(items) => {
            let strings: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            match strings {
                Some(argv) if argv.first().is_some_and(|e| is_exe(e, &BTreeSet::new())) => {
                    found.push(Invocation {
                        origin: format!("{origin} {path}"),
                        args: argv[1..].iter().map(|s| s.to_string()).collect(),
                    });
                }
                _ => {
                    for (i, item) in items.iter().enumerate() {
                        invocations_in_yaml(origin, item, &format!("{path}[{i}]"), found);
                    }
                }
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                invocations_in_yaml(origin, item, &format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
}

/// The fenced code blocks of a Markdown file, by language.
fn invocations_in_markdown(origin: &str, text: &str) -> Vec<Invocation> {
    let mut found = Vec::new();
    let mut block: Option<(Option<Lang>, usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            match block.take() {
                Some((Some(lang), start, body)) => {
                    for mut inv in invocations_in_text(origin, &body, lang) {
                        // origin:line within the block -> line within the file.
                        let (file, line) = inv.origin.rsplit_once(':').unwrap();
                        let line: usize = line.parse().unwrap();
                        inv.origin = format!("{file}:{}", start + line);
                        found.push(inv);
                    }
                }
                Some((None, _, _)) => {}
                None => {
                    let lang = match info.trim() {
                        "powershell" | "ps1" | "pwsh" => Some(Lang::PowerShell),
                        "bat" | "cmd" | "batch" => Some(Lang::Cmd),
                        "sh" | "bash" | "shell" | "console" | "" => Some(Lang::Shell),
                        _ => None,
                    };
                    block = Some((lang, index + 1, String::new()));
                }
            }
        } else if let Some((_, _, body)) = &mut block {
            body.push_str(line);
            body.push('\n');
        }
    }
    found
}

/// Every invocation of the tool in `examples/deploy`, by file name.
fn all_invocations() -> Vec<(String, Vec<Invocation>)> {
    let mut out = Vec::new();
    let mut names: Vec<String> = fs::read_dir(deploy_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let text = recipe(&name);
        let invocations = if name.ends_with(".ps1") {
            invocations_in_text(&name, &text, Lang::PowerShell)
        } else if name.ends_with(".cmd") || name.ends_with(".bat") {
            invocations_in_text(&name, &text, Lang::Cmd)
        } else if name.ends_with(".yml") || name.ends_with(".yaml") {
            let mut found = Vec::new();
            invocations_in_yaml(&name, &yaml(&name), "", &mut found);
            found
        } else if name.ends_with(".md") {
            invocations_in_markdown(&name, &text)
        } else {
            continue;
        };
        out.push((name, invocations));
    }
    out
}

fn is_literal(value: &str) -> bool {
    !(value.contains('$') || value.contains('%') || value.contains("{{"))
}

/// Check one invocation against the CLI; the verb path on success (`["report", "summarize"]`).
fn check_invocation(cli: &mut CliHelp, inv: &Invocation) -> Result<Vec<String>, String> {
    let mut path: Vec<String> = Vec::new();
    let mut args = inv.args.iter().peekable();
    let top = cli.get(&[]);
    let verb = args
        .next()
        .ok_or_else(|| format!("{}: no verb", inv.origin))?;
    if !top.verbs.contains(verb) {
        return Err(format!(
            "{}: no verb {verb:?} (verbs: {:?})",
            inv.origin, top.verbs
        ));
    }
    path.push(verb.clone());
    loop {
        let help = cli.get(&path);
        if help.verbs.is_empty() {
            break;
        }
        let sub = args
            .next()
            .ok_or_else(|| format!("{}: `{}` needs a verb", inv.origin, path.join(" ")))?;
        if !help.verbs.contains(sub) {
            return Err(format!(
                "{}: `{}` has no verb {sub:?} (verbs: {:?})",
                inv.origin,
                path.join(" "),
                help.verbs
            ));
        }
        path.push(sub.clone());
    }
    let help = cli.get(&path);
    while let Some(arg) = args.next() {
        if !arg.starts_with('-') || arg == "-" {
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let flag = help.flags.get(name).ok_or_else(|| {
            let mut known: Vec<&String> = help.flags.keys().collect();
            known.sort();
            format!(
                "{}: `{}` has no flag {name} (its --help lists {known:?})",
                inv.origin,
                path.join(" ")
            )
        })?;
        if !flag.takes_value {
            if inline.is_some() {
                return Err(format!("{}: {name} takes no value", inv.origin));
            }
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .cloned()
                .ok_or_else(|| format!("{}: {name} needs a value", inv.origin))?,
        };
        if is_literal(&value) && !flag.values.is_empty() && !flag.values.contains(&value) {
            return Err(format!(
                "{}: {name} {value}: not one of {:?}",
                inv.origin, flag.values
            ));
        }
    }
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// Giving the scripts' variables their values, and running their invocations.

/// Replace `%NAME%`, `$env:NAME`, `${NAME}`, `$NAME` and `{{ name }}` by their values (names
/// are case-insensitive, as in cmd and PowerShell). An unknown variable is a test failure: the
/// recipe uses something this test does not know about.
fn substitute(text: &str, vars: &HashMap<String, String>, origin: &str) -> String {
    let lookup = |name: &str| -> String {
        vars.get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| panic!("{origin}: no value for the variable {name:?} in {text:?}"))
    };
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{") {
            let end = after.find("}}").expect("closed {{");
            out.push_str(&lookup(after[..end].trim()));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('%') {
            match after.find('%') {
                Some(end)
                    if end > 0
                        && after[..end]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    out.push_str(&lookup(&after[..end]));
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push('%');
                    rest = after;
                }
            }
        } else if let Some(after) = rest.strip_prefix('$') {
            let (name, len) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').expect("closed ${");
                (braced[..end].to_string(), end + 2)
            } else if after.len() >= 4 && after[..4].eq_ignore_ascii_case("env:") {
                let n = after[4..].chars().take_while(|c| ident(*c)).count();
                (format!("env:{}", &after[4..4 + n]), 4 + n)
            } else {
                let n = after.chars().take_while(|c| ident(*c)).count();
                (after[..n].to_string(), n)
            };
            if name.is_empty() {
                out.push('$');
                rest = after;
            } else {
                out.push_str(&lookup(&name));
                rest = &after[len..];
            }
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    // The recipes are written for Windows: on Linux a backslash is a file name character.
    if cfg!(windows) {
        out
    } else {
        out.replace('\\', "/")
    }
}

/// The environment of a user logging on, in a temp folder: bob's example profile.
struct Logon {
    dir: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Logon {
    fn new() -> Logon {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let roaming = root
            .join("Users")
            .join("bob")
            .join("AppData")
            .join("Roaming");
        let local = root.join("Users").join("bob").join("AppData").join("Local");
        fs::create_dir_all(roaming.join("MicroSIP")).unwrap();
        fs::create_dir_all(&local).unwrap();
        fs::copy(
            examples_dir().join("profiles/bob/AppData/Roaming/MicroSIP/microsip.ini"),
            roaming.join("MicroSIP").join("microsip.ini"),
        )
        .unwrap();
        // NETLOGON: the manifest as shipped in examples/deploy.
        let netlogon = root.join("netlogon");
        fs::create_dir_all(&netlogon).unwrap();
        for file in ["fleet.toml", "users.csv"] {
            fs::copy(deploy_dir().join(file), netlogon.join(file)).unwrap();
        }
        fs::create_dir_all(root.join("reports")).unwrap();
        let mut vars = HashMap::new();
        for (name, value) in [
            ("APPDATA", path_text(&roaming)),
            ("LOCALAPPDATA", path_text(&local)),
            ("USERNAME", "bob".to_string()),
            ("COMPUTERNAME", "PC01".to_string()),
        ] {
            vars.insert(name.to_ascii_lowercase(), value.clone());
            vars.insert(format!("env:{}", name.to_ascii_lowercase()), value);
        }
        Logon { dir, vars }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn ini(&self) -> PathBuf {
        PathBuf::from(&self.vars["appdata"])
            .join("MicroSIP")
            .join("microsip.ini")
    }

    fn run(&self, inv: &Invocation, vars: &HashMap<String, String>) -> Output {
        let args: Vec<String> = inv
            .args
            .iter()
            .map(|a| substitute(a, vars, &inv.origin))
            .collect();
        let mut command = bin();
        command.args(&args);
        // Only what a logon has: no MICROSIP_PROVISION_* from the test's own environment.
        for (key, _) in std::env::vars() {
            if key.starts_with("MICROSIP_PROVISION_") {
                command.env_remove(key);
            }
        }
        for name in ["APPDATA", "LOCALAPPDATA", "USERNAME", "COMPUTERNAME"] {
            command.env(name, &self.vars[&name.to_ascii_lowercase()]);
        }
        command.output().unwrap()
    }
}

/// What the `set` lines of a batch file leave in its variables (cmd's own rules: a later
/// `set` wins, `if not defined X set` only sets a missing one).
fn cmd_variables(text: &str, env: &HashMap<String, String>) -> HashMap<String, String> {
    let mut vars = env.clone();
    for (_, line) in logical_lines(text, Lang::Cmd) {
        let trimmed = line.trim();
        let lower = trimmed.to_ascii_lowercase();
        let (guard, statement) = match lower.strip_prefix("if not defined ") {
            Some(rest) => {
                let (name, _) = rest.split_once(' ').unwrap();
                (
                    Some(name.to_string()),
                    &trimmed["if not defined ".len() + name.len() + 1..],
                )
            }
            None => (None, trimmed),
        };
        let Some(assignment) = statement
            .strip_prefix("set \"")
            .and_then(|s| s.strip_suffix('"'))
        else {
            continue;
        };
        let (name, value) = assignment.split_once('=').unwrap();
        if guard.is_some_and(|g| vars.contains_key(&g)) {
            continue;
        }
        let value = substitute_keep_backslashes(value, &vars);
        vars.insert(name.to_ascii_lowercase(), value);
    }
    vars
}

/// `%NAME%` substitution that leaves the separators alone (for values that later go through
/// [`substitute`]).
fn substitute_keep_backslashes(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) if vars.contains_key(&after[..end].to_ascii_lowercase()) => {
                out.push_str(&vars[&after[..end].to_ascii_lowercase()]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What a PowerShell script's `param()` defaults and simple assignments give its variables:
/// `$X = 'literal'`, `$X = Join-Path <$var|$env:VAR|'literal'> '<literal>'`. Anything else
/// is left alone (and its variable stays unknown).
fn powershell_variables(
    text: &str,
    env: &HashMap<String, String>,
    params: &[(&str, String)],
) -> HashMap<String, String> {
    let mut vars = env.clone();
    // The overrides stand for what a caller passes (`-Share X`) or a test must redirect (a
    // production share): the script's own assignment of those names is skipped.
    for (name, value) in params {
        vars.insert(name.to_ascii_lowercase(), value.clone());
    }
    let overridden: BTreeSet<String> = params.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    let value_of = |expr: &str, vars: &HashMap<String, String>| -> Option<String> {
        let expr = expr.trim();
        if let Some(lit) = expr.strip_prefix('\'').and_then(|e| e.strip_suffix('\'')) {
            return Some(lit.to_string());
        }
        let name = expr.strip_prefix('$')?;
        vars.get(&name.to_ascii_lowercase()).cloned()
    };
    let mut in_param = false;
    for (_, line) in logical_lines(text, Lang::PowerShell) {
        let trimmed = line.trim().trim_end_matches(',');
        if trimmed.starts_with("param(") {
            in_param = true;
            continue;
        }
        if in_param && trimmed == ")" {
            in_param = false;
            continue;
        }
        let declaration = if in_param {
            trimmed.rsplit_once("] ").map_or(trimmed, |(_, d)| d)
        } else {
            trimmed
        };
        let Some((name, expr)) = declaration
            .strip_prefix('$')
            .and_then(|d| d.split_once(" = "))
        else {
            continue;
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || overridden.contains(&name.to_ascii_lowercase())
        {
            continue;
        }
        let value = if let Some(args) = expr.strip_prefix("Join-Path ") {
            let tokens: Vec<String> = tokenize(args, Lang::PowerShell)
                .into_iter()
                .map(|t| t.text)
                .collect();
            let raw: Vec<&str> = args.split_whitespace().collect();
            match (raw.first(), tokens.get(1)) {
                (Some(parent), Some(child)) if tokens.len() == 2 => {
                    value_of(parent, &vars).map(|p| format!("{p}\\{child}"))
                }
                _ => None,
            }
        } else if expr.starts_with('"') {
            None
        } else {
            value_of(expr, &vars)
        };
        if let Some(value) = value {
            vars.insert(name.to_ascii_lowercase(), value);
        }
    }
    vars
}

fn invocations_of(name: &str) -> Vec<Invocation> {
    all_invocations()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, i)| i)
        .unwrap_or_else(|| panic!("no recipe {name}"))
}

fn the_one(invocations: &[Invocation], verb: &str) -> Invocation {
    let found: Vec<&Invocation> = invocations.iter().filter(|i| i.verb() == verb).collect();
    assert_eq!(found.len(), 1, "expected one `{verb}` in {invocations:#?}");
    found[0].clone()
}

fn json_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn summarize_json(path: &Path) -> Value {
    let output = bin()
        .args(["report", "summarize", "--format", "json"])
        .arg(path)
        .env_remove("MICROSIP_PROVISION_FORMAT")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The recipes use the CLI as it is.

/// Every call of the tool in every recipe, and in the README's code blocks, names a real verb
/// and only flags (and flag values) that the verb's `--help` lists.
#[test]
fn every_recipe_calls_the_tool_with_flags_it_has() {
    let mut cli = CliHelp::default();
    let mut errors = Vec::new();
    let mut verbs_per_file: HashMap<String, Vec<String>> = HashMap::new();
    for (name, invocations) in all_invocations() {
        for inv in &invocations {
            match check_invocation(&mut cli, inv) {
                Ok(path) => verbs_per_file
                    .entry(name.clone())
                    .or_default()
                    .push(path.join(" ")),
                Err(e) => errors.push(e),
            }
        }
    }
    assert!(
        errors.is_empty(),
        "recipes that do not match the CLI:\n{}",
        errors.join("\n")
    );
    let expect = |file: &str, verbs: &[&str]| {
        let found = verbs_per_file.get(file).cloned().unwrap_or_default();
        for verb in verbs {
            assert!(
                found.iter().any(|f| f == verb),
                "{file}: no `{verb}` call found (found {found:?})"
            );
        }
    };
    expect("gpo-logon.cmd", &["plan", "apply"]);
    expect("gpo-logon.ps1", &["plan", "apply"]);
    expect("intune-detect.ps1", &["plan"]);
    expect("intune-remediate.ps1", &["apply"]);
    expect(
        "ansible-playbook.yml",
        &["plan", "apply", "report summarize"],
    );
    expect("github-validate.yml", &["validate"]);
    expect(
        "README.md",
        &["plan", "apply", "validate", "report summarize"],
    );

    // The flags each recipe is about.
    let all: Vec<(String, Invocation)> = all_invocations()
        .into_iter()
        .flat_map(|(n, i)| i.into_iter().map(move |inv| (n.clone(), inv)))
        .collect();
    let has = |file: &str, verb: &str, wanted: &[&str]| {
        assert!(
            all.iter().any(|(n, inv)| n == file
                && inv.verb() == verb
                && wanted.iter().all(|w| inv
                    .args
                    .windows(w.split(' ').count())
                    .any(|win| win.join(" ") == *w))),
            "{file}: no `{verb}` call with {wanted:?}"
        );
    };
    for file in ["gpo-logon.cmd", "gpo-logon.ps1"] {
        has(
            file,
            "apply",
            &["--quiet", "--if-running stop", "--log-file"],
        );
        has(file, "plan", &["--quiet", "--exit-code", "--log-file"]);
    }
    has(
        "intune-detect.ps1",
        "plan",
        &["--exit-code", "--format json"],
    );
    has(
        "intune-remediate.ps1",
        "apply",
        &["--format json", "--log-file"],
    );
    has(
        "ansible-playbook.yml",
        "plan",
        &["--exit-code", "--format json", "--profiles-root"],
    );
    has(
        "ansible-playbook.yml",
        "apply",
        &["--format json", "--profiles-root", "--report"],
    );
    has("github-validate.yml", "validate", &["--format github"]);
}

/// The checker itself catches what it is there to catch.
#[test]
fn the_recipe_checker_rejects_unknown_verbs_flags_and_values() {
    let mut cli = CliHelp::default();
    let check = |cli: &mut CliHelp, line: &str, lang: Lang| {
        let invocations = invocations_in_text("t", line, lang);
        assert_eq!(invocations.len(), 1, "{line}: {invocations:?}");
        check_invocation(cli, &invocations[0])
    };
    assert!(check(
        &mut cli,
        "microsip-provision apply f.toml --if-running stop --quiet",
        Lang::Shell
    )
    .is_ok());
    assert!(check(
        &mut cli,
        "$Exe = Join-Path $d 'microsip-provision.exe'\n& $Exe apply $M --if-running $IfRunning",
        Lang::PowerShell
    )
    .is_ok());
    assert!(check(
        &mut cli,
        "\"%H%\\microsip-provision.exe\" plan \"%H%\\f.toml\" --exit-code >nul",
        Lang::Cmd
    )
    .is_ok());
    assert!(check(
        &mut cli,
        "microsip-provision report summarize d --format=json",
        Lang::Shell
    )
    .is_ok());
    let err = check(
        &mut cli,
        "microsip-provision apply f.toml --if-running kill",
        Lang::Shell,
    )
    .unwrap_err();
    assert!(err.contains("not one of"), "{err}");
    let err = check(
        &mut cli,
        "microsip-provision plan f.toml --detailed-exitcode",
        Lang::Shell,
    )
    .unwrap_err();
    assert!(err.contains("has no flag --detailed-exitcode"), "{err}");
    let err = check(&mut cli, "microsip-provision deploy f.toml", Lang::Shell).unwrap_err();
    assert!(err.contains("no verb"), "{err}");
    let err = check(&mut cli, "microsip-provision report sum d", Lang::Shell).unwrap_err();
    assert!(err.contains("has no verb"), "{err}");
    let err = check(
        &mut cli,
        "microsip-provision validate f.toml --format",
        Lang::Shell,
    )
    .unwrap_err();
    assert!(err.contains("needs a value"), "{err}");
    let err = check(
        &mut cli,
        "microsip-provision apply f.toml --dry-run=yes",
        Lang::Shell,
    )
    .unwrap_err();
    assert!(err.contains("takes no value"), "{err}");
    // Not a call: the tool named as an argument of another command, or in a comment.
    assert!(
        invocations_in_text("t", "cargo install --git x microsip-provision", Lang::Shell)
            .is_empty()
    );
    assert!(
        invocations_in_text("t", "# microsip-provision frobnicate", Lang::PowerShell).is_empty()
    );
    assert!(invocations_in_text("t", "rem microsip-provision frobnicate", Lang::Cmd).is_empty());
    assert!(invocations_in_text(
        "t",
        "<#\nmicrosip-provision frobnicate\n#>",
        Lang::PowerShell
    )
    .is_empty());
    // A continued line is one call.
    let inv = invocations_in_text("t", "microsip-provision apply f \\\n  --quiet", Lang::Shell);
    assert_eq!(inv[0].args, ["apply", "f", "--quiet"]);
}

// ---------------------------------------------------------------------------------------------
// The recipes' commands, run.

/// The logon scripts' calls, run in a logon's environment: the first logon plans (exit code 3),
/// applies and logs both; the next one plans, finds nothing (exit code 0) and does not apply.
/// The lines the scripts copy to the report share make bob "in sync" in the fleet view.
#[test]
fn logon_scripts_plan_then_apply_and_leave_report_lines() {
    for script in ["gpo-logon.cmd", "gpo-logon.ps1"] {
        let logon = Logon::new();
        let netlogon = path_text(&logon.root().join("netlogon"));
        let reports = path_text(&logon.root().join("reports"));
        let text = recipe(script);
        let vars = if script.ends_with(".cmd") {
            let mut env = logon.vars.clone();
            env.insert("msp_home".into(), netlogon.clone());
            env.insert("msp_reports".into(), reports.clone());
            cmd_variables(&text, &env)
        } else {
            powershell_variables(
                &text,
                &logon.vars,
                &[
                    ("Share", netlogon.clone()),
                    ("ReportShare", reports.clone()),
                ],
            )
        };
        let invocations = invocations_of(script);
        let plan = the_one(&invocations, "plan");
        let apply = the_one(&invocations, "apply");

        // Where the scripts log: %LOCALAPPDATA%\microsip-provision\.
        let log_of = |inv: &Invocation| {
            let i = inv.args.iter().position(|a| a == "--log-file").unwrap();
            PathBuf::from(substitute(&inv.args[i + 1], &vars, &inv.origin))
        };
        let log = log_of(&plan);
        assert_eq!(
            log,
            log_of(&apply),
            "{script}: plan and apply log to one file"
        );
        let log_dir = PathBuf::from(&logon.vars["localappdata"]).join("microsip-provision");
        assert_eq!(log.parent().unwrap(), log_dir, "{script}");
        // The scripts create the folder (the tool does not create a log file's folder).
        assert!(
            text.contains("mkdir \"%MSP_LOGDIR%\"")
                || text.contains("New-Item -ItemType Directory -Force -Path $LogDir"),
            "{script} creates its log folder"
        );
        fs::create_dir_all(&log_dir).unwrap();
        let before = fs::read(logon.ini()).unwrap();

        // First logon: pending, so apply.
        let planned = logon.run(&plan, &vars);
        assert_eq!(
            planned.status.code(),
            Some(3),
            "{script}: {}",
            text_of(&planned)
        );
        assert!(
            planned.stdout.is_empty(),
            "{script}: --quiet: {}",
            text_of(&planned)
        );
        assert_eq!(
            fs::read(logon.ini()).unwrap(),
            before,
            "plan writes nothing"
        );
        let applied = logon.run(&apply, &vars);
        assert_eq!(
            applied.status.code(),
            Some(0),
            "{script}: {}",
            text_of(&applied)
        );
        assert!(
            applied.stdout.is_empty(),
            "{script}: --quiet: {}",
            text_of(&applied)
        );
        let after = crate::common::from_utf16le_bom(&fs::read(logon.ini()).unwrap());
        assert!(
            after.contains("username=1002"),
            "{script}: bob's extension: {after}"
        );

        // Second logon: nothing pending, so no apply (and no MicroSIP restart).
        let replanned = logon.run(&plan, &vars);
        assert_eq!(
            replanned.status.code(),
            Some(0),
            "{script}: {}",
            text_of(&replanned)
        );

        let lines = json_lines(&log);
        let seen: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| (l["event"].as_str().unwrap(), l["outcome"].as_str().unwrap()))
            .collect();
        assert_eq!(
            seen,
            [
                ("plan", "pending"),
                ("apply", "changed"),
                ("plan", "unchanged")
            ],
            "{script}"
        );
        for line in &lines {
            assert_eq!(line["user"], "bob");
            assert!(line["time"].is_string());
        }

        // The script copies the run's lines to <share>\<COMPUTERNAME>-<USERNAME>.jsonl.
        let report_name = if script.ends_with(".cmd") {
            PathBuf::from(substitute("%MSP_REPORT%", &vars, script))
        } else {
            let expr = text
                .lines()
                .find(|l| {
                    l.trim_start()
                        .starts_with("$Report = Join-Path $ReportShare")
                })
                .expect("the .ps1 names the report file");
            assert!(
                expr.contains("\"$($env:COMPUTERNAME)-$($env:USERNAME).jsonl\""),
                "{expr}"
            );
            PathBuf::from(&reports).join("PC01-bob.jsonl")
        };
        assert_eq!(
            report_name,
            PathBuf::from(&reports).join("PC01-bob.jsonl"),
            "{script}"
        );
        fs::write(&report_name, fs::read(&log).unwrap()).unwrap();
        let view = summarize_json(Path::new(&reports));
        assert_eq!(view["counts"]["in_sync"], 1, "{view:#}");
        assert_eq!(view["users"][0]["user"], "bob");
        assert_eq!(view["users"][0]["runs"], 3);
    }
}

/// The fallback line a logon script writes when the tool did not start is a report the fleet
/// view reads as "failing".
#[test]
fn logon_scripts_fallback_line_is_a_failed_report() {
    let text = recipe("gpo-logon.cmd");
    let echo = text
        .lines()
        .find(|l| l.contains("echo {\"user\""))
        .expect("the .cmd writes a line of its own");
    let json = &echo[echo.find('{').unwrap()..];
    // What cmd makes of it: %VAR% expanded, %VAR:\=\\% with its backslashes doubled.
    let appdata = r"C:\Users\bob\AppData\Roaming";
    let home = r"\\corp\netlogon\microsip";
    let line = json
        .replace("%USERNAME%", "bob")
        .replace(r"%APPDATA:\=\\%", &appdata.replace('\\', r"\\"))
        .replace(r"%MSP_HOME:\=\\%", &home.replace('\\', r"\\"))
        .replace("%MSP_RC%", "9009");
    assert!(!line.contains('%'), "{line}");
    let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_eq!(value["profile"], r"C:\Users\bob\AppData\Roaming\MicroSIP");
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("PC01-bob.jsonl"), format!("{line}\r\n")).unwrap();
    let view = summarize_json(dir.path());
    assert_eq!(view["counts"]["failing"], 1, "{view:#}");
    assert!(view["users"][0]["error"]
        .as_str()
        .unwrap()
        .contains(r"did not start from \\corp\netlogon\microsip (exit code 9009)"));

    // The .ps1 builds its line with ConvertTo-Json from these fields.
    let ps1 = recipe("gpo-logon.ps1");
    for field in [
        "user    = $env:USERNAME",
        "outcome = 'failed'",
        "error   = ",
        "time    = ",
    ] {
        assert!(ps1.contains(field), "gpo-logon.ps1 has {field}");
    }
}

/// The Intune pair: detection's plan says 3 (mapped to non-compliant) with a JSON report the
/// script reads the pending keys from; remediation applies; detection then says 0 (compliant).
#[test]
fn intune_detection_and_remediation() {
    let logon = Logon::new();
    let netlogon = logon.root().join("netlogon");
    let detect_text = recipe("intune-detect.ps1");
    let remediate_text = recipe("intune-remediate.ps1");
    let manifest = ("Manifest", path_text(&netlogon.join("fleet.toml")));
    let detect_vars =
        powershell_variables(&detect_text, &logon.vars, std::slice::from_ref(&manifest));
    let remediate_vars = powershell_variables(&remediate_text, &logon.vars, &[manifest]);
    // The scripts' own values: logs in %LOCALAPPDATA%, and --if-running as the script says.
    let log_dir = PathBuf::from(&logon.vars["localappdata"]).join("microsip-provision");
    assert_eq!(
        PathBuf::from(substitute("$Log", &detect_vars, "detect"))
            .parent()
            .unwrap(),
        log_dir
    );
    assert_eq!(remediate_vars["ifrunning"], "stop");
    fs::create_dir_all(&log_dir).unwrap();
    let detect = the_one(&invocations_of("intune-detect.ps1"), "plan");
    let remediate = the_one(&invocations_of("intune-remediate.ps1"), "apply");

    let output = logon.run(&detect, &detect_vars);
    assert_eq!(output.status.code(), Some(3), "{}", text_of(&output));
    // What the script does with it: ConvertFrom-Json, then .changes[].section / .key.
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "pending");
    let changes = report["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for change in changes {
        assert!(change["section"].is_string(), "{change}");
    }
    assert!(changes
        .iter()
        .any(|c| c["section"] == "Account1" && c["key"] == "username"));

    let output = logon.run(&remediate, &remediate_vars);
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "changed");
    assert!(!report["changes"].as_array().unwrap().is_empty());

    let output = logon.run(&detect, &detect_vars);
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "unchanged");
    assert!(
        report.get("changes").is_none(),
        "no changes: the field is left out"
    );

    // The exit code mapping of the detection script: 0 -> 0, 3 -> 1, anything else -> 1.
    let switch = &detect_text[detect_text
        .find("switch ($rc) {")
        .expect("a switch on the exit code")..];
    let arm = |label: &str| -> String {
        let start = switch
            .find(&format!("\n    {label} {{"))
            .unwrap_or_else(|| panic!("no arm {label}"));
        let body = &switch[start..];
        let end = body[1..].find("\n    }").unwrap();
        body[..end + 1].to_string()
    };
    assert!(arm("0").contains("exit 0"));
    assert!(arm("3").contains("exit 1"));
    assert!(arm("default").contains("exit 1"));
    assert!(!arm("3").contains("exit 0") && !arm("default").contains("exit 0"));
    for text in [&detect_text, &remediate_text] {
        assert!(text.contains("Run this script using the logged-on credentials"));
    }
    assert!(
        detect_text.contains("systemprofile"),
        "says why SYSTEM finds the wrong profile"
    );
}

/// The playbook's calls in fleet mode over copies of the example profiles: check mode's plan
/// (exit code 3 = changed, a diff per pending profile), then apply (`changed_when` finds
/// "changed" outcomes in stdout's JSON lines), then apply again (nothing changed), and the
/// fetched report summarised.
#[test]
fn ansible_playbook_commands() {
    let dir = tempfile::tempdir().unwrap();
    let stage = dir.path().join("stage");
    fs::create_dir_all(&stage).unwrap();
    for file in ["fleet.toml", "users.csv"] {
        fs::copy(examples_dir().join(file), stage.join(file)).unwrap();
    }
    copy_dir(&examples_dir().join("secrets"), &stage.join("secrets"));
    let profiles = dir.path().join("Users");
    copy_dir(&examples_dir().join("profiles"), &profiles);

    let play = &yaml("ansible-playbook.yml")[0];
    let mut vars: HashMap<String, String> = play["vars"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect();
    assert_eq!(vars["msp_profiles_root"], r"C:\Users");
    vars.insert("msp_profiles_root".into(), path_text(&profiles));
    vars.insert("msp_stage.path".into(), path_text(&stage));
    let fetched = dir.path().join("reports");
    vars.insert("msp_reports_dir".into(), path_text(&fetched));
    let invocations = invocations_of("ansible-playbook.yml");
    let plan = the_one(&invocations, "plan");
    let apply = the_one(&invocations, "apply");
    let run = |inv: &Invocation| -> Output {
        let args: Vec<String> = inv
            .args
            .iter()
            .map(|a| substitute(a, &vars, &inv.origin))
            .collect();
        bin()
            .args(&args)
            .env_remove("MICROSIP_PROVISION_FORMAT")
            .output()
            .unwrap()
    };
    let stdout_lines = |output: &Output| -> Vec<Value> {
        String::from_utf8(output.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("from_json fails on {l:?}: {e}"))
            })
            .collect()
    };

    let output = run(&plan);
    assert_eq!(output.status.code(), Some(3), "{}", text_of(&output));
    let reports = stdout_lines(&output);
    assert_eq!(reports.len(), 3);
    for report in &reports {
        assert_eq!(report["outcome"], "pending");
        let diff = report["diff"].as_str().expect("a diff for --check --diff");
        assert!(diff.contains("microsip.ini"), "{diff}");
        assert!(!diff.contains("dummy-"), "passwords redacted: {diff}");
    }

    let output = run(&apply);
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    let reports = stdout_lines(&output);
    assert_eq!(
        reports.iter().filter(|r| r["outcome"] == "changed").count(),
        3
    );
    let report_file = stage.join("report.jsonl");
    assert_eq!(json_lines(&report_file).len(), 3);

    let output = run(&apply);
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    assert!(stdout_lines(&output)
        .iter()
        .all(|r| r["outcome"] == "unchanged"));
    assert_eq!(run(&plan).status.code(), Some(0));

    // The controller's play: report summarize over the fetched reports.
    fs::create_dir(&fetched).unwrap();
    fs::copy(&report_file, fetched.join("pc01.jsonl")).unwrap();
    let summarize = the_one(&invocations, "report");
    assert_eq!(summarize.args[..2], ["report", "summarize"]);
    let output = run(&summarize);
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("3 users (3 reports in 1 file): 3 in sync"),
        "{text}"
    );
}

/// The workflow's validate step, in a manifest repository: exit 0 and no error annotation for
/// the example manifest; `::error file=...` annotations and exit code 2 (a failed job) for a
/// broken one.
#[test]
fn workflow_validate_step_annotates_and_fails_on_errors() {
    let workflow = yaml("github-validate.yml");
    let mut vars: HashMap<String, String> = workflow["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap().to_string()))
        .collect();
    vars.insert("home".into(), "/home/runner".into());
    let validate = invocations_of("github-validate.yml")
        .into_iter()
        .find(|i| i.verb() == "validate" && i.args.iter().any(|a| a == "github"))
        .expect("a validate --format github step");

    let repo = tempfile::tempdir().unwrap();
    for file in ["fleet.toml", "users.csv"] {
        fs::copy(examples_dir().join(file), repo.path().join(file)).unwrap();
    }
    copy_dir(
        &examples_dir().join("secrets"),
        &repo.path().join("secrets"),
    );
    let run = || -> Output {
        let args: Vec<String> = validate
            .args
            .iter()
            .map(|a| substitute(a, &vars, &validate.origin))
            .collect();
        bin()
            .args(&args)
            .current_dir(repo.path())
            .env_remove("MICROSIP_PROVISION_FORMAT")
            .output()
            .unwrap()
    };
    let output = run();
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("::error"),
        "{}",
        text_of(&output)
    );

    // A template that names a column users.csv does not have.
    let broken = fs::read_to_string(repo.path().join("fleet.toml"))
        .unwrap()
        .replace("{{user.extension}}", "{{user.extensoin}}");
    fs::write(repo.path().join("fleet.toml"), broken).unwrap();
    let output = run();
    assert_eq!(output.status.code(), Some(2), "{}", text_of(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("::error file=fleet.toml,line=")),
        "{stdout}"
    );
}

/// The manifest shipped for NETLOGON validates, and its password path renders to the secrets
/// share (a warning here, where the share does not exist).
#[test]
fn netlogon_manifest_validates() {
    let output = bin()
        .arg("validate")
        .arg(deploy_dir().join("fleet.toml"))
        .env_remove("MICROSIP_PROVISION_FORMAT")
        .env_remove("MICROSIP_PROVISION_REQUIRE_SECRETS")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(r"\\fs01\microsip-secrets$\bob.txt"),
        "{stderr}"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("valid (3 users checked, 0 errors"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------------
// The scripts parse.

/// A structural parse of PowerShell: brackets balance outside strings and comments, strings,
/// here-strings and block comments are closed. Returns the first problem found.
fn check_powershell(text: &str) -> Result<(), String> {
    #[derive(PartialEq)]
    enum Mode {
        Code,
        Double,
        HereDouble,
    }
    let chars: Vec<char> = text.chars().collect();
    let mut line = 1usize;
    // Open brackets: the char and its line; '$' marks a `$(` inside a string, whose mode is
    // kept next to it.
    let mut stack: Vec<(char, usize, Mode)> = Vec::new();
    let mut mode = Mode::Code;
    let mut i = 0;
    let at_line_start = |chars: &[char], i: usize| i == 0 || chars[i - 1] == '\n';
    let token_start = |chars: &[char], i: usize| {
        i == 0 || chars[i - 1].is_whitespace() || matches!(chars[i - 1], ';' | '(' | '{' | '}')
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        }
        match mode {
            Mode::Code => match c {
                '`' => {
                    if chars.get(i + 1) == Some(&'\n') {
                        line += 1;
                    }
                    i += 1;
                }
                '<' if chars.get(i + 1) == Some(&'#') => {
                    let start = line;
                    i += 2;
                    loop {
                        if i + 1 >= chars.len() {
                            return Err(format!("line {start}: block comment <# not closed"));
                        }
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        if chars[i] == '#' && chars[i + 1] == '>' {
                            i += 1;
                            break;
                        }
                        i += 1;
                    }
                }
                '#' if token_start(&chars, i) => {
                    while i + 1 < chars.len() && chars[i + 1] != '\n' {
                        i += 1;
                    }
                }
                '@' if matches!(chars.get(i + 1), Some('"' | '\''))
                    && matches!(chars.get(i + 2), Some('\n' | '\r')) =>
                {
                    let quote = chars[i + 1];
                    let start = line;
                    if quote == '"' {
                        mode = Mode::HereDouble;
                        i += 1;
                    } else {
                        i += 2;
                        loop {
                            if i + 1 >= chars.len() {
                                return Err(format!("line {start}: here-string @' not closed"));
                            }
                            if chars[i] == '\n' {
                                line += 1;
                                if chars[i + 1] == '\'' && chars.get(i + 2) == Some(&'@') {
                                    i += 2;
                                    break;
                                }
                            }
                            i += 1;
                        }
                    }
                }
                '\'' => {
                    let start = line;
                    i += 1;
                    loop {
                        if i >= chars.len() {
                            return Err(format!("line {start}: string ' not closed"));
                        }
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        if chars[i] == '\'' {
                            if chars.get(i + 1) == Some(&'\'') {
                                i += 1;
                            } else {
                                break;
                            }
                        }
                        i += 1;
                    }
                }
                '"' => {
                    stack.push(('"', line, Mode::Code));
                    mode = Mode::Double;
                }
                '(' | '{' | '[' => stack.push((c, line, Mode::Code)),
                ')' | '}' | ']' => {
                    let want = match c {
                        ')' => ['(', '$'],
                        '}' => ['{', '{'],
                        _ => ['[', '['],
                    };
                    match stack.pop() {
                        Some((open, _, back)) if want.contains(&open) => {
                            if open == '$' {
                                mode = back;
                            }
                        }
                        Some((open, opened, _)) => {
                            return Err(format!("line {line}: {c} closes {open} of line {opened}"))
                        }
                        None => return Err(format!("line {line}: {c} closes nothing")),
                    }
                }
                _ => {}
            },
            Mode::Double | Mode::HereDouble => match c {
                '`' => {
                    if chars.get(i + 1) == Some(&'\n') {
                        line += 1;
                    }
                    i += 1;
                }
                '$' if chars.get(i + 1) == Some(&'(') => {
                    let back = std::mem::replace(&mut mode, Mode::Code);
                    stack.push(('$', line, back));
                    i += 1;
                }
                '"' if mode == Mode::Double => {
                    if chars.get(i + 1) == Some(&'"') {
                        i += 1;
                    } else {
                        match stack.pop() {
                            Some(('"', _, _)) => mode = Mode::Code,
                            other => {
                                return Err(format!(
                                    "line {line}: string state lost: {:?}",
                                    other.map(|o| o.0)
                                ))
                            }
                        }
                    }
                }
                '"' if mode == Mode::HereDouble
                    && chars.get(i + 1) == Some(&'@')
                    && at_line_start(&chars, i) =>
                {
                    mode = Mode::Code;
                    i += 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    if mode == Mode::HereDouble {
        return Err("here-string @\" not closed".into());
    }
    if let Some((open, opened, _)) = stack.pop() {
        return Err(format!("line {opened}: {open} not closed"));
    }
    Ok(())
}

#[test]
fn powershell_scripts_parse() {
    let mut checked = 0;
    for entry in fs::read_dir(deploy_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ps1") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        check_powershell(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Windows PowerShell 5.1 reads a BOM-less script as ANSI: keep them ASCII.
        assert!(text.is_ascii(), "{}: not ASCII", path.display());
        checked += 1;
    }
    assert_eq!(checked, 3);

    // The checker catches what it should.
    assert!(check_powershell("if ($a) { 'x' }").is_ok());
    assert!(check_powershell("\"$($env:A)-$(Get-Date)\" # ) } comment").is_ok());
    assert!(check_powershell("'it''s' + \"a `\"b`\" \"\"c\"\"\"").is_ok());
    assert!(check_powershell("$x = @\"\n ) } \" \n\"@\n$y = @'\n{\n'@\n").is_ok());
    assert!(check_powershell("<# ) #>\nexit 0").is_ok());
    assert!(check_powershell("a#b { }").is_ok());
    assert!(check_powershell("if ($a) { 'x'")
        .unwrap_err()
        .contains("{ not closed"));
    assert!(check_powershell("f(a]").unwrap_err().contains("] closes ("));
    assert!(check_powershell("'abc").unwrap_err().contains("not closed"));
    assert!(check_powershell("\"abc")
        .unwrap_err()
        .contains("not closed"));
    assert!(check_powershell("\"$(x\"").is_err());
    assert!(check_powershell("<# abc")
        .unwrap_err()
        .contains("block comment"));
    assert!(check_powershell("$x = @\"\nabc\n")
        .unwrap_err()
        .contains("here-string"));
}

/// The batch file: CRLF line ends (cmd misreads labels without them), `goto` targets that
/// exist, parentheses and quotes that balance, `%` signs that pair up.
#[test]
fn cmd_script_is_well_formed() {
    let raw = fs::read(deploy_dir().join("gpo-logon.cmd")).unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert!(text.is_ascii());
    let bare_lf = text
        .match_indices('\n')
        .filter(|(i, _)| *i == 0 || text.as_bytes()[i - 1] != b'\r')
        .count();
    assert_eq!(
        bare_lf, 0,
        "gpo-logon.cmd needs CRLF line ends (see .gitattributes)"
    );

    let labels: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix(':'))
        .filter(|l| !l.starts_with(':'))
        .map(|l| l.trim().to_ascii_lowercase())
        .collect();
    let mut depth = 0i32;
    for (number, line) in logical_lines(&text, Lang::Cmd) {
        let lower = line.trim().to_ascii_lowercase();
        assert_eq!(
            line.matches('"').count() % 2,
            0,
            "line {number}: unbalanced quotes: {line}"
        );
        for word in ["goto ", "call :"] {
            if let Some(pos) = lower.find(word) {
                let target = lower[pos + word.len()..]
                    .trim_start_matches(':')
                    .split_whitespace()
                    .next()
                    .unwrap_or("");
                assert!(
                    target == "eof" || labels.contains(target),
                    "line {number}: no label :{target}"
                );
            }
        }
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                '(' if !quoted => depth += 1,
                ')' if !quoted => {
                    depth -= 1;
                    assert!(depth >= 0, "line {number}: ) closes nothing");
                }
                _ => {}
            }
        }
        // %NAME% pairs up: an odd count of lone % means a broken variable reference.
        let singles = line.replace("%%", "").matches('%').count();
        assert_eq!(singles % 2, 0, "line {number}: unpaired %: {line}");
    }
    assert_eq!(depth, 0, "unclosed parenthesis");
    assert!(labels.contains("report"));
    assert!(text.starts_with("@echo off"));
    assert!(text.contains("setlocal"));
}

// ---------------------------------------------------------------------------------------------
// The YAML files, as their engines read them.

#[test]
fn workflow_is_a_github_actions_workflow() {
    let workflow = yaml("github-validate.yml");
    assert!(workflow["name"].is_string());
    let on = workflow["on"].as_object().expect("`on` as a map of events");
    for event in ["push", "pull_request"] {
        assert!(on.contains_key(event), "runs on {event}");
    }
    let jobs = workflow["jobs"].as_object().expect("jobs");
    assert!(!jobs.is_empty());
    for (name, job) in jobs {
        assert!(job["runs-on"].is_string(), "job {name}: runs-on");
        let steps = job["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("job {name}: steps"));
        assert!(!steps.is_empty());
        let ids: BTreeSet<&str> = steps.iter().filter_map(|s| s["id"].as_str()).collect();
        for step in steps {
            let step = step.as_object().unwrap();
            assert!(
                step.contains_key("uses") != step.contains_key("run"),
                "job {name}: a step has `uses` or `run`: {step:?}"
            );
            if let Some(action) = step.get("uses").and_then(Value::as_str) {
                assert!(action.contains('@'), "{action}: pin a version");
            }
            // `steps.<id>` in expressions names a step of this job.
            let text = serde_json::to_string(step).unwrap();
            for (pos, _) in text.match_indices("steps.") {
                let id: String = text[pos + 6..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                assert!(
                    ids.contains(id.as_str()),
                    "job {name}: no step with id {id:?}"
                );
            }
        }
        assert!(steps.iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/checkout@"))));
    }
}

/// All tasks of a play, including those inside `block`/`rescue`/`always`.
fn tasks_of(tasks: &Value, out: &mut Vec<Value>) {
    for task in tasks.as_array().expect("a list of tasks") {
        let mut nested = false;
        for key in ["block", "rescue", "always"] {
            if let Some(inner) = task.get(key) {
                tasks_of(inner, out);
                nested = true;
            }
        }
        if !nested {
            out.push(task.clone());
        }
    }
}

#[test]
fn playbook_is_an_ansible_playbook_for_windows() {
    let playbook = yaml("ansible-playbook.yml");
    let plays = playbook.as_array().expect("a playbook is a list of plays");
    assert_eq!(plays.len(), 2);
    let play = &plays[0];
    assert_eq!(play["hosts"], "microsip_workstations");
    let mut tasks = Vec::new();
    tasks_of(&play["tasks"], &mut tasks);
    let module_of = |task: &Value| -> String {
        task.as_object()
            .unwrap()
            .keys()
            .find(|k| k.contains('.'))
            .cloned()
            .unwrap_or_else(|| panic!("a task without a fully qualified module: {task}"))
    };
    let modules: Vec<String> = tasks.iter().map(module_of).collect();
    for module in [
        "ansible.windows.win_copy",
        "ansible.windows.win_command",
        "ansible.windows.win_file",
    ] {
        assert!(
            modules.iter().any(|m| m == module),
            "uses {module}: {modules:?}"
        );
    }
    for task in &tasks {
        assert!(task["name"].is_string(), "every task is named: {task}");
    }

    // Every {{ variable }} is a play variable, registered by a task, or Ansible's own.
    let mut defined: BTreeSet<String> = play["vars"].as_object().unwrap().keys().cloned().collect();
    defined.extend(
        tasks
            .iter()
            .filter_map(|t| t["register"].as_str().map(String::from)),
    );
    defined.extend(
        [
            "item",
            "inventory_hostname",
            "ansible_check_mode",
            "ansible_diff_mode",
        ]
        .map(String::from),
    );
    let text = serde_json::to_string(&play).unwrap();
    for (pos, _) in text.match_indices("{{") {
        let name: String = text[pos + 2..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(defined.contains(&name), "{{{{ {name} }}}} is not defined");
    }

    let commands: Vec<&Value> = tasks
        .iter()
        .filter(|t| t.get("ansible.windows.win_command").is_some())
        .collect();
    assert_eq!(commands.len(), 2);
    for task in &commands {
        let module = &task["ansible.windows.win_command"];
        assert!(
            module["argv"].is_array(),
            "argv, so that Ansible quotes each argument"
        );
        assert_eq!(module["output_encoding_override"], "utf-8");
        assert!(task["register"].is_string());
        assert!(task["changed_when"].is_string() || task["changed_when"].is_boolean());
    }
    let verb = |task: &Value| {
        task["ansible.windows.win_command"]["argv"][1]
            .as_str()
            .unwrap()
            .to_string()
    };
    let plan = commands.iter().find(|t| verb(t) == "plan").unwrap();
    let apply = commands.iter().find(|t| verb(t) == "apply").unwrap();
    // Check mode is `plan`: it runs in check mode (check_mode: false) and only then.
    assert_eq!(plan["check_mode"], false);
    assert_eq!(plan["when"], "ansible_check_mode");
    assert_eq!(plan["changed_when"], "msp_plan.rc == 3");
    assert_eq!(plan["failed_when"], "msp_plan.rc not in [0, 3]");
    assert_eq!(apply["when"], "not ansible_check_mode");
    assert!(apply["changed_when"]
        .as_str()
        .unwrap()
        .contains("selectattr('outcome', 'equalto', 'changed')"));
    // Staging runs in check mode too (plan needs the files) and reports no change.
    for task in tasks.iter().filter(|t| {
        t.get("ansible.windows.win_copy").is_some()
            || t.get("ansible.windows.win_tempfile").is_some()
    }) {
        assert_eq!(task["check_mode"], false, "{task}");
        assert_eq!(task["changed_when"], false, "{task}");
    }
    // The secrets are not logged, and the staging folder goes in `always`.
    let secrets = tasks
        .iter()
        .find(|t| {
            t["ansible.windows.win_copy"]["src"]
                .as_str()
                .is_some_and(|s| s.contains("secrets"))
        })
        .expect("a task copying the secrets");
    assert_eq!(secrets["no_log"], true);
    let always = play["tasks"][0]["always"]
        .as_array()
        .expect("an always section");
    assert!(always
        .iter()
        .any(|t| t["ansible.windows.win_file"]["state"] == "absent"));
}

// ---------------------------------------------------------------------------------------------
// Under Wine: the batch file itself, through cmd.exe.

/// The logon script run for real by cmd.exe (Wine's, in the Windows CI stage): first logon
/// applies, the second changes nothing, and without the exe the share gets a "failed" line.
#[cfg(windows)]
#[test]
fn gpo_logon_cmd_runs_under_cmd_exe() {
    let logon = Logon::new();
    let netlogon = logon.root().join("netlogon");
    let reports = logon.root().join("reports");
    fs::copy(
        env!("CARGO_BIN_EXE_microsip-provision"),
        netlogon.join("microsip-provision.exe"),
    )
    .unwrap();
    let run = || -> Output {
        let mut command = Command::new("cmd");
        command.arg("/c").arg(deploy_dir().join("gpo-logon.cmd"));
        for (key, _) in std::env::vars() {
            if key.starts_with("MICROSIP_PROVISION_") || key.starts_with("MSP_") {
                command.env_remove(key);
            }
        }
        for name in ["APPDATA", "LOCALAPPDATA", "USERNAME", "COMPUTERNAME"] {
            command.env(name, &logon.vars[&name.to_ascii_lowercase()]);
        }
        command
            .env("MSP_HOME", &netlogon)
            .env("MSP_REPORTS", &reports)
            .output()
            .unwrap()
    };
    let output = run();
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    let log = PathBuf::from(&logon.vars["localappdata"])
        .join("microsip-provision")
        .join("provision.log");
    let outcomes = |path: &Path| -> Vec<String> {
        json_lines(path)
            .iter()
            .map(|l| l["outcome"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    assert_eq!(outcomes(&log), ["pending", "changed"]);
    let share = reports.join("PC01-bob.jsonl");
    assert_eq!(fs::read(&share).unwrap(), fs::read(&log).unwrap());
    let ini = crate::common::from_utf16le_bom(&fs::read(logon.ini()).unwrap());
    assert!(ini.contains("username=1002"), "{ini}");

    let output = run();
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    assert_eq!(outcomes(&log), ["pending", "changed", "unchanged"]);
    assert_eq!(outcomes(&share), ["pending", "changed", "unchanged"]);

    fs::remove_file(netlogon.join("microsip-provision.exe")).unwrap();
    let output = run();
    assert_ne!(output.status.code(), Some(0), "{}", text_of(&output));
    assert_eq!(outcomes(&share).last().unwrap(), "failed");
    let view = summarize_json(&reports);
    assert_eq!(view["counts"]["failing"], 1, "{view:#}");
    assert!(view["users"][0]["error"]
        .as_str()
        .unwrap()
        .contains("did not start"));
}

// ---------------------------------------------------------------------------------------------
// CLI polish: completions and the man page, generated from the clap definitions.

#[test]
fn completions_cover_the_verbs_and_flags() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = bin().args(["completions", shell]).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{shell}: {}",
            text_of(&output)
        );
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.len() > 1000, "{shell}: {script}");
        // fish spells long flags `-l profiles-root`.
        for word in ["apply", "profiles-root", "summarize", "if-running"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        if shell == "bash" || shell == "powershell" {
            assert!(script.contains("--profiles-root"), "{shell}");
        }
    }
    let output = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));

    // The bash script loads and registers itself (where there is a bash).
    #[cfg(unix)]
    if Command::new("bash").arg("--version").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("microsip-provision.bash");
        let script = bin().args(["completions", "bash"]).output().unwrap().stdout;
        fs::write(&file, script).unwrap();
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}' && complete -p microsip-provision",
                file.display()
            ))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
        assert!(String::from_utf8_lossy(&output.stdout).contains("microsip-provision"));
    }
}

#[test]
fn man_page_documents_every_verb() {
    let output = bin().arg("man").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    let page = String::from_utf8(output.stdout).unwrap();
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"))
        .unwrap();
    assert!(first.starts_with(".TH microsip-provision 1"), "{first}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH COMMANDS"] {
        assert!(page.contains(section), "no {section}");
    }
    for verb in [
        "APPLY",
        "PLAN",
        "VALIDATE",
        "REPORT SUMMARIZE",
        "INI GET",
        "COMPLETIONS",
        "MAN",
    ] {
        let heading = format!(".SH \"MICROSIP\\-PROVISION {}\"", verb.replace('-', "\\-"));
        assert!(page.contains(&heading), "no section {heading}");
    }
    for flag in [
        "\\-\\-profiles\\-root",
        "\\-\\-if\\-running",
        "MICROSIP_PROVISION_LOG_FILE",
        "Exit codes",
    ] {
        assert!(page.contains(flag), "the page lacks {flag}");
    }
    assert!(
        !page.contains("(1)\n"),
        "no references to per-verb pages that do not exist"
    );

    // groff reads it without a warning (where groff is installed).
    #[cfg(unix)]
    if Command::new("groff").arg("--version").output().is_ok() {
        let mut child = Command::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text_of(&output));
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "",
            "groff warnings"
        );
    }
}
