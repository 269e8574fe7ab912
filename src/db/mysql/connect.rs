//! Opening MySQL/MariaDB sessions (the `mysql` crate; connectorx opens its own for reads).

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

/// Opens a plain `mysql` connection (for the catalog and for the sink).
pub fn mysql_connect(endpoint: &Endpoint) -> Result<mysql::Conn> {
    let options = mysql::Opts::from_url(&endpoint.secret_url())
        .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })?;
    let builder = mysql::OptsBuilder::from_opts(options).local_infile_handler(None);
    mysql::Conn::new(builder).map_err(|e| FerryError::Connection {
        url: endpoint.masked(),
        message: format!("{e}; is the MySQL/MariaDB server running and the URL right?"),
    })
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
