//! One tool call's transaction: begun on the handler's first query,
//! read-only for read tools, committed only on success for write tools.

use std::sync::Arc;

use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use super::db::DbError;
use super::read_pool::{self, ReadConn, ReadPool};
use super::sqlite_reads::{Decode, Param, SqliteReads};
use crate::error::ToolError;

/// A connection inside the call's transaction. Use it as an sqlx executor:
/// `sqlx::query("...").fetch_all(&mut *conn)`.
pub type Conn<'a> = MappedMutexGuard<'a, AnyConnection>;

/// One call's transaction, shared between the runtime (which commits or
/// rolls back) and the handler's context.
#[derive(Debug, Clone)]
pub(crate) struct Tx(Arc<TxInner>);

#[derive(Debug)]
struct TxInner {
    source: Source,
    state: Mutex<TxState>,
    /// When tracing: when the handler first used the database.
    first_use: std::sync::OnceLock<std::time::SystemTime>,
}

/// Where a call's connection comes from.
#[derive(Debug)]
enum Source {
    /// Write tools: a transaction on the read-write pool, committed only
    /// on success.
    Writes(sqlx::AnyPool),
    /// Read tools: a read-only connection (see [`crate::read_pool`]), and
    /// on SQLite the connections of the runtime's own queries.
    Reads(ReadPool, Option<SqliteReads>),
}

#[derive(Debug)]
enum TxState {
    /// Nothing asked for a connection yet.
    Pending,
    Open(Transaction<'static, Any>),
    Read(ReadConn),
    /// Committed or rolled back.
    Finished,
}

impl Drop for TxInner {
    fn drop(&mut self) {
        // A read connection whose call never finished (the request was
        // dropped mid-query, say) may be mid-statement: close it rather
        // than hand it to the next call. (A write's sqlx
        // transaction rolls itself back when dropped.)
        if let TxState::Read(conn) = std::mem::replace(self.state.get_mut(), TxState::Finished) {
            read_pool::discard(conn);
        }
    }
}

impl Tx {
    /// A write tool's transaction on the read-write pool.
    pub(super) fn writes(pool: sqlx::AnyPool) -> Self {
        Self::new(Source::Writes(pool))
    }

    /// A read tool's read-only connection.
    pub(super) fn reads(pool: ReadPool, sqlite: Option<SqliteReads>) -> Self {
        Self::new(Source::Reads(pool, sqlite))
    }

    fn new(source: Source) -> Self {
        Tx(Arc::new(TxInner {
            source,
            state: Mutex::new(TxState::Pending),
            first_use: std::sync::OnceLock::new(),
        }))
    }

    /// When tracing, when the handler first used the database (`None` if
    /// it never did, or when not tracing).
    pub(crate) fn first_use(&self) -> Option<std::time::SystemTime> {
        self.0.first_use.get().copied()
    }

    fn used(&self) {
        if let Some(now) = crate::trace::now() {
            let _ = self.0.first_use.set(now);
        }
    }

    pub(crate) async fn conn(&self) -> Result<MappedMutexGuard<'_, AnyConnection>, ToolError> {
        let mut guard = self.0.state.lock().await;
        if matches!(*guard, TxState::Pending) {
            self.used();
            *guard = self.open().await?;
        }
        MutexGuard::try_map(guard, |state| match state {
            TxState::Open(tx) => Some(&mut **tx),
            TxState::Read(conn) => Some(&mut **conn),
            _ => None,
        })
        .map_err(|_| ToolError::Internal("the call's transaction is already finished".into()))
    }

    /// Run a query of the runtime's own and decode its rows: on SQLite in
    /// a read tool, through [`SqliteReads`]; otherwise on the call's
    /// connection.
    pub(crate) async fn fetch<T: Send + 'static>(
        &self,
        sql: String,
        params: Vec<Param>,
        decode: Decode<T>,
    ) -> Result<Vec<T>, ToolError> {
        if let Source::Reads(_, Some(sqlite)) = &self.0.source {
            self.used();
            return sqlite.fetch(&sql, &params, decode).await.map_err(|e| {
                tracing::error!(error = %e, "query failed");
                ToolError::Unavailable
            });
        }
        let mut args = sqlx::any::AnyArguments::default();
        args.values.0 = params;
        let mut conn = self.conn().await?;
        let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .fetch_all(&mut *conn)
            .await
            .map_err(query_failed)?;
        rows.iter()
            .map(|row| decode(row).map_err(query_failed))
            .collect()
    }

    async fn open(&self) -> Result<TxState, ToolError> {
        let unavailable = |e: String| {
            tracing::error!(error = %e, "cannot begin a transaction");
            ToolError::Unavailable
        };
        let db_error = |e: sqlx::Error| DbError::from(e).to_string();
        Ok(match &self.0.source {
            Source::Writes(pool) => {
                TxState::Open(pool.begin().await.map_err(db_error).map_err(unavailable)?)
            }
            Source::Reads(pool, _) => TxState::Read(pool.get().await.map_err(unavailable)?),
        })
    }

    /// Commit (write tools that succeeded). Nothing to do if the handler
    /// never queried.
    pub(crate) async fn commit(&self) -> Result<(), sqlx::Error> {
        let state = std::mem::replace(&mut *self.0.state.lock().await, TxState::Finished);
        match state {
            TxState::Open(tx) => tx.commit().await,
            TxState::Read(_) | TxState::Pending | TxState::Finished => Ok(()),
        }
    }

    /// Roll back (reads, failures). `clean`: the call ended by returning
    /// (not by a timeout or a database failure), so a read connection may
    /// be reused.
    pub(crate) async fn rollback(&self, clean: bool) {
        let state = std::mem::replace(&mut *self.0.state.lock().await, TxState::Finished);
        match state {
            TxState::Open(tx) => {
                let _ = tx.rollback().await;
            }
            // Back to the pool, unless the call may have left it
            // mid-statement or broken.
            TxState::Read(conn) if !clean => read_pool::discard(conn),
            TxState::Read(_) => {}
            TxState::Pending | TxState::Finished => {}
        }
    }
}

/// A failed query, for the caller: generic (details go to the log only).
fn query_failed(e: sqlx::Error) -> ToolError {
    ToolError::from(e)
}

/// `?` on a query in a handler: the caller learns that the database is
/// unavailable (or that a read tool tried to write), never the driver's
/// message, which can name a file, a table or a connection string; the
/// details go to the operator's log.
impl From<sqlx::Error> for ToolError {
    fn from(e: sqlx::Error) -> Self {
        classify(e)
    }
}

fn classify(e: sqlx::Error) -> ToolError {
    let e = DbError::from(e);
    tracing::error!(error = %e, "query failed");
    match e {
        DbError::Query(ref m) if m.contains("readonly") || m.contains("read-only") => {
            ToolError::Internal("this tool is read-only and cannot write".into())
        }
        _ => ToolError::Unavailable,
    }
}
