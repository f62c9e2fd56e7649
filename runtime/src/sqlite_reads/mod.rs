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
//!   than [`INLINE_BUDGET`] of the thread's time: half of it on the clock,
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
use sqlx_core::any::AnyValueKind;
use tokio::sync::Semaphore;

use deadline::Deadline;
pub(crate) use rows::Decode;
use rows::{STATEMENTS, Shapes, run};

mod deadline;
mod rows;

/// How much CPU time a read may use on the request's thread before it is
/// moved to the blocking pool (tokio asks for at most 10–100 µs between
/// awaits).
pub(crate) const INLINE_BUDGET: Duration = Duration::from_micros(100);

/// How often SQLite checks the budget, in virtual machine steps.
const CHECK_EVERY: i32 = 100;

/// Reads running on the blocking pool at most; the connections kept open
/// for reuse, at most.
pub(crate) const BLOCKING_READS: usize = 8;

/// How long a read on the blocking pool waits for a lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A parameter value, as sqlx's `Any` arguments hold it.
pub(crate) type Param = AnyValueKind;

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

/// A read that failed. The message is for the log only: it can name the
/// file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Decode(String),
    #[error("the blocking pool is gone")]
    ShutDown,
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
mod tests {
    use super::*;
    use sqlx::{ConnectOptions as _, Row as _};
    use std::sync::atomic::AtomicBool;

    /// The bundled SQLite is built as `.cargo/config.toml` asks: no
    /// allocation statistics (a process-wide mutex on every allocation)
    /// and no unified page cache (a process-wide mutex on every page
    /// fetch, which concurrent reads on two threads waited for).
    #[test]
    fn sqlite_is_built_without_process_wide_mutexes_on_the_read_path() {
        let conn = Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    /// A fresh directory of this test's own.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mcpgen-reads-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn file_with_notes(dir: &Path, journal: &str) -> PathBuf {
        let path = dir.join("reads.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = {journal};
             CREATE TABLE notes (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, n BIGINT, small INT4, score REAL, raw BLOB, label VARCHAR(10));
             INSERT INTO notes VALUES ('a', 'alice', 1, 7, 0.5, x'00ff', 'x'), ('b', 'alice', NULL, NULL, NULL, NULL, NULL), ('c', 'bob', 3, 8, 1.5, x'01', 'y');"
        ))
        .unwrap();
        path
    }

    fn text(s: &str) -> Param {
        Param::Text(Arc::new(s.to_owned()))
    }

    /// Counts the ticks of a task beside the test's own: on a one-thread
    /// runtime it ticks only while the test's task is awaiting.
    fn ticker() -> (Arc<AtomicU64>, Arc<AtomicBool>) {
        let (ticks, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (t, s) = (Arc::clone(&ticks), Arc::clone(&stop));
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
                t.fetch_add(1, Ordering::Relaxed);
            }
        });
        (ticks, stop)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_short_read_runs_on_the_request_thread_once_a_connection_is_open() {
        let reads = SqliteReads::new(&file_with_notes(&scratch("inline"), "WAL"));
        let sql = "SELECT * FROM notes WHERE owner_id = $1 ORDER BY id";
        // The first read opens a connection, on the blocking pool; the
        // next ones find it and run where they are.
        for expected in [(0, 1), (1, 1), (2, 1)] {
            let rows = reads.rows(sql, &[text("alice")]).await.unwrap();
            assert_eq!(rows.len(), 2);
            assert_eq!(reads.counts(), expected);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_warmed_store_runs_its_first_reads_on_the_request_threads() {
        let reads = SqliteReads::new(&file_with_notes(&scratch("warm"), "WAL"));
        reads.warm().await;
        assert_eq!(reads.idle(), 2, "one reader per worker thread");
        let sql = "SELECT * FROM notes WHERE owner_id = $1 ORDER BY id";
        // One read at a time per worker thread, each on its own reader:
        // none has to go to the blocking pool for a connection.
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let reads = reads.clone();
                tokio::spawn(async move {
                    for _ in 0..10 {
                        assert_eq!(reads.rows(sql, &[text("alice")]).await.unwrap().len(), 2);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(reads.counts(), (20, 0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_long_read_leaves_the_runtime_and_still_answers() {
        let reads = SqliteReads::new(&file_with_notes(&scratch("long"), "WAL"));
        reads.rows("SELECT 1", &[]).await.unwrap();
        let (ticks, stop) = ticker();
        // Hundreds of milliseconds of work: far past the budget.
        let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
                   SELECT count(*) AS n, $1 AS owner FROM c";
        let rows = reads.rows(sql, &[text("alice")]).await.unwrap();
        stop.store(true, Ordering::Relaxed);
        assert_eq!(rows[0].try_get::<i64, _>("n").unwrap(), 3_000_000);
        assert_eq!(rows[0].try_get::<String, _>("owner").unwrap(), "alice");
        assert_eq!(
            reads.counts(),
            (0, 2),
            "the long read was moved, not finished inline"
        );
        // Had it run on the runtime's only thread, nothing else would have.
        assert!(
            ticks.load(Ordering::Relaxed) >= 3,
            "the runtime was held while the read ran ({} ticks)",
            ticks.load(Ordering::Relaxed)
        );
        // The connection it interrupted is fine for the next read.
        assert_eq!(reads.rows("SELECT 2 AS two", &[]).await.unwrap().len(), 1);
        assert_eq!(reads.counts(), (1, 2));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_that_must_wait_for_a_lock_waits_off_the_runtime() {
        // A rollback journal: a writer's EXCLUSIVE lock keeps readers out
        // until it commits.
        let path = file_with_notes(&scratch("busy"), "DELETE");
        let reads = SqliteReads::new(&path);
        reads.rows("SELECT 1", &[]).await.unwrap();
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "BEGIN EXCLUSIVE; INSERT INTO notes (id, owner_id) VALUES ('d', 'alice');",
            )
            .unwrap();
        let commit = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            writer.execute_batch("COMMIT").unwrap();
        });
        let (ticks, stop) = ticker();
        let rows = reads
            .rows(
                "SELECT id FROM notes WHERE owner_id = $1 ORDER BY id",
                &[text("alice")],
            )
            .await
            .unwrap();
        stop.store(true, Ordering::Relaxed);
        commit.join().unwrap();
        // It waited for the commit, and saw it.
        let ids: Vec<String> = rows.iter().map(|r| r.try_get("id").unwrap()).collect();
        assert_eq!(ids, ["a", "b", "d"]);
        assert_eq!(reads.counts(), (0, 2));
        assert!(
            ticks.load(Ordering::Relaxed) >= 3,
            "the runtime was held while the read waited ({} ticks)",
            ticks.load(Ordering::Relaxed)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn rows_are_the_rows_sqlx_would_have_built() {
        let path = file_with_notes(&scratch("same-rows"), "WAL");
        let reads = SqliteReads::new(&path);
        let sql = "SELECT * FROM notes WHERE owner_id = $1 OR id = $2 ORDER BY id";
        let params = [text("alice"), text("c")];
        sqlx::any::install_default_drivers();
        let mut sqlx_conn = format!("sqlite://{}?mode=ro", path.display())
            .parse::<sqlx::any::AnyConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap();
        // The rows sqlx's own driver builds for `sql`.
        async fn sqlx_rows(
            conn: &mut sqlx::AnyConnection,
            sql: &'static str,
            params: &[Param],
        ) -> Vec<AnyRow> {
            let mut args = sqlx::any::AnyArguments::default();
            args.values.0 = params.to_vec();
            sqlx::query_with(sql, args).fetch_all(conn).await.unwrap()
        }
        let theirs = sqlx_rows(&mut sqlx_conn, sql, &params).await;
        let describe = |rows: &[AnyRow]| -> Vec<String> { rows.iter().map(described).collect() };
        for _ in 0..2 {
            let ours = reads.rows(sql, &params).await.unwrap();
            assert_eq!(describe(&ours), describe(&theirs));
            assert_eq!(ours.len(), 3);
            // By name, as a record's `FromRow` reads them.
            assert_eq!(ours[0].try_get::<Vec<u8>, _>("raw").unwrap(), [0, 255]);
            assert_eq!(ours[1].try_get::<Option<i64>, _>("n").unwrap(), None);
            assert_eq!(ours[2].try_get::<f64, _>("score").unwrap(), 1.5);
        }

        // Decoded in place, as records are: one row reused for every
        // result row, its text and blob buffers overwritten. Each row reads
        // as sqlx's does, with nothing left over from the row before: text
        // shorter than the last, a NULL after a value, a column whose
        // values (undeclared) change type from row to row.
        let mixed = "SELECT column1 AS a, column2 AS b, column3 AS c FROM (VALUES \
                     ('a longer text', 1, x'0102'), (2, 'x', x'03'), (NULL, x'01', NULL), \
                     ('s', 'yy', 'text'), ('', NULL, x''))";
        for (sql, params) in [(sql, &params[..]), (mixed, &[][..])] {
            let theirs = sqlx_rows(&mut sqlx_conn, sql, params).await;
            for _ in 0..2 {
                let ours = reads
                    .fetch(sql, params, |row| Ok(described(row)))
                    .await
                    .unwrap();
                assert_eq!(ours, describe(&theirs), "{sql}");
            }
        }
    }

    /// A row's columns (names and types) and values, as text.
    fn described(row: &AnyRow) -> String {
        let cols: Vec<_> = row
            .columns
            .iter()
            .map(|c| format!("{}:{:?}", c.name, c.type_info.kind))
            .collect();
        format!("{cols:?} {:?}", row.values)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_schema_change_between_reads_gives_rows_of_the_new_shape() {
        let path = file_with_notes(&scratch("reshaped"), "WAL");
        let reads = SqliteReads::new(&path);
        let sql = "SELECT * FROM notes WHERE id = $1";
        let names = |row: &AnyRow| -> Vec<String> {
            row.columns.iter().map(|c| c.name.to_string()).collect()
        };
        let before = reads.rows(sql, &[text("a")]).await.unwrap();
        assert_eq!(before[0].columns.len(), 7);
        assert_eq!(before[0].try_get::<String, _>("label").unwrap(), "x");
        // Another connection (a migration, another process) reshapes the
        // table under the same statement on the same open connection:
        // first a column renamed (as many columns as before), then one
        // added.
        let migrate = |sql: &str| Connection::open(&path).unwrap().execute_batch(sql).unwrap();
        migrate("ALTER TABLE notes RENAME COLUMN label TO tag");
        let renamed = reads.rows(sql, &[text("a")]).await.unwrap();
        assert_eq!(
            names(&renamed[0]),
            ["id", "owner_id", "n", "small", "score", "raw", "tag"]
        );
        assert_eq!(renamed[0].try_get::<String, _>("tag").unwrap(), "x");
        assert!(renamed[0].try_get::<String, _>("label").is_err());
        migrate("ALTER TABLE notes ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT 1");
        let added = reads.rows(sql, &[text("a")]).await.unwrap();
        assert_eq!(
            names(&added[0]),
            [
                "id", "owner_id", "n", "small", "score", "raw", "tag", "pinned"
            ]
        );
        // Typed by its declaration, its value by what SQLite stored, as
        // sqlx's driver does.
        assert_eq!(
            added[0].columns[7].type_info.kind,
            sqlx_core::any::AnyTypeInfoKind::Bool
        );
        assert_eq!(added[0].try_get::<i64, _>("pinned").unwrap(), 1);
        assert_eq!(
            reads.counts(),
            (2, 1),
            "one connection: opened, then reused"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn parameters_bind_by_their_number_and_reads_cannot_write() {
        let reads = SqliteReads::new(&file_with_notes(&scratch("params"), "WAL"));
        let rows = reads
            .rows(
                "SELECT $2 || $1 AS joined, $2 AS again",
                &[text("a"), text("b")],
            )
            .await
            .unwrap();
        assert_eq!(rows[0].try_get::<String, _>("joined").unwrap(), "ba");
        assert_eq!(rows[0].try_get::<String, _>("again").unwrap(), "b");
        let rows = reads
            .rows(
                "SELECT ? AS first, ? AS second",
                &[text("a"), Param::BigInt(2)],
            )
            .await
            .unwrap();
        assert_eq!(rows[0].try_get::<String, _>("first").unwrap(), "a");
        assert_eq!(rows[0].try_get::<i64, _>("second").unwrap(), 2);
        let Err(missing) = reads.rows("SELECT $3", &[text("a")]).await else {
            panic!("a parameter with no value was accepted");
        };
        assert!(missing.to_string().contains("$3"), "{missing}");
        for sql in [
            "DELETE FROM notes",
            "SELECT 1; DELETE FROM notes",
            "CREATE TEMP TABLE t (x)",
        ] {
            assert!(reads.rows(sql, &[]).await.is_err(), "{sql} was accepted");
        }
        let rows = reads
            .rows("SELECT count(*) AS n FROM notes", &[])
            .await
            .unwrap();
        assert_eq!(rows[0].try_get::<i64, _>("n").unwrap(), 3);
    }
}
