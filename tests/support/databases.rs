//! Databases for tests: a fresh SQLite file, or a fresh PostgreSQL database
//! on the server at 127.0.0.1:5432 (user `postgres`, as `.ci/run` starts it;
//! `MCPGEN_TEST_POSTGRES` overrides the admin URL).
//!
//! The suite runs on the backend [`backend`] names:
//! `MCPGEN_TEST_DATABASE=postgres` runs every server the tests start (in
//! process or as a child) on a fresh PostgreSQL database; the default is
//! the embedded SQLite file. `.ci/run` runs the suite once on each.

use std::sync::Arc;

use mcpgen::store::Db;
use mcpgen::store::Store;
use mcpgen::{McpServer, ServerOptions, Tools};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A scratch SQLite file.
    Sqlite,
    /// A scratch PostgreSQL database.
    Postgres,
}

impl Backend {
    /// The backend this run of the suite uses (`MCPGEN_TEST_DATABASE`).
    pub fn of_this_run() -> Self {
        match std::env::var("MCPGEN_TEST_DATABASE").as_deref() {
            Ok("postgres" | "postgresql") => Backend::Postgres,
            Ok("" | "sqlite") | Err(_) => Backend::Sqlite,
            Ok(other) => panic!("MCPGEN_TEST_DATABASE={other}: use sqlite or postgres"),
        }
    }
}

/// `--data-dir DIR`, and on a PostgreSQL run `--database-url URL` of a
/// database that belongs to `dir` (created on first use, the same for
/// every later call with `dir`): the arguments that give a server child
/// process its storage.
pub fn data_args(dir: &std::path::Path) -> Vec<String> {
    let mut args = vec!["--data-dir".to_owned(), dir.to_string_lossy().into_owned()];
    if Backend::of_this_run() == Backend::Postgres {
        args.push("--database-url".to_owned());
        args.push(postgres_url_for(dir));
    }
    args
}

/// The database a server child process started with [`data_args`]`(dir)`
/// used.
pub async fn open_for(dir: &std::path::Path) -> Db {
    match Backend::of_this_run() {
        Backend::Sqlite => Db::open(None, dir).await.expect("sqlite"),
        Backend::Postgres => Db::connect(&postgres_url_for(dir)).await.expect("postgres"),
    }
}

/// The PostgreSQL database that belongs to the data directory `dir`.
pub fn postgres_url_for(dir: &std::path::Path) -> String {
    let marker = dir.join(".test-database-url");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return url;
    }
    let label = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let url = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(create_postgres_database(&label))
    })
    .join()
    .expect("create database");
    std::fs::create_dir_all(dir).expect("mkdir data dir");
    std::fs::write(&marker, &url).expect("write marker");
    url
}

/// A new, empty PostgreSQL database; its URL.
pub async fn create_postgres_database(label: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    let name = format!(
        "mcpgen_{clean}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let admin = Db::connect(&postgres_admin_url())
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (start it, or set MCPGEN_TEST_POSTGRES)");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(admin.pool())
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.pool().close().await;
    let url = postgres_admin_url();
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("MCPGEN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A new, empty database of `backend`, with the runtime's and `S`'s
/// migrations applied.
pub async fn fresh<S: Tools>(backend: Backend, label: &str) -> Db {
    let db = match backend {
        Backend::Sqlite => {
            let dir = crate::process::scratch_dir(label);
            Db::open(None, &dir).await.expect("sqlite")
        }
        Backend::Postgres => Db::connect(&create_postgres_database(label).await)
            .await
            .expect("new database"),
    };
    db.migrate_runtime().await.unwrap();
    if !S::migrations().is_empty() {
        db.migrate("app_migrations", S::migrations()).await.unwrap();
    }
    db
}

/// An in-process server for `app` on `db`, in `environment`.
pub async fn server<S: Tools>(app: S, db: &Db, environment: &str) -> Arc<McpServer<S>> {
    let options = ServerOptions {
        environment: environment.into(),
        ..ServerOptions::default()
    };
    Arc::new(
        McpServer::new(app, options)
            .unwrap()
            .with_store(Store::new(db.clone()).await.unwrap()),
    )
}
