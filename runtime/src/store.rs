//! The record store handlers reach through their context: for `write`
//! tools one transaction per call, committed only on success; for `read`
//! tools a read-only connection (an SQLite file opened `mode=ro`, a
//! PostgreSQL session whose transactions are all `READ ONLY`; see
//! [`crate::read_pool`]); and owner-scoped queries for the record kinds
//! declared in the manifest (on SQLite, a read tool's run on the request's
//! own thread within a budget: [`crate::sqlite_reads`]).

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::db::{Db, DbError, DbKind};
use crate::error::ToolError;
use crate::read_pool::{ReadConn, ReadPool};
use crate::spec::{Access, RecordSpec};
use crate::sqlite_reads::{Decode, Param, SqliteReads};

/// The databases a server's handlers use.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// Read tools' connections: to the read-only twin of an SQLite file,
    /// or to the PostgreSQL database.
    reads: ReadPool,
    /// SQLite: read tools' owner-scoped queries.
    sqlite: Option<SqliteReads>,
}

/// Read tools' connections at most (per instance).
pub const READ_CONNECTIONS: usize = 8;

impl Store {
    /// A store over `db`. For SQLite, read tools get connections opened
    /// read-only on the same file, so they cannot write even by mistake.
    pub async fn new(db: Db) -> Result<Self, DbError> {
        let reads = match db.kind() {
            DbKind::Sqlite => ReadPool::new(
                db.read_only_twin().await?.pool(),
                DbKind::Sqlite,
                READ_CONNECTIONS,
            ),
            DbKind::Postgres => ReadPool::new(db.pool(), DbKind::Postgres, READ_CONNECTIONS),
        };
        let sqlite = db
            .sqlite_path()
            .map(|path| SqliteReads::new(std::path::Path::new(path)));
        if let Some(sqlite) = &sqlite {
            sqlite.warm().await;
        }
        Ok(Self { db, reads, sqlite })
    }

    /// The read-write database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The transaction a tool call runs in. It is begun lazily, on the
    /// handler's first query: a handler that never queries costs the
    /// database nothing.
    pub(crate) fn begin(&self, access: Access) -> Tx {
        let source = match access {
            Access::Write => Source::Writes(self.db.pool().clone()),
            Access::Read => Source::Reads(self.reads.clone(), self.sqlite.clone()),
        };
        Tx(Arc::new(TxInner {
            source,
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
    source: Source,
    state: Mutex<TxState>,
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
            crate::read_pool::discard(conn);
        }
    }
}

impl Tx {
    pub(crate) async fn conn(&self) -> Result<MappedMutexGuard<'_, AnyConnection>, ToolError> {
        let mut guard = self.0.state.lock().await;
        if matches!(*guard, TxState::Pending) {
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
            TxState::Read(conn) if !clean => crate::read_pool::discard(conn),
            TxState::Read(_) => {}
            TxState::Pending | TxState::Finished => {}
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
    subject: &'a str,
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
    R: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin + 'static,
{
    pub(crate) fn new(tx: &'a Tx, spec: RecordSpec, subject: &'a str) -> Self {
        Self {
            tx,
            spec,
            subject,
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

    /// The statement and its parameters (`$1` the subject, then the
    /// bound values, moved rather than copied).
    fn into_parts(self, select: &str) -> (String, Vec<Param>) {
        let mut sql = format!(
            "SELECT {select} FROM {} WHERE {} = $1",
            self.spec.table, self.spec.owner
        );
        if let Some(filter) = &self.filter {
            sql.push_str(" AND (");
            sql.push_str(filter);
            sql.push(')');
        }
        if let Some(tail) = &self.tail {
            sql.push(' ');
            sql.push_str(tail);
        }
        let mut params = Vec::with_capacity(1 + self.binds.len());
        params.push(Param::Text(Arc::new(self.subject.to_owned())));
        params.extend(self.binds.into_iter().map(|b| match b {
            Bind::Text(s) => Param::Text(Arc::new(s)),
            Bind::Int(i) => Param::BigInt(i),
        }));
        (sql, params)
    }

    /// Every matching record the caller owns.
    pub async fn fetch_all(self) -> Result<Vec<R>, ToolError> {
        let tx = self.tx;
        let (sql, params) = self.into_parts("*");
        tx.fetch(sql, params, |row| R::from_row(row)).await
    }

    /// How many matching records the caller owns.
    pub async fn count(self) -> Result<i64, ToolError> {
        let tx = self.tx;
        let (sql, params) = self.into_parts("COUNT(*)");
        tx.fetch(sql, params, |row| sqlx::Row::try_get::<i64, _>(row, 0))
            .await?
            .first()
            .copied()
            .ok_or_else(|| ToolError::Internal("COUNT(*) returned no row".into()))
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
