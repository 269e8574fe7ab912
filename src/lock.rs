//! One run of a migration at a time, across processes and machines: a lock held in the
//! migration's target for the whole run (PostgreSQL advisory lock, MySQL `GET_LOCK`; for a
//! SQLite file or a local Parquet folder, a locked file in the system's temporary folder named
//! after the target's path). The lock lives with its session or open file, so a process that
//! dies releases it.

use std::path::Path;

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
use crate::source::{mysql_connect, pg_connect, pg_message};

/// Held while a migration runs. [`MigrationLock::release`] frees it at once; dropping it
/// frees it too, but only when the server notices the closed session, a moment later.
pub struct MigrationLock {
    held: Held,
    name: String,
}

/// The session or open file that holds the lock: closing it releases the lock.
enum Held {
    Postgres(tokio_postgres::Client),
    Mysql(Box<mysql::Conn>),
    #[allow(dead_code)] // kept for its drop, which unlocks the file
    File(std::fs::File),
    /// An object store has no lock: only this process's own check applies.
    Nothing,
}

/// The lock's name: one per target database and migration.
fn lock_name(migration: &str) -> String {
    format!("ferry:{migration}")
}

/// Takes the migration's lock in `target`, or says who holds it.
pub async fn lock_migration(target: &Endpoint, migration: &str) -> Result<MigrationLock> {
    let busy = || FerryError::Busy {
        migration: migration.to_string(),
        message: format!("another ferry process holds its lock in `{}`", target.masked()),
    };
    let held = match target {
        Endpoint::Postgres(_) => {
            let client = pg_connect(target).await?;
            let row = client
                .query_one("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", &[&lock_name(migration)])
                .await
                .map_err(|e| FerryError::Connection { url: target.masked(), message: pg_message(&e) })?;
            if !row.get::<_, bool>(0) {
                return Err(busy());
            }
            Held::Postgres(client)
        }
        Endpoint::Mysql(_) => {
            let endpoint = target.clone();
            let name = lock_name(migration);
            let locked = tokio::task::spawn_blocking(move || -> Result<Option<mysql::Conn>> {
                use mysql::prelude::Queryable;
                let mut connection = mysql_connect(&endpoint)?;
                // GET_LOCK names are server-wide: the database is part of the name (64 bytes at most).
                let got: Option<i64> = connection
                    .exec_first("SELECT GET_LOCK(LEFT(CONCAT(DATABASE(), ':', ?), 64), 0)", (name,))
                    .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })?;
                Ok((got == Some(1)).then_some(connection))
            })
            .await
            .map_err(FerryError::internal)??;
            Held::Mysql(Box::new(locked.ok_or_else(busy)?))
        }
        Endpoint::Sqlite(path) => Held::File(lock_file(path, migration, busy)?),
        Endpoint::Parquet(url) => match url.to_file_path() {
            Ok(dir) if url.scheme() == "file" => Held::File(lock_file(&dir, migration, busy)?),
            _ => Held::Nothing,
        },
    };
    Ok(MigrationLock { held, name: lock_name(migration) })
}

impl MigrationLock {
    /// Releases the lock before returning, so the next run (this process's or another's) finds
    /// it free. A release that fails leaves the lock to the closing session.
    pub async fn release(self) {
        let MigrationLock { held, name } = self;
        match held {
            Held::Postgres(client) => {
                let _ = client.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", &[&name]).await;
            }
            Held::Mysql(mut connection) => {
                let _ = tokio::task::spawn_blocking(move || {
                    use mysql::prelude::Queryable;
                    connection.exec_drop("DO RELEASE_LOCK(LEFT(CONCAT(DATABASE(), ':', ?), 64))", (name,))
                })
                .await;
            }
            Held::File(_) | Held::Nothing => {}
        }
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
