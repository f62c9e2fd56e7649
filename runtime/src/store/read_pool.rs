//! Connections for read tools, pooled by deadpool rather than by sqlx.
//!
//! sqlx's pool pings every connection it takes back (a round trip to the
//! database server, or to the SQLite connection's own thread), and for
//! PostgreSQL we had it ping again before handing one out. A read tool is
//! often one query, so those checks were a large share of its cost
//! (measured in the README's "Performance" section). Here a connection is
//! checked only when it sat idle for [`IDLE_CHECK`] or more (a PostgreSQL
//! connection can die with its server or network while idle); one whose
//! call did not end cleanly is closed instead of reused.
//!
//! The connections are read-only by construction: SQLite files opened
//! `mode=ro`, PostgreSQL sessions whose transactions are all `READ ONLY`.
//! Each statement runs in its own implicit read transaction: the
//! consistency a PostgreSQL read in a transaction gets anyway (READ
//! COMMITTED: each statement sees what was committed when it began),
//! without BEGIN and ROLLBACK round trips.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{Metrics, Object, Pool, PoolError, RecycleResult};
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions as _, Connection as _};

use super::db::{DbError, DbKind, IDLE_CHECK};

/// A pool of connections for read tools.
#[derive(Clone)]
pub(crate) struct ReadPool(Pool<Manager>);

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the options: they hold the database URL and its password.
        let status = self.0.status();
        f.debug_struct("ReadPool")
            .field("size", &status.size)
            .field("max_size", &status.max_size)
            .finish()
    }
}

/// One pooled connection; back to the pool when dropped.
pub(crate) type ReadConn = Object<Manager>;

pub(crate) struct Manager {
    options: Arc<AnyConnectOptions>,
    kind: DbKind,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the options: they hold the database URL and its password.
        f.write_str("read connections")
    }
}

impl deadpool::managed::Manager for Manager {
    type Type = AnyConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<AnyConnection, sqlx::Error> {
        let mut conn = self.options.connect().await?;
        if self.kind == DbKind::Postgres {
            // Every statement on this connection runs in a read-only
            // transaction: PostgreSQL refuses writes, with no BEGIN and
            // ROLLBACK round trips per call.
            sqlx::raw_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                .execute(&mut conn)
                .await?;
        }
        Ok(conn)
    }

    async fn recycle(
        &self,
        conn: &mut AnyConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if metrics.last_used() >= IDLE_CHECK {
            conn.ping().await?;
        }
        Ok(())
    }
}

impl ReadPool {
    /// Up to `max` connections made like the ones of `like`, read-only.
    /// (SQLite: `like` must be a `mode=ro` pool.)
    pub(crate) fn new(like: &sqlx::AnyPool, kind: DbKind, max: usize) -> Self {
        let pool = Pool::builder(Manager {
            options: like.connect_options(),
            kind,
        })
        .max_size(max)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .expect("a runtime is set for the timeouts");
        Self(pool)
    }

    /// A connection, or the reason there is none (for the log only).
    pub(crate) async fn get(&self) -> Result<ReadConn, String> {
        self.0.get().await.map_err(|e| match e {
            PoolError::Backend(e) => DbError::from(e).to_string(),
            PoolError::Timeout(_) => "timed out waiting for a connection".to_owned(),
            PoolError::Closed => "pool closed".to_owned(),
            _ => "no connection".to_owned(),
        })
    }
}

/// Close `conn` instead of returning it to the pool.
pub(crate) fn discard(conn: ReadConn) {
    drop(Object::take(conn));
}
