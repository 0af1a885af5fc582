//! [`SystemRegistry`]: the real registry. On Windows it calls the Win32 registry API through
//! `windows-sys` (`RegOpenKeyExW`/`RegCreateKeyExW`, `RegQueryValueExW`, `RegSetValueExW`,
//! `RegDeleteValueW`, `RegDeleteTreeW`), with UTF-16 names and `REG_SZ` data stored with its
//! terminating NUL. Elsewhere it cannot be opened: [`SystemRegistry::open`] returns
//! [`RegistryError::NotApplicable`], and no value of the type can exist.

use std::io;

use super::{Hive, RegData, Registry, RegistryError, RegistryValue, ValuePath};

/// The machine's registry, as the current user sees it (64-bit view).
#[derive(Debug)]
pub struct SystemRegistry {
    /// Uninhabited off Windows: the type exists everywhere, a value only on Windows.
    #[cfg(not(windows))]
    never: std::convert::Infallible,
    #[cfg(windows)]
    _private: (),
}

impl SystemRegistry {
    /// The registry on Windows; [`RegistryError::NotApplicable`] on any other platform.
    pub fn open() -> Result<SystemRegistry, RegistryError> {
        #[cfg(windows)]
        {
            Ok(SystemRegistry { _private: () })
        }
        #[cfg(not(windows))]
        {
            Err(RegistryError::not_applicable())
        }
    }
}

#[cfg(not(windows))]
impl Registry for SystemRegistry {
    fn get(&self, _: &ValuePath) -> io::Result<Option<RegData>> {
        match self.never {}
    }
    fn set(&self, _: &RegistryValue) -> io::Result<()> {
        match self.never {}
    }
    fn delete(&self, _: &ValuePath) -> io::Result<()> {
        match self.never {}
    }
    fn delete_key(&self, _: Hive, _: &str) -> io::Result<()> {
        match self.never {}
    }
}

#[cfg(windows)]
impl Registry for SystemRegistry {
    fn get(&self, path: &ValuePath) -> io::Result<Option<RegData>> {
        imp::get(path)
    }
    fn set(&self, value: &RegistryValue) -> io::Result<()> {
        imp::set(value)
    }
    fn delete(&self, path: &ValuePath) -> io::Result<()> {
        imp::delete(path)
    }
    fn delete_key(&self, hive: Hive, key: &str) -> io::Result<()> {
        imp::delete_key(hive, key)
    }
}

#[cfg(windows)]
mod imp {
    use std::io;
    use std::ptr;

    use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_SUCCESS};
    use windows_sys::Win32::System::Registry::{
        RegCloseKey, RegCreateKeyExW, RegDeleteKeyW, RegDeleteTreeW, RegDeleteValueW,
        RegOpenKeyExW, RegQueryValueExW, RegSetValueExW, HKEY, HKEY_CURRENT_USER,
        HKEY_LOCAL_MACHINE, KEY_QUERY_VALUE, KEY_SET_VALUE, REG_OPTION_NON_VOLATILE,
    };

    use super::super::{Hive, RegData, RegistryValue, ValuePath};

    /// An open key, closed on drop.
    struct Key(HKEY);

    impl Drop for Key {
        fn drop(&mut self) {
            // SAFETY: the handle came from RegOpenKeyExW/RegCreateKeyExW and is closed once.
            unsafe {
                RegCloseKey(self.0);
            }
        }
    }

    fn root(hive: Hive) -> HKEY {
        match hive {
            Hive::CurrentUser => HKEY_CURRENT_USER,
            Hive::LocalMachine => HKEY_LOCAL_MACHINE,
        }
    }

    /// NUL-terminated UTF-16. An interior NUL would silently cut the name, so it is refused.
    fn wide(text: &str) -> io::Result<Vec<u16>> {
        if text.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{text:?} contains a NUL character"),
            ));
        }
        Ok(text.encode_utf16().chain(std::iter::once(0)).collect())
    }

    /// A value name, or `None` for the default value (passed as a null pointer).
    fn wide_name(name: Option<&str>) -> io::Result<Option<Vec<u16>>> {
        name.map(wide).transpose()
    }

    fn name_ptr(name: &Option<Vec<u16>>) -> *const u16 {
        name.as_ref().map_or(ptr::null(), |n| n.as_ptr())
    }

    fn error(status: u32) -> io::Error {
        io::Error::from_raw_os_error(status as i32)
    }

    /// Open `key` with `access`; `Ok(None)` when it does not exist.
    fn open(hive: Hive, key: &str, access: u32) -> io::Result<Option<Key>> {
        let subkey = wide(key)?;
        let mut handle: HKEY = ptr::null_mut();
        // SAFETY: `subkey` is NUL-terminated and outlives the call; `handle` is a valid out pointer.
        let status = unsafe { RegOpenKeyExW(root(hive), subkey.as_ptr(), 0, access, &mut handle) };
        match status {
            ERROR_SUCCESS => Ok(Some(Key(handle))),
            ERROR_FILE_NOT_FOUND => Ok(None),
            other => Err(error(other)),
        }
    }

    pub fn get(path: &ValuePath) -> io::Result<Option<RegData>> {
        let Some(key) = open(path.hive, &path.key, KEY_QUERY_VALUE)? else {
            return Ok(None);
        };
        let name = wide_name(path.name.as_deref())?;
        let mut buffer: Vec<u8> = vec![0; 512];
        loop {
            let mut kind = 0u32;
            let mut size = buffer.len() as u32;
            // SAFETY: the key is open; `name` is NUL-terminated or null (default value); `buffer`
            // holds `size` writable bytes.
            let status = unsafe {
                RegQueryValueExW(
                    key.0,
                    name_ptr(&name),
                    ptr::null(),
                    &mut kind,
                    buffer.as_mut_ptr(),
                    &mut size,
                )
            };
            match status {
                ERROR_SUCCESS => {
                    buffer.truncate(size as usize);
                    return Ok(Some(RegData::from_bytes(kind, &buffer)));
                }
                ERROR_FILE_NOT_FOUND => return Ok(None),
                // `size` now holds the size needed (the value may grow again before the retry).
                ERROR_MORE_DATA => buffer.resize((size as usize).max(buffer.len() * 2), 0),
                other => return Err(error(other)),
            }
        }
    }

    pub fn set(value: &RegistryValue) -> io::Result<()> {
        if let RegData::Sz(text) = &value.data {
            if text.contains('\0') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a REG_SZ value cannot contain a NUL character",
                ));
            }
        }
        let subkey = wide(&value.key)?;
        let name = wide_name(value.name.as_deref())?;
        let data = value.data.to_bytes();
        let size = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "value too large"))?;
        let mut handle: HKEY = ptr::null_mut();
        // SAFETY: `subkey` is NUL-terminated; class and security attributes may be null;
        // `handle` is a valid out pointer; the disposition is not asked for.
        let status = unsafe {
            RegCreateKeyExW(
                root(value.hive),
                subkey.as_ptr(),
                0,
                ptr::null(),
                REG_OPTION_NON_VOLATILE,
                KEY_SET_VALUE,
                ptr::null(),
                &mut handle,
                ptr::null_mut(),
            )
        };
        if status != ERROR_SUCCESS {
            return Err(error(status));
        }
        let key = Key(handle);
        // SAFETY: the key is open with KEY_SET_VALUE; `name` is NUL-terminated or null; `data`
        // holds `size` bytes (REG_SZ data includes its terminating NUL, as the API requires).
        let status = unsafe {
            RegSetValueExW(
                key.0,
                name_ptr(&name),
                0,
                value.data.kind(),
                data.as_ptr(),
                size,
            )
        };
        match status {
            ERROR_SUCCESS => Ok(()),
            other => Err(error(other)),
        }
    }

    pub fn delete(path: &ValuePath) -> io::Result<()> {
        let Some(key) = open(path.hive, &path.key, KEY_SET_VALUE)? else {
            return Ok(());
        };
        let name = wide_name(path.name.as_deref())?;
        // SAFETY: the key is open with KEY_SET_VALUE; `name` is NUL-terminated or null.
        let status = unsafe { RegDeleteValueW(key.0, name_ptr(&name)) };
        match status {
            ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
            other => Err(error(other)),
        }
    }

    pub fn delete_key(hive: Hive, key: &str) -> io::Result<()> {
        if key.trim_matches('\\').is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "refusing to delete a whole hive",
            ));
        }
        let subkey = wide(key)?;
        // SAFETY: `subkey` is NUL-terminated and names a key below the predefined root; both calls
        // only read it.
        let status = unsafe { RegDeleteTreeW(root(hive), subkey.as_ptr()) };
        match status {
            ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => {}
            other => return Err(error(other)),
        }
        // RegDeleteTreeW removes the key itself too; this only matters on implementations that
        // leave the emptied key behind.
        // SAFETY: as above.
        let status = unsafe { RegDeleteKeyW(root(hive), subkey.as_ptr()) };
        match status {
            ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
            other => Err(error(other)),
        }
    }
}
