//! Where a PostgreSQL password comes from when the URL has none, as with libpq: `PGPASSWORD`,
//! then the password file (`PGPASSFILE`, else `~/.pgpass`), whose lines are
//! `host:port:database:user:password` with `*` matching anything and `\` escaping `:` and `\`.

use std::path::{Path, PathBuf};

use tokio_postgres::config::Host;
use tokio_postgres::Config;

/// Gives `config` a password from the environment or the password file, unless it has one.
pub fn fill(config: &mut Config) {
    if config.get_password().is_some() {
        return;
    }
    if let Some(password) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
        config.password(password);
        return;
    }
    let file = match std::env::var_os("PGPASSFILE") {
        Some(file) => PathBuf::from(file),
        None => match std::env::var_os("HOME") {
            Some(home) => Path::new(&home).join(".pgpass"),
            None => return,
        },
    };
    if let Some(password) = from_file(&file, config) {
        config.password(password);
    }
}

fn from_file(file: &Path, config: &Config) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(file = %file.display(), "the password file is readable by others and is ignored (chmod 0600 it)");
            return None;
        }
    }
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        _ => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = config.get_user().unwrap_or_default().to_string();
    let database = config.get_dbname().map_or_else(|| user.clone(), str::to_string);
    let wanted = [host.as_str(), port.as_str(), database.as_str(), user.as_str()];
    text.lines().filter(|line| !line.trim_start().starts_with('#')).find_map(|line| {
        let fields = fields(line);
        let [h, p, d, u, password] = fields.as_slice() else { return None };
        let matches = [h, p, d, u].iter().zip(wanted).all(|(field, value)| *field == "*" || *field == value);
        matches.then(|| password.clone())
    })
}

/// A line's fields, split on unescaped `:`.
fn fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut escaped = false;
    for c in line.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, ':') => fields.push(String::new()),
            (_, c) => {
                escaped = false;
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_lines_match_as_libpq_matches_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "# comment\nother:5432:*:bob:no\ndb:*:shop:bob:p\\:w\\\\d\n*:*:*:*:fallback\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let config = |url: &str| url.parse::<Config>().unwrap();
        assert_eq!(from_file(&file, &config("postgres://bob@db:6000/shop")), Some("p:w\\d".to_string()));
        assert_eq!(from_file(&file, &config("postgres://eve@elsewhere/x")), Some("fallback".to_string()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(from_file(&file, &config("postgres://bob@db:6000/shop")), None);
        }
    }
}
