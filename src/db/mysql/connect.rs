//! Opening MySQL/MariaDB sessions (the `mysql` crate; connectorx opens its own for reads).

use super::tls::{self, Mode};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

/// Opens a `mysql` connection (for the catalog and for the sink), with TLS as the URL's
/// `ssl-mode` says (see `tls`).
pub fn mysql_connect(endpoint: &Endpoint) -> Result<mysql::Conn> {
    let error = |message: String| FerryError::Connection { url: endpoint.masked(), message };
    let settings = tls::settings(&endpoint.secret_url()).map_err(error)?;
    let options = mysql::Opts::from_url(settings.url.as_str()).map_err(|e| error(e.to_string()))?;
    let builder = mysql::OptsBuilder::from_opts(options).local_infile_handler(None);
    let plain = settings.mode == Mode::Preferred && tls::offers_tls(&settings) == Some(false);
    let mode = if plain { Mode::Disabled } else { settings.mode };
    let connected = match mysql::Conn::new(builder.clone().ssl_opts(settings.options(mode))) {
        // A preferred mode talks plain to a server without TLS, as MySQL's own client does.
        Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)) if mode == Mode::Preferred => {
            tls::remember(&settings, false);
            mysql::Conn::new(builder)
        }
        Ok(connection) => {
            if mode == Mode::Preferred {
                tls::remember(&settings, true);
            }
            Ok(connection)
        }
        Err(other) => Err(other),
    };
    connected.map_err(|e| match e {
        mysql::Error::DriverError(mysql::DriverError::TlsNotSupported) => {
            error(format!("the server does not offer TLS, which ssl-mode={} requires", settings.mode))
        }
        mysql::Error::TlsError(tls) => error(format!("TLS failed: {tls}")),
        // The server answered: its own words (a server that requires TLS may refuse a plain
        // session as access denied).
        mysql::Error::MySqlError(refused) if settings.mode == Mode::Disabled => error(format!(
            "{refused}; with ssl-mode=DISABLED: a server that requires secure transport refuses plain sessions"
        )),
        mysql::Error::MySqlError(refused) => error(refused.to_string()),
        other => error(format!("{other}; is the MySQL/MariaDB server running and the URL right?")),
    })
}

/// The URL connectorx reads `endpoint` with: its TLS settings as connectorx takes them, a
/// preferred mode settled by connecting once if no connection has yet.
pub fn reader_url(endpoint: &Endpoint) -> Result<String> {
    let error = |message: String| FerryError::Connection { url: endpoint.masked(), message };
    let settings = tls::settings(&endpoint.secret_url()).map_err(error)?;
    let offers = match (settings.mode, tls::offers_tls(&settings)) {
        (Mode::Preferred, None) => {
            drop(mysql_connect(endpoint)?);
            tls::offers_tls(&settings).unwrap_or(false)
        }
        (_, known) => known.unwrap_or(true),
    };
    Ok(settings.reader_url(offers))
}

/// Rows of a statement with positional `params`, every value as text (NULL as None).
pub fn mysql_text_rows(
    connection: &mut mysql::Conn,
    sql: &str,
    params: Vec<mysql::Value>,
) -> std::result::Result<Vec<Vec<Option<String>>>, mysql::Error> {
    use mysql::prelude::Queryable;
    let rows: Vec<mysql::Row> = connection.exec(sql, params)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (0..row.len())
                .map(|i| match row.as_ref(i) {
                    Some(mysql::Value::Bytes(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
                    Some(mysql::Value::NULL) | None => None,
                    Some(other) => Some(other.as_sql(true).trim_matches('\'').to_string()),
                })
                .collect()
        })
        .collect())
}

/// Runs a script of statements, stopping at the first that fails and returning its error. The
/// `mysql` crate's `query_drop` reports only the first statement's: a later one that fails
/// ends the script without a word.
pub fn run_script(connection: &mut mysql::Conn, sql: &str) -> std::result::Result<(), mysql::Error> {
    use mysql::prelude::Queryable;
    let mut result = connection.query_iter(sql)?;
    while let Some(set) = result.iter() {
        for row in set {
            row?;
        }
    }
    Ok(())
}
