//! Opening a SQLite file, read-only for sources.

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

/// Opens the database file; a source must already exist, a target may be created.
pub fn sqlite_open(endpoint: &Endpoint, read_only: bool) -> Result<rusqlite::Connection> {
    let Endpoint::Sqlite(path) = endpoint else {
        return Err(FerryError::internal("sqlite_open on a non-SQLite endpoint"));
    };
    let flags = if read_only {
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        rusqlite::OpenFlags::default()
    };
    if read_only && !path.exists() {
        return Err(FerryError::Connection {
            url: endpoint.masked(),
            message: "the file does not exist; check the path (relative paths start at the job file's folder)".into(),
        });
    }
    let connection = rusqlite::Connection::open_with_flags(path, flags)
        .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })?;
    connection
        .busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })?;
    Ok(connection)
}

/// Rows of `sql` with positional `values`, every value as text (NULL as None).
pub fn text_rows(
    connection: &rusqlite::Connection,
    sql: &str,
    values: Vec<Option<String>>,
) -> rusqlite::Result<Vec<Vec<Option<String>>>> {
    let mut statement = connection.prepare(sql)?;
    let width = statement.column_count();
    let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
        (0..width)
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => None,
                    rusqlite::types::ValueRef::Integer(i) => Some(i.to_string()),
                    rusqlite::types::ValueRef::Real(f) => Some(f.to_string()),
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        Some(String::from_utf8_lossy(t).into_owned())
                    }
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()
    })?;
    rows.collect()
}
