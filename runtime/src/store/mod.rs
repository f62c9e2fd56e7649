//! Storage: the database ([`Db`]: an embedded SQLite file, or PostgreSQL),
//! and the record store handlers reach through their context: for `write`
//! tools one transaction per call, committed only on success; for `read`
//! tools a read-only connection (an SQLite file opened `mode=ro`, a
//! PostgreSQL session whose transactions are all `READ ONLY`; see
//! `read_pool`); and owner-scoped queries for the record kinds declared in
//! the manifest ([`OwnedQuery`], in `owned.rs`: the one place the owner
//! condition is written; on SQLite a read tool's run on the request's own
//! thread within a budget: `sqlite_reads`).

use mcpgen_spec::Access;
use read_pool::ReadPool;
use sqlite_reads::SqliteReads;

mod db;
pub mod notify;
mod owned;
mod read_pool;
mod record;
mod secrets;
mod spent;
mod sqlite_reads;
mod tx;

pub(crate) use db::private_dir;
pub use db::{Db, DbError, DbKind, IDLE_CHECK, now};
pub(crate) use owned::owned_ids;
pub use owned::{Bind, OwnedQuery};
pub use record::Record;
pub(crate) use secrets::shared_secret;
pub(crate) use spent::spend;
pub use tx::Conn;
pub(crate) use tx::Tx;

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
        match access {
            Access::Write => Tx::writes(self.db.pool().clone()),
            Access::Read => Tx::reads(self.reads.clone(), self.sqlite.clone()),
        }
    }
}
