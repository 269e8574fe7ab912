//! `GET /health`: every connection of the job answers, or the ones that do not are named.

use std::time::Duration;

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

/// How long a connection may take to answer before it counts as down.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Checks one connection: a query for databases, the folder or bucket for Parquet.
pub async fn check(endpoint: &Endpoint) -> Result<()> {
    let backend = crate::db::open(endpoint);
    match tokio::time::timeout(TIMEOUT, backend.ping()).await {
        Ok(outcome) => outcome,
        Err(_) => Err(FerryError::Connection {
            url: endpoint.masked(),
            message: format!("no answer within {} s", TIMEOUT.as_secs()),
        }),
    }
}
