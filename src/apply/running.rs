//! Is MicroSIP running for this user? It rewrites `[Settings]` when it exits, undoing our changes
//! (`crates.md` §5, `peers.md` §0), so `apply` checks before it writes and, as asked with
//! `--if-running`, skips the profile, waits for MicroSIP to exit, or stops and restarts it.
//!
//! The process table sits behind the [`MicrosipProcesses`] trait so tests can fake a running
//! MicroSIP on any OS. [`SystemProcesses`] reads the real one: on Windows with the Toolhelp snapshot
//! API, matching the process owner against the profile's user (on a terminal server every user
//! runs their own MicroSIP); elsewhere (Linux CI, and Wine, whose Windows processes are Linux
//! processes named after their exe) from `/proc/*/comm`. Either way the test is the executable
//! name, `microsip.exe` unless a renamed portable copy says otherwise.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The executable name MicroSIP runs as.
pub const MICROSIP_EXE: &str = "microsip.exe";

/// The user name that asks [`MicrosipProcesses::find`] for anyone's MicroSIP.
pub const ANY_USER: &str = "*";

/// A running MicroSIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningMicrosip {
    /// Its process id.
    pub pid: u32,
    /// Its executable, when the OS tells (needed to stop and restart it).
    pub exe: Option<PathBuf>,
}

/// Access to running MicroSIP processes.
pub trait MicrosipProcesses {
    /// A MicroSIP running for `user` ([`ANY_USER`]: for anyone), if any.
    fn find(&self, user: &str) -> Option<RunningMicrosip>;
    /// Ask it to quit the way MicroSIP documents: `microsip.exe /exit`.
    fn request_exit(&self, process: &RunningMicrosip) -> io::Result<()>;
    /// Start it again in the tray: `microsip.exe /minimized`.
    fn start_minimized(&self, process: &RunningMicrosip) -> io::Result<()>;
}

/// The real process table.
#[derive(Debug, Clone)]
pub struct SystemProcesses {
    exe_name: String,
}

impl SystemProcesses {
    /// Look for processes whose executable is `exe_name` (e.g. [`MICROSIP_EXE`]).
    pub fn new(exe_name: impl Into<String>) -> SystemProcesses {
        SystemProcesses {
            exe_name: exe_name.into(),
        }
    }
}

impl Default for SystemProcesses {
    fn default() -> Self {
        SystemProcesses::new(MICROSIP_EXE)
    }
}

impl MicrosipProcesses for SystemProcesses {
    fn find(&self, user: &str) -> Option<RunningMicrosip> {
        imp::find(&self.exe_name, user)
    }

    fn request_exit(&self, process: &RunningMicrosip) -> io::Result<()> {
        let exe = process.exe.as_ref().ok_or_else(|| {
            io::Error::other(format!(
                "cannot tell where MicroSIP (process {}) was started from, so it cannot be asked to exit",
                process.pid
            ))
        })?;
        std::process::Command::new(exe).arg("/exit").spawn()?;
        Ok(())
    }

    fn start_minimized(&self, process: &RunningMicrosip) -> io::Result<()> {
        let exe = process
            .exe
            .as_ref()
            .ok_or_else(|| io::Error::other("MicroSIP's executable is unknown"))?;
        std::process::Command::new(exe).arg("/minimized").spawn()?;
        Ok(())
    }
}

/// Poll until no MicroSIP runs for `user`, at most `timeout`. Returns whether it is gone.
pub fn wait_until_gone(processes: &dyn MicrosipProcesses, user: &str, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        if processes.find(user).is_none() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(windows)]
mod imp {
    use std::path::PathBuf;

    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::Security::{
        GetTokenInformation, LookupAccountSidW, TokenUser, TOKEN_QUERY, TOKEN_USER,
    };
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, Process32FirstW, Process32NextW, PROCESSENTRY32W,
        TH32CS_SNAPPROCESS,
    };
    use windows_sys::Win32::System::Threading::{
        OpenProcess, OpenProcessToken, QueryFullProcessImageNameW,
        PROCESS_QUERY_LIMITED_INFORMATION,
    };

    use super::{RunningMicrosip, ANY_USER};

    fn wide_to_string(buffer: &[u16]) -> String {
        let len = buffer.iter().position(|&c| c == 0).unwrap_or(buffer.len());
        String::from_utf16_lossy(&buffer[..len])
    }

    /// The process's owner account name and executable path, when the OS lets us ask.
    fn owner_and_exe(pid: u32) -> (Option<String>, Option<PathBuf>) {
        // SAFETY: every handle is checked before use and closed; buffers are sized as the APIs
        // report.
        unsafe {
            let process: HANDLE = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
            if process.is_null() {
                return (None, None);
            }
            let mut path = [0u16; 1024];
            let mut size = path.len() as u32;
            let exe = (QueryFullProcessImageNameW(process, 0, path.as_mut_ptr(), &mut size) != 0)
                .then(|| PathBuf::from(wide_to_string(&path[..size as usize])));
            let mut owner = None;
            let mut token: HANDLE = std::ptr::null_mut();
            if OpenProcessToken(process, TOKEN_QUERY, &mut token) != 0 {
                let mut buffer = [0u8; 256];
                let mut needed = 0u32;
                if GetTokenInformation(
                    token,
                    TokenUser,
                    buffer.as_mut_ptr().cast(),
                    buffer.len() as u32,
                    &mut needed,
                ) != 0
                {
                    let user = &*(buffer.as_ptr() as *const TOKEN_USER);
                    let mut name = [0u16; 256];
                    let mut name_len = name.len() as u32;
                    let mut domain = [0u16; 256];
                    let mut domain_len = domain.len() as u32;
                    let mut kind = 0;
                    if LookupAccountSidW(
                        std::ptr::null(),
                        user.User.Sid,
                        name.as_mut_ptr(),
                        &mut name_len,
                        domain.as_mut_ptr(),
                        &mut domain_len,
                        &mut kind,
                    ) != 0
                    {
                        owner = Some(wide_to_string(&name));
                    }
                }
                CloseHandle(token);
            }
            CloseHandle(process);
            (owner, exe)
        }
    }

    pub fn find(exe: &str, user: &str) -> Option<RunningMicrosip> {
        let wanted_user = crate::manifest::normalize_user_name(user);
        // SAFETY: the snapshot handle is checked and closed; the entry struct is sized as the
        // API requires before the first call.
        unsafe {
            let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
            if snapshot == INVALID_HANDLE_VALUE {
                return None;
            }
            let mut entry: PROCESSENTRY32W = std::mem::zeroed();
            entry.dwSize = std::mem::size_of::<PROCESSENTRY32W>() as u32;
            let mut found = None;
            let mut ok = Process32FirstW(snapshot, &mut entry) != 0;
            while ok {
                if wide_to_string(&entry.szExeFile).eq_ignore_ascii_case(exe) {
                    let pid = entry.th32ProcessID;
                    let (owner, exe_path) = owner_and_exe(pid);
                    // An owner we cannot read counts as this user's: better skip than undo.
                    // `*` asks for anyone's MicroSIP.
                    let mine = user == ANY_USER
                        || owner.is_none_or(|o| {
                            crate::manifest::normalize_user_name(&o) == wanted_user
                        });
                    if mine {
                        found = Some(RunningMicrosip { pid, exe: exe_path });
                        break;
                    }
                }
                ok = Process32NextW(snapshot, &mut entry) != 0;
            }
            CloseHandle(snapshot);
            found
        }
    }
}

#[cfg(not(windows))]
mod imp {
    use super::RunningMicrosip;

    /// `/proc` has no Windows user to compare: any process with the name counts.
    pub fn find(exe: &str, _user: &str) -> Option<RunningMicrosip> {
        // `comm` holds at most 15 bytes of the name; "microsip.exe" fits.
        let wanted: String = exe.chars().take(15).collect();
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .find_map(|entry| {
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
                comm.trim_end()
                    .eq_ignore_ascii_case(&wanted)
                    .then(|| RunningMicrosip {
                        pid,
                        exe: std::fs::read_link(entry.path().join("exe")).ok(),
                    })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    struct Fake {
        polls_until_gone: Cell<u32>,
    }

    impl MicrosipProcesses for Fake {
        fn find(&self, _user: &str) -> Option<RunningMicrosip> {
            let left = self.polls_until_gone.get();
            (left > 0).then(|| {
                self.polls_until_gone.set(left - 1);
                RunningMicrosip { pid: 7, exe: None }
            })
        }
        fn request_exit(&self, _: &RunningMicrosip) -> io::Result<()> {
            Ok(())
        }
        fn start_minimized(&self, _: &RunningMicrosip) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn waiting_ends_when_the_process_is_gone_or_on_timeout() {
        let fake = Fake {
            polls_until_gone: Cell::new(2),
        };
        assert!(wait_until_gone(&fake, "x", Duration::from_secs(5)));
        let stuck = Fake {
            polls_until_gone: Cell::new(u32::MAX),
        };
        assert!(!wait_until_gone(&stuck, "x", Duration::from_millis(150)));
    }

    #[test]
    fn system_processes_without_an_exe_cannot_be_stopped() {
        let error = SystemProcesses::default()
            .request_exit(&RunningMicrosip { pid: 1, exe: None })
            .unwrap_err();
        assert!(error.to_string().contains("process 1"));
    }
}
