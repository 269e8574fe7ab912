//! A `[connections]` entry of the job file: a URL, or a URL and the file that holds its password.

use std::path::Path;

use super::Connection;
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

/// A connection as written: its URL, or `{ url = "...", password_file = "..." }` (a file, relative
/// to the job file, whose first line is the password).
pub(super) type ConnectionFile = toml::Value;

/// The URL and password file of a connection as written.
fn connection_parts(written: &ConnectionFile) -> std::result::Result<(&str, Option<&str>), String> {
    const SHAPE: &str = "a connection is a URL, or { url = \"...\", password_file = \"...\" }";
    match written {
        toml::Value::String(url) => Ok((url, None)),
        toml::Value::Table(table) => {
            if let Some(unknown) = table.keys().find(|key| !matches!(key.as_str(), "url" | "password_file")) {
                return Err(format!("unknown field `{unknown}`; {SHAPE}"));
            }
            let text = |key: &str| table.get(key).and_then(toml::Value::as_str);
            let url = text("url").ok_or_else(|| format!("no `url`; {SHAPE}"))?;
            let file = text("password_file").ok_or_else(|| format!("no `password_file`; {SHAPE}"))?;
            Ok((url, Some(file)))
        }
        _ => Err(SHAPE.to_string()),
    }
}

/// The connection `name` as written, checked: its URL parsed (relative paths from `base`), its
/// password read from its `password_file`.
pub(super) fn check_connection(name: &str, written: &ConnectionFile, origin: &str, base: &Path) -> Result<Connection> {
    let failed = |e: FerryError| FerryError::Job(format!("`{origin}`: connection `{name}`: {e}"));
    let (url, password_file) = connection_parts(written).map_err(|e| failed(FerryError::Job(e)))?;
    let endpoint = Endpoint::parse(url, base).map_err(failed)?;
    let endpoint = match password_file {
        None => endpoint,
        Some(password_file) => {
            let file = base.join(password_file);
            let text = std::fs::read_to_string(&file)
                .map_err(|e| failed(FerryError::Job(format!("cannot read password_file `{}`: {e}", file.display()))))?;
            let password = text.lines().next().unwrap_or_default();
            endpoint.with_password(password).map_err(failed)?
        }
    };
    Ok(Connection::new(name, endpoint))
}

#[cfg(test)]
mod tests {
    use crate::job::{Overrides, Plan};

    #[test]
    fn a_password_file_gives_the_connection_its_password() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "p/ss?w#rd\nignored\n").unwrap();
        let load = |connection: &str| {
            let text = format!("[connections]\nwarehouse = {connection}\n");
            Plan::from_toml(&text, "ferry.toml", dir.path(), &Overrides::default())
        };
        let plan = load(r#"{ url = "postgres://bob@db/shop", password_file = "secret" }"#).unwrap();
        let endpoint = &plan.connections["warehouse"].endpoint;
        assert_eq!(endpoint.masked(), "postgres://bob:***@db/shop");
        let config: tokio_postgres::Config = endpoint.secret_url().parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"p/ss?w#rd"[..]));
        for (connection, error) in [
            (
                r#"{ url = "postgres://bob:x@db/shop", password_file = "secret" }"#,
                "`ferry.toml`: connection `warehouse`: `postgres://bob:***@db/shop` has a password already; give it in the URL or in password_file, not both",
            ),
            (
                r#"{ url = "postgres://bob@db/shop", password_file = "missing" }"#,
                "`ferry.toml`: connection `warehouse`: cannot read password_file `",
            ),
            (
                r#"{ url = "sqlite://x.db", password_file = "secret" }"#,
                "takes no password: password_file is for postgres:// and mysql:// connections",
            ),
            (
                r#"{ url = "postgres://bob@db/shop", passwd = "secret" }"#,
                "`ferry.toml`: connection `warehouse`: unknown field `passwd`; a connection is a URL, or { url = \"...\", password_file = \"...\" }",
            ),
            ("3", "`ferry.toml`: connection `warehouse`: a connection is a URL, or { url = \"...\", password_file = \"...\" }"),
        ] {
            let message = load(connection).unwrap_err().to_string();
            assert!(message.starts_with(error) || message.ends_with(error), "{connection}: {message}");
        }
    }
}
