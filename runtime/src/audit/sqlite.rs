//! The audit writer on SQLite: batches inserted through a connection of
//! its own, one prepared statement executed per record in one transaction.
//!
//! Through sqlx, a batch went as one JSON parameter that SQLite unpacked
//! (`jsonb_each` and `->>` per field): measured by callgrind under scenario
//! a of the load benchmark, that unpacking was about 15,000 of the
//! writer's 21,000 instructions per record. A statement prepared once and
//! bound per record costs the insert and little else.
//!
//! SQLite has one writer at a time. The writer holds the pool's one write
//! connection (unused) while it writes, so a write tool queues behind a
//! batch as it queues behind any other write, instead of sleeping in
//! SQLite's busy handler; the busy timeout is for other processes (the
//! `keys` commands).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};

use super::record::{AuditRecord, WriteError};
use crate::store::{Db, DbError};

const INSERT: &str = "INSERT INTO mcpgen_audit \
     (request_id, at, transport, subject, client, tool, scopes, decision, reason, duration_us, \
      peer, credential, count) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
     ON CONFLICT (request_id) DO NOTHING";

/// How long a write waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite file's audit writer and its connection (opened on first use,
/// and again after a failure).
pub(super) struct SqliteWriter {
    path: PathBuf,
    conn: Option<Connection>,
}

impl SqliteWriter {
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            conn: None,
        }
    }

    /// Write `batch` in one transaction, off the async runtime. A record
    /// the database refuses (a constraint) is logged and skipped, and costs
    /// only itself. Err only if the database could not be written: then
    /// nothing of the batch is kept, and the caller keeps the records.
    pub(super) async fn write(
        &mut self,
        db: &Db,
        batch: Arc<Vec<AuditRecord>>,
    ) -> Result<(), WriteError> {
        let permit = db
            .pool()
            .acquire()
            .await
            .map_err(|e| WriteError::Unavailable(DbError::from(e).to_string()))?;
        let path = self.path.clone();
        let conn = self.conn.take();
        let written = tokio::task::spawn_blocking(move || {
            let mut conn = match conn {
                Some(conn) => conn,
                None => open(&path)?,
            };
            insert(&mut conn, &batch)?;
            Ok::<_, rusqlite::Error>(conn)
        })
        .await;
        drop(permit);
        match written {
            Ok(Ok(conn)) => {
                self.conn = Some(conn);
                Ok(())
            }
            // The connection is dropped; the next write opens another.
            Ok(Err(e)) => Err(WriteError::Unavailable(describe(&e))),
            Err(_) => Err(WriteError::Unavailable("the audit writer failed".into())),
        }
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // As durable as the pool's writer: each batch is on disk when its
    // transaction commits.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Records arrive in the order of their ids, so each insert touches the
    // right edge of the table and of its index: a small cache holds that,
    // where SQLite's default (2 MiB) filled up with every page the trail
    // ever appended, for nothing.
    conn.pragma_update(None, "cache_size", -256)?;
    Ok(conn)
}

/// Insert every record of `batch` but the ones the database refuses, and
/// commit.
fn insert(conn: &mut Connection, batch: &[AuditRecord]) -> rusqlite::Result<()> {
    let mut refused = vec![false; batch.len()];
    'batch: loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            for (r, refused) in batch.iter().zip(refused.iter_mut()) {
                if *refused {
                    continue;
                }
                let done = insert.execute(params![
                    r.request_id,
                    r.at,
                    r.transport,
                    r.subject,
                    r.client,
                    r.tool,
                    r.scopes,
                    r.decision,
                    r.reason,
                    // Both databases store a signed 64-bit integer.
                    i64::try_from(r.duration_us).unwrap_or(i64::MAX),
                    r.peer,
                    r.credential,
                    i64::try_from(r.count).unwrap_or(i64::MAX),
                ]);
                match done {
                    Ok(_) => {}
                    Err(e) if is_refusal(&e) => {
                        tracing::error!(
                            error = %describe(&e),
                            request_id = %r.request_id,
                            "audit record refused by the database"
                        );
                        *refused = true;
                        // A refusal that rolled the whole transaction back
                        // (a trigger's `RAISE(ROLLBACK)`) took the records
                        // before it along: write them again.
                        if tx.is_autocommit() {
                            continue 'batch;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        return tx.commit();
    }
}

/// Whether the database refused this record for what it holds (running it
/// again cannot help), rather than being unusable.
fn is_refusal(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::ConstraintViolation | ErrorCode::TypeMismatch | ErrorCode::TooBig)
    )
}

/// What went wrong, without the file's path.
fn describe(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(err, Some(message)) => format!("{message} ({:?})", err.code),
        rusqlite::Error::SqliteFailure(err, None) => format!("{:?}", err.code),
        _ => "SQLite error".to_owned(),
    }
}
