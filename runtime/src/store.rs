//! The record store handlers reach through their context: one transaction
//! per tool call — read-only for `read` tools (a read-only SQLite
//! connection; a PostgreSQL `READ ONLY` transaction), committed only on
//! success for `write` tools — and owner-scoped queries for the record
//! kinds declared in the manifest.

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::db::{Db, DbError, DbKind};
use crate::error::ToolError;
use crate::spec::{Access, RecordSpec};

/// The databases a server's handlers use.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// SQLite only: a pool of read-only connections to the same file.
    read_only: Option<Db>,
}

impl Store {
    /// A store over `db`. For SQLite this opens a second, read-only pool on
    /// the same file, so read tools cannot write even by mistake.
    pub async fn new(db: Db) -> Result<Self, DbError> {
        let read_only = match db.kind() {
            DbKind::Sqlite => Some(db.read_only_twin().await?),
            DbKind::Postgres => None,
        };
        Ok(Self { db, read_only })
    }

    /// The read-write database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The transaction a tool call runs in. It is begun lazily, on the
    /// handler's first query: a handler that never queries costs the
    /// database nothing.
    pub(crate) fn begin(&self, access: Access) -> Tx {
        let (pool, mode) = match (access, &self.read_only) {
            (Access::Read, Some(ro)) => (ro.pool().clone(), Mode::ReadOnlyConnection),
            (Access::Read, None) => (self.db.pool().clone(), Mode::ReadOnlyTransaction),
            (Access::Write, _) => (self.db.pool().clone(), Mode::Transaction),
        };
        Tx(Arc::new(TxInner {
            pool,
            mode,
            state: Mutex::new(TxState::Pending),
        }))
    }
}

/// One call's transaction, shared between the runtime (which commits or
/// rolls back) and the handler's context.
#[derive(Debug, Clone)]
pub(crate) struct Tx(Arc<TxInner>);

#[derive(Debug)]
struct TxInner {
    /// Where to get the connection: the read-only pool for SQLite reads.
    pool: sqlx::AnyPool,
    mode: Mode,
    state: Mutex<TxState>,
}

/// How a call's queries are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Write tools: one transaction, committed only on success.
    Transaction,
    /// PostgreSQL reads: `BEGIN READ ONLY`, rolled back at the end.
    ReadOnlyTransaction,
    /// SQLite reads: a connection opened `mode=ro`, so SQLite itself
    /// refuses writes, with each statement in its own implicit read
    /// transaction. That is the consistency a PostgreSQL read gets too
    /// (READ COMMITTED: every statement sees what was committed when it
    /// began), and it saves the BEGIN and ROLLBACK round trips to the
    /// connection's thread (measured in the README's Performance section).
    ReadOnlyConnection,
}

#[derive(Debug)]
enum TxState {
    /// Nothing asked for a connection yet.
    Pending,
    Open(Transaction<'static, Any>),
    Autocommit(PoolConnection<Any>),
    /// Committed or rolled back.
    Finished,
}

impl Tx {
    pub(crate) async fn conn(&self) -> Result<MappedMutexGuard<'_, AnyConnection>, ToolError> {
        let mut guard = self.0.state.lock().await;
        if matches!(*guard, TxState::Pending) {
            *guard = self.open().await?;
        }
        MutexGuard::try_map(guard, |state| match state {
            TxState::Open(tx) => Some(&mut **tx),
            TxState::Autocommit(conn) => Some(&mut **conn),
            _ => None,
        })
        .map_err(|_| ToolError::Internal("the call's transaction is already finished".into()))
    }

    async fn open(&self) -> Result<TxState, ToolError> {
        let unavailable = |e: sqlx::Error| {
            tracing::error!(error = %DbError::from(e), "cannot begin a transaction");
            ToolError::Unavailable
        };
        let pool = &self.0.pool;
        Ok(match self.0.mode {
            Mode::Transaction => TxState::Open(pool.begin().await.map_err(unavailable)?),
            Mode::ReadOnlyTransaction => TxState::Open(
                pool.begin_with("BEGIN READ ONLY")
                    .await
                    .map_err(unavailable)?,
            ),
            Mode::ReadOnlyConnection => {
                TxState::Autocommit(pool.acquire().await.map_err(unavailable)?)
            }
        })
    }

    fn finish(&self, state: &mut TxState) -> Option<Transaction<'static, Any>> {
        match std::mem::replace(state, TxState::Finished) {
            TxState::Open(tx) => Some(tx),
            // Back to the pool; there is nothing to end.
            TxState::Autocommit(_) | TxState::Pending | TxState::Finished => None,
        }
    }

    /// Commit (write tools that succeeded). Nothing to do if the handler
    /// never queried.
    pub(crate) async fn commit(&self) -> Result<(), sqlx::Error> {
        let tx = self.finish(&mut *self.0.state.lock().await);
        match tx {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        }
    }

    /// Roll back (reads, failures).
    pub(crate) async fn rollback(&self) {
        let tx = self.finish(&mut *self.0.state.lock().await);
        if let Some(tx) = tx {
            let _ = tx.rollback().await;
        }
    }
}

/// A connection inside the call's transaction. Use it as an sqlx executor:
/// `sqlx::query("...").fetch_all(&mut *conn)`.
pub type Conn<'a> = MappedMutexGuard<'a, AnyConnection>;

/// A query over the caller's own records of kind `R`: the owner condition
/// is always `$1`, bound to the caller's subject; add a filter and a tail
/// (`ORDER BY ... LIMIT ...`) with further `$N` parameters.
pub struct OwnedQuery<'a, R> {
    tx: &'a Tx,
    spec: RecordSpec,
    subject: String,
    filter: Option<String>,
    tail: Option<String>,
    binds: Vec<Bind>,
    _record: std::marker::PhantomData<fn() -> R>,
}

/// A value bound to an [`OwnedQuery`] parameter.
#[derive(Debug, Clone)]
pub enum Bind {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(v.to_owned())
    }
}
impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(v)
    }
}
impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(v)
    }
}

impl<'a, R> OwnedQuery<'a, R>
where
    R: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
{
    pub(crate) fn new(tx: &'a Tx, spec: RecordSpec, subject: &str) -> Self {
        Self {
            tx,
            spec,
            subject: subject.to_owned(),
            filter: None,
            tail: None,
            binds: Vec::new(),
            _record: std::marker::PhantomData,
        }
    }

    /// An extra condition, ANDed with the owner condition, e.g.
    /// `"title LIKE $2"`.
    pub fn filter(mut self, sql: &str) -> Self {
        self.filter = Some(sql.to_owned());
        self
    }

    /// What follows the conditions, e.g. `"ORDER BY created_at DESC LIMIT $3"`.
    pub fn then(mut self, sql: &str) -> Self {
        self.tail = Some(sql.to_owned());
        self
    }

    /// Bind the next parameter (`$2`, `$3`, ...).
    pub fn bind(mut self, value: impl Into<Bind>) -> Self {
        self.binds.push(value.into());
        self
    }

    fn sql(&self, select: &str) -> String {
        let mut sql = format!(
            "SELECT {select} FROM {} WHERE {} = $1",
            self.spec.table, self.spec.owner
        );
        if let Some(f) = &self.filter {
            sql.push_str(&format!(" AND ({f})"));
        }
        if let Some(t) = &self.tail {
            sql.push(' ');
            sql.push_str(t);
        }
        sql
    }

    /// Every matching record the caller owns.
    pub async fn fetch_all(self) -> Result<Vec<R>, ToolError> {
        let sql = self.sql("*");
        let mut q = sqlx::query_as::<_, R>(sqlx::AssertSqlSafe(sql)).bind(self.subject.clone());
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        let mut conn = self.tx.conn().await?;
        q.fetch_all(&mut *conn).await.map_err(query_failed)
    }

    /// How many matching records the caller owns.
    pub async fn count(self) -> Result<i64, ToolError> {
        let sql = self.sql("COUNT(*)");
        let mut q =
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(self.subject.clone());
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        let mut conn = self.tx.conn().await?;
        q.fetch_one(&mut *conn).await.map_err(query_failed)
    }
}

/// A failed query, for the caller: generic (details go to the log only).
pub(crate) fn query_failed(e: sqlx::Error) -> ToolError {
    let e = DbError::from(e);
    tracing::error!(error = %e, "query failed");
    match e {
        DbError::Query(ref m) if m.contains("readonly") || m.contains("read-only") => {
            ToolError::Internal("this tool is read-only and cannot write".into())
        }
        _ => ToolError::Unavailable,
    }
}
