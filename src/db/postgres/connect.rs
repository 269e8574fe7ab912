//! Opening PostgreSQL sessions, and the server's own words when one fails.

use tokio_postgres::{Client, NoTls};

use crate::connection::Endpoint;
use crate::error::FerryError;
use crate::error::Result;

/// Connects (with TLS as the URL asks, see `socket`) and drives the connection on the runtime;
/// errors name the masked URL.
pub async fn pg_connect(endpoint: &Endpoint) -> Result<Client> {
    let (config, socket) = super::socket::open(endpoint).await.map_err(|message| unreachable(endpoint, message))?;
    let (client, connection) =
        config.connect_raw(socket, NoTls).await.map_err(|error| unreachable(endpoint, pg_message(&error)))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

/// The error of a connection that could not be opened, with what to check when nothing answered
/// (a refused password or certificate says what is wrong by itself).
pub fn unreachable(endpoint: &Endpoint, message: String) -> FerryError {
    let unanswered = message.starts_with("error connecting to server") || message.starts_with("no answer within");
    let message = match unanswered {
        true => format!("{message}; is the PostgreSQL server running and the URL right?"),
        false => message,
    };
    FerryError::Connection { url: endpoint.masked(), message }
}

/// The server's own message (with detail and hint) rather than tokio-postgres' "db error".
pub fn pg_message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                text.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            text
        }
    }
}
