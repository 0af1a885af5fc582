//! Is MicroSIP running? It rewrites `[Settings]` when it exits, undoing our changes
//! (`crates.md` §5, `peers.md` §0), so `apply` checks before it writes.
//!
//! On Windows the process list is read with the Toolhelp snapshot API; elsewhere (Linux CI, and
//! Wine, whose Windows processes are Linux processes named after their exe) `/proc/*/comm` is
//! read. Either way the test is the executable name `microsip.exe`, case-insensitively.

/// The executable name MicroSIP runs as.
pub const MICROSIP_EXE: &str = "microsip.exe";

/// The process id of a running process whose executable is `exe` (e.g. [`MICROSIP_EXE`]; a
/// renamed portable MicroSIP runs under its own name, `microsip-formats.md` §1.1).
pub fn find_process(exe: &str) -> Option<u32> {
    imp::find(exe)
}

#[cfg(windows)]
mod imp {
    use windows_sys::Win32::Foundation::{CloseHandle, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, Process32FirstW, Process32NextW, PROCESSENTRY32W,
        TH32CS_SNAPPROCESS,
    };

    pub fn find(exe: &str) -> Option<u32> {
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
                let len = entry
                    .szExeFile
                    .iter()
                    .position(|&c| c == 0)
                    .unwrap_or(entry.szExeFile.len());
                let name = String::from_utf16_lossy(&entry.szExeFile[..len]);
                if name.eq_ignore_ascii_case(exe) {
                    found = Some(entry.th32ProcessID);
                    break;
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
    pub fn find(exe: &str) -> Option<u32> {
        // `comm` holds at most 15 bytes of the name; "microsip.exe" fits.
        let wanted: String = exe.chars().take(15).collect();
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .find_map(|entry| {
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
                comm.trim_end().eq_ignore_ascii_case(&wanted).then_some(pid)
            })
    }
}
