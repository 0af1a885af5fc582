//! A MicroSIP profile on disk: which folder, which user, which files, and our bookkeeping in it.
//!
//! An installed MicroSIP keeps `microsip.ini`, `Contacts.xml` and `call_log.db` in
//! `%APPDATA%\MicroSIP`; a portable one keeps them next to the exe, with the INI named after the
//! exe (`microsip-formats.md` §1.1). [`Profile`] resolves those paths once; [`state`] is what we
//! remember in the INI's own `[microsip-provision]` section (which account slots we manage), and
//! [`fingerprint`] the proof, kept beside it, that a profile is still exactly as we left it.

pub mod discover;
pub mod fingerprint;
pub mod state;

use std::path::{Path, PathBuf};

/// The folder (inside a profile) where earlier versions kept their state file and backups (still
/// read once to move the state into the INI).
pub const TOOL_FOLDER: &str = "microsip-provision";

/// One user's MicroSIP profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The folder holding `microsip.ini`.
    pub dir: PathBuf,
    /// The INI file.
    pub ini_path: PathBuf,
    /// The user this profile belongs to (matched against the manifest's users).
    pub user: String,
}

/// How the profile was named on the command line.
#[derive(Debug, Clone, Default)]
pub struct ProfileSelection {
    /// `--profile DIR`: the folder holding `microsip.ini`.
    pub profile: Option<PathBuf>,
    /// `--portable DIR`: a portable install's folder (the INI sits next to the exe).
    pub portable: Option<PathBuf>,
    /// `--user NAME`.
    pub user: Option<String>,
}

/// Why no profile could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// Neither a flag nor `%APPDATA%` names the profile.
    #[error("no profile folder given and %APPDATA% is not set; pass --profile DIR (the folder holding microsip.ini)")]
    NoAppData,
    /// No user name could be found for the profile.
    #[error("cannot tell whose profile {0} is; pass --user NAME")]
    NoUser(PathBuf),
}

impl Profile {
    /// A profile in `dir`, with `microsip.ini` in it.
    pub fn in_dir(dir: impl Into<PathBuf>, user: impl Into<String>) -> Profile {
        let dir = dir.into();
        Profile {
            ini_path: dir.join("microsip.ini"),
            dir,
            user: user.into(),
        }
    }

    /// Resolve the command line's choice: `--profile`, `--portable`, or the current user's
    /// `%APPDATA%\MicroSIP`. The user is `--user`, else the folder name in front of `AppData`
    /// in the path (`…\jdoe\AppData\Roaming\MicroSIP`), else `%USERNAME%` (or `$USER`).
    pub fn select(selection: &ProfileSelection) -> Result<Profile, ProfileError> {
        let (dir, ini_name) = if let Some(dir) = &selection.profile {
            (dir.clone(), "microsip.ini".to_string())
        } else if let Some(dir) = &selection.portable {
            (dir.clone(), portable_ini_name(dir))
        } else {
            let appdata = std::env::var_os("APPDATA").ok_or(ProfileError::NoAppData)?;
            (
                PathBuf::from(appdata).join("MicroSIP"),
                "microsip.ini".to_string(),
            )
        };
        let user = match &selection.user {
            Some(user) => user.clone(),
            None => user_from_path(&dir)
                .or_else(current_user)
                .ok_or_else(|| ProfileError::NoUser(dir.clone()))?,
        };
        Ok(Profile {
            ini_path: dir.join(ini_name),
            dir,
            user,
        })
    }

    /// `<profile>\microsip-provision\`, where earlier versions kept their state file and
    /// backups.
    pub fn tool_dir(&self) -> PathBuf {
        self.dir.join(TOOL_FOLDER)
    }

    /// Where backups are kept: beside the files they back up, as `microsip.ini.<UTC
    /// timestamp>.bak` and `Contacts.xml.<UTC timestamp>.bak`. A backup is a hard link to the
    /// version being replaced, which only works within one folder of one volume, and keeping it
    /// there means a first apply creates no folder.
    pub fn backup_dir(&self) -> &Path {
        &self.dir
    }
}

/// A portable MicroSIP names its INI after its exe: `<exe base name>.ini` (§1.1).
fn portable_ini_name(dir: &Path) -> String {
    let exe = std::fs::read_dir(dir).ok().and_then(|entries| {
        entries.flatten().find_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let lower = name.to_ascii_lowercase();
            (lower.starts_with("microsip") && lower.ends_with(".exe"))
                .then(|| name[..name.len() - 4].to_string())
        })
    });
    format!("{}.ini", exe.unwrap_or_else(|| "microsip".to_string()))
}

/// `…/<user>/AppData/Roaming/MicroSIP` -> `<user>` (any case, either separator).
pub fn user_from_path(dir: &Path) -> Option<String> {
    let parts: Vec<String> = dir
        .to_string_lossy()
        .split(['/', '\\'])
        .map(str::to_string)
        .collect();
    let appdata = parts
        .iter()
        .rposition(|p| p.eq_ignore_ascii_case("AppData"))?;
    let user = parts.get(appdata.checked_sub(1)?)?;
    (!user.is_empty()).then(|| user.clone())
}

fn current_user() -> Option<String> {
    std::env::var("USERNAME")
        .or_else(|_| std::env::var("USER"))
        .ok()
        .filter(|u| !u.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_comes_from_the_path() {
        assert_eq!(
            user_from_path(Path::new("/srv/profiles/jdoe/AppData/Roaming/MicroSIP")).as_deref(),
            Some("jdoe")
        );
        assert_eq!(
            user_from_path(Path::new(r"C:\Users\Anna\appdata\Roaming\MicroSIP")).as_deref(),
            Some("Anna")
        );
        assert_eq!(user_from_path(Path::new("/tmp/x")), None);
    }

    #[test]
    fn portable_ini_is_named_after_the_exe() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("MicroSIP-lite.exe"), b"").unwrap();
        let profile = Profile::select(&ProfileSelection {
            portable: Some(dir.path().to_path_buf()),
            user: Some("x".into()),
            ..ProfileSelection::default()
        })
        .unwrap();
        assert_eq!(profile.ini_path, dir.path().join("MicroSIP-lite.ini"));
    }
}
