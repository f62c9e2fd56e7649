//! The runtime's own read queries on SQLite (`Owned<R>` lookups and
//! `select_owned`), run on the request's own thread within a budget.
//!
//! sqlx runs every SQLite connection on a thread of its own: a query is sent
//! to that thread and its rows are sent back, at least two context switches
//! and three channel hops for what SQLite itself does in a few microseconds
//! (measured in the README's design notes: 65 µs of CPU for a query SQLite
//! runs in 13). Here those queries run through rusqlite connections opened
//! read-only on the same file, on the thread that handles the request, and
//! never for long:
//!
//! - SQLite's progress handler interrupts a statement that has used more
//!   than `INLINE_BUDGET` (in `deadline.rs`) of the thread's time: half of it on the clock,
//!   then the other half of the thread's CPU time (CPU time, not time on
//!   the clock: a thread the kernel preempts mid-query is not holding the
//!   runtime up by its own work, and on a busy machine clock time alone
//!   made short queries miss the budget and run twice);
//! - a statement that would wait for a lock is not waited for (busy timeout
//!   0 on the request's thread);
//! - a call that finds no open connection does not open one there.
//!
//! In each case the query runs again, from the start, on tokio's blocking
//! pool, without a budget and with a 5 s busy timeout, at most
//! [`BLOCKING_READS`] at a time. So the async runtime is never held for
//! longer than the budget plus one step of SQLite's virtual machine (for a
//! page not in memory, that step includes reading it from the file).
//! Reads are side-effect free, so running one again is safe.
//!
//! Each row is handed to the caller's decoder as an sqlx
//! [`AnyRow`](sqlx_core::any::AnyRow) built the way sqlx's own SQLite driver
//! builds them (each value typed by what SQLite stored), so a record's
//! `FromRow` reads it exactly as it reads sqlx's.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};
#[cfg(test)]
use sqlx_core::any::AnyRow;
use tokio::sync::Semaphore;

use deadline::Deadline;
pub(crate) use rows::{Decode, Param, ReadError};
use rows::{STATEMENTS, Shapes, run};

mod deadline;
mod rows;

/// How often SQLite checks the budget, in virtual machine steps.
const CHECK_EVERY: i32 = 100;

/// Reads running on the blocking pool at most; the connections kept open
/// for reuse, at most.
pub(crate) const BLOCKING_READS: usize = 8;

/// How long a read on the blocking pool waits for a lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only rusqlite connections to one SQLite file.
#[derive(Clone)]
pub(crate) struct SqliteReads(Arc<Inner>);

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    blocking: Semaphore,
    inline: AtomicU64,
    moved: AtomicU64,
}

impl std::fmt::Debug for SqliteReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReads")
            .field("inline", &self.0.inline.load(Ordering::Relaxed))
            .field("moved", &self.0.moved.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A connection, the deadline its progress handler enforces, and the
/// shapes of the statements it has run.
struct Reader {
    conn: Connection,
    deadline: Arc<Deadline>,
    shapes: Shapes,
}

/// Why a read did not finish on the request's thread.
enum Inline {
    /// It would have run past the budget, or waited, or needed a new
    /// connection: run it on the blocking pool.
    Move,
    Failed(ReadError),
}

impl SqliteReads {
    /// Reads of the SQLite file at `path` (which must exist).
    pub(crate) fn new(path: &Path) -> Self {
        Self(Arc::new(Inner {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            blocking: Semaphore::new(BLOCKING_READS),
            inline: AtomicU64::new(0),
            moved: AtomicU64::new(0),
        }))
    }

    /// Open a reader for each of the runtime's worker threads (at most
    /// [`BLOCKING_READS`]), off the async runtime, so the first reads run
    /// inline: otherwise the first wave of concurrent reads finds no open
    /// connection and every one of them goes to the blocking pool, each
    /// on a thread of its own that then stays (measured: 8 more threads
    /// and up to 4 MiB more RSS under load). A reader that cannot be
    /// opened now is opened later, by the first read that needs it.
    pub(crate) async fn warm(&self) {
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        let this = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for _ in 0..workers.clamp(1, BLOCKING_READS) {
                match Reader::open(&this.0.path) {
                    Ok(reader) => this.put(reader),
                    Err(_) => break,
                }
            }
        })
        .await;
    }

    /// Readers open and idle.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.0
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Every row, whole (a copy of the row `fetch` hands its decoder).
    #[cfg(test)]
    pub(crate) async fn rows(&self, sql: &str, params: &[Param]) -> Result<Vec<AnyRow>, ReadError> {
        self.fetch(sql, params, |row| Ok(row.clone())).await
    }

    /// Reads that finished on the request's thread, and reads moved to the
    /// blocking pool, so far.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.0.inline.load(Ordering::Relaxed),
            self.0.moved.load(Ordering::Relaxed),
        )
    }

    /// Run `sql` with `params` (`$1` is `params[0]`, and so on) and return
    /// its rows, each as `decode` makes it.
    pub(crate) async fn fetch<T: Send + 'static>(
        &self,
        sql: &str,
        params: &[Param],
        decode: Decode<T>,
    ) -> Result<Vec<T>, ReadError> {
        match self.try_inline(sql, params, decode) {
            Ok(rows) => {
                self.0.inline.fetch_add(1, Ordering::Relaxed);
                return Ok(rows);
            }
            Err(Inline::Failed(e)) => return Err(e),
            Err(Inline::Move) => {}
        }
        self.0.moved.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("read moved to the blocking pool");
        let _permit = self
            .0
            .blocking
            .acquire()
            .await
            .map_err(|_| ReadError::ShutDown)?;
        let this = self.clone();
        let (sql, params) = (sql.to_owned(), params.to_vec());
        tokio::task::spawn_blocking(move || {
            let mut reader = match this.take() {
                Some(reader) => reader,
                None => Reader::open(&this.0.path)?,
            };
            reader.conn.busy_timeout(BUSY_TIMEOUT)?;
            reader.deadline.clear();
            let rows = run(&reader.conn, &mut reader.shapes, &sql, &params, decode);
            this.put(reader);
            rows
        })
        .await
        .map_err(|_| ReadError::ShutDown)?
    }

    fn try_inline<T>(
        &self,
        sql: &str,
        params: &[Param],
        decode: Decode<T>,
    ) -> Result<Vec<T>, Inline> {
        let mut reader = self.take().ok_or(Inline::Move)?;
        let outcome = reader
            .conn
            .busy_timeout(Duration::ZERO)
            .map_err(ReadError::from)
            .and_then(|()| {
                reader.deadline.start();
                run(&reader.conn, &mut reader.shapes, sql, params, decode)
            });
        self.put(reader);
        outcome.map_err(|e| match e {
            ReadError::Sqlite(ref s)
                if matches!(
                    s.sqlite_error_code(),
                    Some(ErrorCode::OperationInterrupted)
                        | Some(ErrorCode::DatabaseBusy)
                        | Some(ErrorCode::DatabaseLocked)
                ) =>
            {
                Inline::Move
            }
            e => Inline::Failed(e),
        })
    }

    fn take(&self) -> Option<Reader> {
        self.0
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn put(&self, reader: Reader) {
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < BLOCKING_READS {
            idle.push(reader);
        }
    }
}

impl Reader {
    fn open(path: &Path) -> Result<Self, ReadError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Read-only twice over: the file is opened read-only, and the
        // connection refuses to change anything (temporary tables too).
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS);
        let deadline = Arc::new(Deadline::none());
        let check = Arc::clone(&deadline);
        conn.progress_handler(CHECK_EVERY, Some(move || check.passed()))?;
        Ok(Self {
            conn,
            deadline,
            shapes: Shapes::default(),
        })
    }
}

#[cfg(test)]
mod tests;
