//! One run of a migration at a time, across processes and machines: a lock held in the
//! migration's target for the whole run (each engine takes its own kind: PostgreSQL advisory
//! lock, MySQL `GET_LOCK`; for a SQLite file or a local Parquet folder, a locked file in the
//! system's temporary folder named after the target's path). The lock lives with its session or
//! open file, so a process that dies releases it.

use std::path::Path;

use async_trait::async_trait;

use crate::error::{FerryError, Result};

/// Held while a migration runs. [`MigrationLock::release`] frees it at once; dropping it
/// frees it too, but only when the server notices the closed session, a moment later.
pub struct MigrationLock {
    held: Box<dyn HeldLock>,
}

/// What an engine holds for a lock: closing it (dropping it) releases the lock.
#[async_trait]
pub trait HeldLock: Send {
    /// Releases the lock before returning, so the next run finds it free.
    async fn release(self: Box<Self>);
}

impl MigrationLock {
    pub fn new(held: impl HeldLock + 'static) -> Self {
        MigrationLock { held: Box::new(held) }
    }

    /// Releases the lock before returning, so the next run (this process's or another's) finds
    /// it free. A release that fails leaves the lock to the closing session.
    pub async fn release(self) {
        self.held.release().await;
    }
}

/// The lock's name: one per target database and migration.
pub fn lock_name(migration: &str) -> String {
    format!("ferry:{migration}")
}

/// The error for a lock another process holds.
pub fn busy(migration: &str, target: &str) -> FerryError {
    FerryError::Busy {
        migration: migration.to_string(),
        message: format!("another ferry process holds its lock in `{target}`"),
    }
}

/// A locked file: the lock goes with the open file.
pub struct FileLock(#[allow(dead_code)] std::fs::File);

#[async_trait]
impl HeldLock for FileLock {
    async fn release(self: Box<Self>) {}
}

/// No lock at all (an object store has none): only this process's own check applies.
pub struct NoLock;

#[async_trait]
impl HeldLock for NoLock {
    async fn release(self: Box<Self>) {}
}

impl FileLock {
    /// Locks the file kept for `target`'s migration, or fails with `busy`.
    pub fn take(target: &Path, migration: &str, busy: impl Fn() -> FerryError) -> Result<FileLock> {
        lock_file(target, migration, busy).map(FileLock)
    }
}

/// A lock file for `target`'s migration, outside the user's folders (which it would clutter).
fn lock_file(target: &Path, migration: &str, busy: impl Fn() -> FerryError) -> Result<std::fs::File> {
    let folder = std::env::temp_dir().join("ferry-locks");
    std::fs::create_dir_all(&folder).map_err(|source| FerryError::Io { path: folder.clone(), source })?;
    let path = folder.join(format!("{:016x}-{migration}.lock", fnv1a(&absolute(target))));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| FerryError::Io { path: path.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(busy()),
        Err(std::fs::TryLockError::Error(source)) => Err(FerryError::Io { path, source }),
    }
}

/// `path` made absolute and canonical as far as it exists (a target file may not exist yet).
fn absolute(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match std::fs::canonicalize(path).or_else(|_| std::fs::canonicalize(parent).map(|p| p.join(&name))) {
        Ok(full) => full.to_string_lossy().into_owned(),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// A hash that every ferry version computes alike (so two versions find the same lock file).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}
