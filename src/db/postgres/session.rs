//! Sessions: each operation's own connection, or one connection every operation of a backend
//! shares, inside one transaction (`ferry copy --single-transaction`).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};
use tokio_postgres::Client;

use super::connect::{pg_connect, pg_message};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

/// The one connection of a backend in a single transaction, opened with `BEGIN`.
pub type Shared = Arc<Mutex<Client>>;

/// A connection kept for a source's catalog queries, opened again when it has closed.
pub type Cache = Arc<Mutex<Option<Client>>>;

/// A connection to work in: the operation's own, the shared one while the operation holds it,
/// or a source's kept one.
pub enum Session {
    Own(Client),
    Shared(OwnedMutexGuard<Client>),
    Kept(OwnedMappedMutexGuard<Option<Client>, Client>),
}

impl Session {
    /// Opens a connection of its own, or waits for the shared one.
    pub async fn open(endpoint: &Endpoint, shared: Option<&Shared>) -> Result<Session> {
        match shared {
            Some(shared) => Ok(Session::Shared(shared.clone().lock_owned().await)),
            None => Ok(Session::Own(pg_connect(endpoint).await?)),
        }
    }

    /// The kept connection of `cache` (each operation's own connection would cost a connection
    /// set-up, TLS included, for every catalog question), or the shared one.
    pub async fn kept(endpoint: &Endpoint, cache: &Cache, shared: Option<&Shared>) -> Result<Session> {
        if shared.is_some() {
            return Session::open(endpoint, shared).await;
        }
        let mut guard = cache.clone().lock_owned().await;
        if guard.as_ref().is_none_or(|client| client.is_closed()) {
            *guard = Some(pg_connect(endpoint).await?);
        }
        let client = OwnedMutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| FerryError::internal("the kept catalog connection is missing"))?;
        Ok(Session::Kept(client))
    }

    /// Whether the work joins a transaction that someone else commits.
    pub fn is_shared(&self) -> bool {
        matches!(self, Session::Shared(_))
    }

    /// Starts the work's own transaction; a shared session is in one already.
    pub async fn begin(&self) -> std::result::Result<(), tokio_postgres::Error> {
        if self.is_shared() {
            return Ok(());
        }
        self.batch_execute("BEGIN").await
    }

    /// Commits the work's own transaction; a shared session's is committed by its owner.
    pub async fn commit(&self) -> std::result::Result<(), tokio_postgres::Error> {
        if self.is_shared() {
            return Ok(());
        }
        self.batch_execute("COMMIT").await
    }
}

impl Deref for Session {
    type Target = Client;

    fn deref(&self) -> &Client {
        match self {
            Session::Own(client) => client,
            Session::Shared(guard) => guard,
            Session::Kept(guard) => guard,
        }
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Client {
        match self {
            Session::Own(client) => client,
            Session::Shared(guard) => guard,
            Session::Kept(guard) => guard,
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
