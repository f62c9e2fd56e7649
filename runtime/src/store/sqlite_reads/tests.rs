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
        .execute_batch("BEGIN EXCLUSIVE; INSERT INTO notes (id, owner_id) VALUES ('d', 'alice');")
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
    let names =
        |row: &AnyRow| -> Vec<String> { row.columns.iter().map(|c| c.name.to_string()).collect() };
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
