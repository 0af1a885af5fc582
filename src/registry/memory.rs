//! [`MemoryRegistry`]: an in-memory [`Registry`] for tests, case-insensitive like Windows, that
//! counts writes and can be told to fail.

use std::collections::BTreeMap;
use std::io;
use std::sync::Mutex;

use super::{Hive, RegData, Registry, RegistryValue, ValuePath};

/// Lookup key: hive, lowercased key path, lowercased value name.
type Slot = (Hive, String, Option<String>);

#[derive(Debug, Default)]
struct State {
    /// Slot -> the value as written (original spelling).
    values: BTreeMap<Slot, RegistryValue>,
    /// Mutating calls that reached the store (`set`, `delete`, `delete_key`), failed ones excluded.
    writes: usize,
    /// Lowercased key prefixes under which reads or writes fail, with the error kind to return.
    failing: Vec<(Hive, String, bool, io::ErrorKind)>,
}

/// An in-memory registry for tests. Not a stand-in for the real one: production code on a
/// platform without a registry gets [`super::RegistryError::NotApplicable`].
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    state: Mutex<State>,
}

fn slot(hive: Hive, key: &str, name: Option<&str>) -> Slot {
    (hive, key.to_lowercase(), name.map(str::to_lowercase))
}

/// Is `key` (lowercase) `prefix` itself or below it?
fn under(key: &str, prefix: &str) -> bool {
    key == prefix
        || key
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('\\'))
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> MemoryRegistry {
        MemoryRegistry::default()
    }

    /// A registry holding `values`.
    pub fn with(values: impl IntoIterator<Item = RegistryValue>) -> MemoryRegistry {
        let registry = MemoryRegistry::new();
        {
            let mut state = registry.lock();
            for value in values {
                state
                    .values
                    .insert(slot(value.hive, &value.key, value.name.as_deref()), value);
            }
        }
        registry
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every value, sorted by hive, key and name (case-insensitively).
    pub fn values(&self) -> Vec<RegistryValue> {
        self.lock().values.values().cloned().collect()
    }

    /// How many mutating calls succeeded so far.
    pub fn writes(&self) -> usize {
        self.lock().writes
    }

    /// Make writes (and, with `reads`, reads too) at or below `key` fail with `kind`, as an
    /// access-denied key would.
    pub fn fail_under(&self, hive: Hive, key: &str, reads: bool, kind: io::ErrorKind) {
        self.lock()
            .failing
            .push((hive, key.to_lowercase(), reads, kind));
    }

    fn check(state: &State, hive: Hive, key: &str, read: bool) -> io::Result<()> {
        let key = key.to_lowercase();
        for (h, prefix, reads, kind) in &state.failing {
            if *h == hive && under(&key, prefix) && (!read || *reads) {
                return Err(io::Error::new(*kind, "injected failure (MemoryRegistry)"));
            }
        }
        Ok(())
    }
}

impl Registry for MemoryRegistry {
    fn get(&self, path: &ValuePath) -> io::Result<Option<RegData>> {
        let state = self.lock();
        MemoryRegistry::check(&state, path.hive, &path.key, true)?;
        Ok(state
            .values
            .get(&slot(path.hive, &path.key, path.name.as_deref()))
            .map(|value| value.data.clone()))
    }

    fn set(&self, value: &RegistryValue) -> io::Result<()> {
        if let RegData::Sz(text) = &value.data {
            if text.contains('\0') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a REG_SZ value cannot contain a NUL character",
                ));
            }
        }
        let mut state = self.lock();
        MemoryRegistry::check(&state, value.hive, &value.key, false)?;
        state.values.insert(
            slot(value.hive, &value.key, value.name.as_deref()),
            value.clone(),
        );
        state.writes += 1;
        Ok(())
    }

    fn delete(&self, path: &ValuePath) -> io::Result<()> {
        let mut state = self.lock();
        MemoryRegistry::check(&state, path.hive, &path.key, false)?;
        state
            .values
            .remove(&slot(path.hive, &path.key, path.name.as_deref()));
        state.writes += 1;
        Ok(())
    }

    fn delete_key(&self, hive: Hive, key: &str) -> io::Result<()> {
        if key.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "refusing to delete a whole hive",
            ));
        }
        let mut state = self.lock();
        MemoryRegistry::check(&state, hive, key, false)?;
        let prefix = key.to_lowercase();
        state
            .values
            .retain(|(h, k, _), _| !(*h == hive && under(k, &prefix)));
        state.writes += 1;
        Ok(())
    }
}
