//! Connection URLs: `${VAR}` expansion, parsing into a [`Endpoint`], and masking of passwords
//! so that no message, log line or report ever shows one.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{FerryError, Result};

/// Where a connection points, parsed and checked, secrets included (never print this with
/// `{:?}` in user-facing text; use [`Endpoint::masked`]). What each kind can do is its
/// backend's to say (`db::open`).
#[derive(Clone, PartialEq, Eq)]
pub enum Endpoint {
    Postgres(url::Url),
    Mysql(url::Url),
    Sqlite(PathBuf),
    /// A directory of Parquet files: `file://` (absolute, resolved) or any object_store URL.
    Parquet(url::Url),
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Endpoint {
    /// Parses a connection URL. `${VAR}` is replaced from the environment; a relative SQLite
    /// or `file://` path is resolved against `base` (the job file's folder).
    pub fn parse(raw: &str, base: &Path) -> Result<Endpoint> {
        let expanded = expand_env(raw)?;
        let text = expanded.trim();
        let scheme = text.split("://").next().unwrap_or_default();
        if !text.contains("://") {
            return Err(bad_url(text, "it has no scheme; use postgres://, mysql://, sqlite://, file:// or s3://"));
        }
        match scheme {
            "postgres" | "postgresql" => Ok(Endpoint::Postgres(parse_server_url(text)?)),
            "mysql" | "mariadb" => {
                let mut url = parse_server_url(text)?;
                if scheme == "mariadb" {
                    url = url::Url::parse(&text.replacen("mariadb://", "mysql://", 1))
                        .map_err(|e| bad_url(text, &e.to_string()))?;
                }
                if url.path().trim_matches('/').is_empty() {
                    return Err(bad_url(text, "it names no database; add `/DATABASE`"));
                }
                Ok(Endpoint::Mysql(url))
            }
            "sqlite" => {
                let path = text.trim_start_matches("sqlite://");
                if path.is_empty() {
                    return Err(bad_url(text, "it names no file; use sqlite://path/to/file.db"));
                }
                Ok(Endpoint::Sqlite(base.join(path)))
            }
            "file" => {
                let path = text.trim_start_matches("file://");
                if path.is_empty() {
                    return Err(bad_url(text, "it names no directory; use file://path/to/dir"));
                }
                let absolute = absolute(&base.join(path));
                let url = url::Url::from_directory_path(&absolute)
                    .map_err(|_| bad_url(text, "the path is not a valid directory path"))?;
                Ok(Endpoint::Parquet(url))
            }
            "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" | "memory" | "http" | "https" => {
                let url = url::Url::parse(text).map_err(|e| bad_url(text, &e.to_string()))?;
                Ok(Endpoint::Parquet(url))
            }
            other => Err(bad_url(
                text,
                &format!("unknown scheme `{other}`; use postgres://, mysql://, sqlite://, file:// or s3://"),
            )),
        }
    }

    /// The same connection with `password` (a job file's `password_file`); an error when the URL
    /// has a password already or the connection takes none.
    pub fn with_password(self, password: &str) -> Result<Endpoint> {
        match self {
            Endpoint::Postgres(mut url) | Endpoint::Mysql(mut url) if url.password().is_none() => {
                let is_postgres = matches!(url.scheme(), "postgres" | "postgresql");
                url.set_password(Some(password))
                    .map_err(|()| FerryError::Job(format!("`{}` cannot take a password", mask_url(&url))))?;
                Ok(if is_postgres { Endpoint::Postgres(url) } else { Endpoint::Mysql(url) })
            }
            Endpoint::Postgres(url) | Endpoint::Mysql(url) => Err(FerryError::Job(format!(
                "`{}` has a password already; give it in the URL or in password_file, not both",
                mask_url(&url)
            ))),
            other => Err(FerryError::Job(format!(
                "`{other}` takes no password: password_file is for postgres:// and mysql:// connections"
            ))),
        }
    }

    /// The URL with its password replaced by `***`: the only form that may be shown.
    pub fn masked(&self) -> String {
        match self {
            Endpoint::Postgres(url) | Endpoint::Mysql(url) | Endpoint::Parquet(url) => mask_url(url),
            Endpoint::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }

    /// The URL with its secrets, for handing to a driver only. A MySQL URL without a password
    /// takes `MYSQL_PWD`'s, as MySQL's own clients do (PostgreSQL's come from `PGPASSWORD` or
    /// `~/.pgpass` when its sessions open).
    pub fn secret_url(&self) -> String {
        match self {
            Endpoint::Mysql(url) if url.password().is_none() => {
                let mut url = url.clone();
                if let Some(password) = std::env::var("MYSQL_PWD").ok().filter(|p| !p.is_empty()) {
                    let _ = url.set_password(Some(&password));
                }
                url.to_string()
            }
            Endpoint::Postgres(url) | Endpoint::Mysql(url) | Endpoint::Parquet(url) => url.to_string(),
            Endpoint::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }
}

/// The URL with its password, and any `password=` query parameter, replaced by `***`.
pub fn mask_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    mask_text(shown.as_str())
}

/// Query parameters whose values are secrets.
const SECRET_PARAMETERS: [&str; 3] = ["password", "sslpassword", "pwd"];

fn parse_server_url(text: &str) -> Result<url::Url> {
    let url = url::Url::parse(text).map_err(|e| bad_url(text, &e.to_string()))?;
    if url.host_str().unwrap_or_default().is_empty() {
        return Err(bad_url(text, "it names no host"));
    }
    Ok(url)
}

fn bad_url(text: &str, why: &str) -> FerryError {
    FerryError::Job(format!("malformed connection URL `{}`: {why}", mask_text(text)))
}

/// Masks the secrets of every URL in `text`, which may not parse as one (a driver's message, a
/// password with an unencoded `/`, `?` or `#`): what follows `user:` up to the URL's last `@`, and
/// the values of `password=` query parameters.
pub fn mask_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let token_end = rest[found + 3..]
            .find(|c: char| c.is_whitespace() || matches!(c, '`' | '\'' | '"' | '<' | '>'))
            .map_or(rest.len(), |end| found + 3 + end);
        out.push_str(&rest[..found + 3]);
        out.push_str(&mask_token(&rest[found + 3..token_end]));
        rest = &rest[token_end..];
    }
    out.push_str(rest);
    out
}

/// One URL after its `scheme://`.
fn mask_token(token: &str) -> String {
    let mut masked = match (token.rfind('@'), token.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!("{}:***{}", &token[..colon], &token[at..]),
        _ => token.to_string(),
    };
    for name in SECRET_PARAMETERS {
        let mut from = 0;
        while let Some(found) = masked[from..].find(&format!("{name}=")).map(|at| from + at) {
            let starts_parameter = found > 0 && matches!(masked.as_bytes()[found - 1], b'?' | b'&' | b';');
            let value = found + name.len() + 1;
            let end = masked[value..].find(['&', ';']).map_or(masked.len(), |end| value + end);
            if starts_parameter && end > value {
                masked.replace_range(value..end, "***");
            }
            from = value.min(masked.len());
        }
    }
    masked
}

/// Replaces every `${VAR}` with the environment variable's value, and `${VAR:-default}` with
/// the default when the variable is unset or empty.
pub fn expand_env(text: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(FerryError::Job(format!("unclosed `${{` in `{}`; write `${{NAME}}`", mask_text(text))));
        };
        let (name, default) = match after[..end].split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (&after[..end], None),
        };
        let value = match (std::env::var(name), default) {
            (Ok(value), _) if !value.is_empty() => value,
            (_, Some(default)) => default.to_string(),
            (Ok(value), None) => value,
            (Err(_), None) => {
                return Err(FerryError::Job(format!(
                    "environment variable `{name}` used in `{}` is not set; export it, or write `${{{name}:-default}}`",
                    mask_text(text)
                )))
            }
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir().map(|dir| dir.join(path)).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_everywhere() {
        let endpoint = Endpoint::parse("postgres://bob:s3cret@db:5432/app", Path::new(".")).unwrap();
        assert_eq!(endpoint.masked(), "postgres://bob:***@db:5432/app");
        assert!(!format!("{endpoint:?}").contains("s3cret"));
        assert_eq!(mask_text("mysql://u:pw@h/db"), "mysql://u:***@h/db");
        assert_eq!(mask_text("mysql://u@h/db"), "mysql://u@h/db");
        // Every URL of a message, unencoded characters in the password, and query passwords.
        assert_eq!(
            mask_text("from `postgres://a:p/s?w#d@h:1/x` to mysql://b:q@h/y failed"),
            "from `postgres://a:***@h:1/x` to mysql://b:***@h/y failed"
        );
        assert_eq!(
            mask_text("postgres://h/db?user=a&password=s3cret&sslmode=require"),
            "postgres://h/db?user=a&password=***&sslmode=require"
        );
        let endpoint = Endpoint::parse("postgres://h/db?password=s3cret", Path::new(".")).unwrap();
        assert_eq!(endpoint.masked(), "postgres://h/db?password=***");
    }

    #[test]
    fn expands_environment_variables() {
        std::env::set_var("FERRY_TEST_EXPAND_HOST", "example");
        assert_eq!(expand_env("postgres://${FERRY_TEST_EXPAND_HOST}/x").unwrap(), "postgres://example/x");
        assert_eq!(expand_env("${FERRY_TEST_NOT_SET_ANYWHERE:-sqlite://a.db}").unwrap(), "sqlite://a.db");
        let error = expand_env("postgres://${FERRY_TEST_NOT_SET_ANYWHERE}/x").unwrap_err();
        assert!(error.to_string().contains("`FERRY_TEST_NOT_SET_ANYWHERE` used in"));
    }

    #[test]
    fn rejects_bad_urls_with_the_password_masked() {
        let error = Endpoint::parse("oracle://u:pw@h/db", Path::new(".")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "malformed connection URL `oracle://u:***@h/db`: unknown scheme `oracle`; use postgres://, mysql://, sqlite://, file:// or s3://"
        );
        let error = Endpoint::parse("mysql://root@localhost", Path::new(".")).unwrap_err();
        assert!(error.to_string().contains("names no database"));
        let error = Endpoint::parse("localhost:5432", Path::new(".")).unwrap_err();
        assert!(error.to_string().contains("no scheme"));
    }

    #[test]
    fn resolves_relative_paths_against_the_job_folder() {
        let endpoint = Endpoint::parse("sqlite://data/x.db", Path::new("/jobs")).unwrap();
        assert_eq!(endpoint, Endpoint::Sqlite(PathBuf::from("/jobs/data/x.db")));
        let endpoint = Endpoint::parse("file://out", Path::new("/jobs")).unwrap();
        assert_eq!(endpoint.masked(), "file:///jobs/out/");
    }
}
