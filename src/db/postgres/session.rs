//! Sessions: each operation's own connection, or one connection every operation of a backend
//! shares, inside one transaction (`ferry copy --single-transaction`).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_postgres::Client;

use super::connect::{pg_connect, pg_message};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

/// The one connection of a backend in a single transaction, opened with `BEGIN`.
pub type Shared = Arc<Mutex<Client>>;

/// A connection to work in: the operation's own, or the shared one while the operation holds it.
pub enum Session {
    Own(Client),
    Shared(OwnedMutexGuard<Client>),
}

impl Session {
    /// Opens a connection of its own, or waits for the shared one.
    pub async fn open(endpoint: &Endpoint, shared: Option<&Shared>) -> Result<Session> {
        match shared {
            Some(shared) => Ok(Session::Shared(shared.clone().lock_owned().await)),
            None => Ok(Session::Own(pg_connect(endpoint).await?)),
        }
    }

    /// Whether the work joins a transaction that someone else commits.
    pub fn is_shared(&self) -> bool {
        matches!(self, Session::Shared(_))
    }

    /// Starts the work's own transaction; a shared session is in one already.
    pub async fn begin(&self) -> std::result::Result<(), tokio_postgres::Error> {
        match self {
            Session::Own(client) => client.batch_execute("BEGIN").await,
            Session::Shared(_) => Ok(()),
        }
    }

    /// Commits the work's own transaction; a shared session's is committed by its owner.
    pub async fn commit(&self) -> std::result::Result<(), tokio_postgres::Error> {
        match self {
            Session::Own(client) => client.batch_execute("COMMIT").await,
            Session::Shared(_) => Ok(()),
        }
    }
}

impl Deref for Session {
    type Target = Client;

    fn deref(&self) -> &Client {
        match self {
            Session::Own(client) => client,
            Session::Shared(guard) => guard,
        }
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Client {
        match self {
            Session::Own(client) => client,
            Session::Shared(guard) => guard,
        }
    }
}

/// Opens the shared connection and its transaction.
pub async fn begin_shared(endpoint: &Endpoint) -> Result<Shared> {
    let client = pg_connect(endpoint).await?;
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: pg_message(&e) })?;
    Ok(Arc::new(Mutex::new(client)))
}

/// Runs `sql` in the shared transaction such that its failure undoes only itself (a savepoint),
/// as a statement on a connection of its own would fail alone.
pub async fn alone(client: &Client, sql: &str) -> std::result::Result<(), tokio_postgres::Error> {
    client.batch_execute("SAVEPOINT ferry_statement").await?;
    match client.batch_execute(sql).await {
        Ok(()) => client.batch_execute("RELEASE SAVEPOINT ferry_statement").await,
        Err(error) => {
            client.batch_execute("ROLLBACK TO SAVEPOINT ferry_statement").await?;
            Err(error)
        }
    }
}
