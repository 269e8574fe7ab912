//! `GET /health`: every connection of the job answers, or the ones that do not are named.

use std::time::Duration;

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
use crate::source::{mysql_connect, pg_connect, pg_message, sqlite_open};

/// How long a connection may take to answer before it counts as down.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Checks one connection: a query for databases, the folder or bucket for Parquet.
pub async fn check(endpoint: &Endpoint) -> Result<()> {
    let unreachable = |message: String| FerryError::Connection { url: endpoint.masked(), message };
    let probe = async {
        match endpoint {
            Endpoint::Postgres(_) => {
                let client = pg_connect(endpoint).await?;
                client.simple_query("SELECT 1").await.map_err(|e| unreachable(pg_message(&e)))?;
                Ok(())
            }
            Endpoint::Mysql(_) => {
                let endpoint = endpoint.clone();
                tokio::task::spawn_blocking(move || -> Result<()> {
                    use mysql::prelude::Queryable;
                    let mut connection = mysql_connect(&endpoint)?;
                    connection
                        .query_drop("SELECT 1")
                        .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })
                })
                .await
                .map_err(FerryError::internal)?
            }
            // A target file that does not exist yet is fine if its folder does.
            Endpoint::Sqlite(path) if !path.exists() => match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(folder) if !folder.exists() => {
                    Err(unreachable(format!("the folder `{}` does not exist", folder.display())))
                }
                _ => Ok(()),
            },
            Endpoint::Sqlite(_) => {
                let connection = sqlite_open(endpoint, true)?;
                connection.query_row("SELECT 1", [], |_| Ok(())).map_err(|e| unreachable(e.to_string()))
            }
            Endpoint::Parquet(url) => {
                use futures::StreamExt;
                let (store, prefix) = crate::store::object_store(url)?;
                match store.list(Some(&prefix)).next().await {
                    Some(Err(object_store::Error::NotFound { .. })) | None | Some(Ok(_)) => Ok(()),
                    Some(Err(error)) => Err(unreachable(error.to_string())),
                }
            }
        }
    };
    match tokio::time::timeout(TIMEOUT, probe).await {
        Ok(outcome) => outcome,
        Err(_) => Err(unreachable(format!("no answer within {} s", TIMEOUT.as_secs()))),
    }
}
