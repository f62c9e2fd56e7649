//! Databases for tests: a fresh SQLite file, or a fresh PostgreSQL database
//! on the server at 127.0.0.1:5432 (user `postgres`, as `.ci/run` starts it;
//! `MCPGEN_TEST_POSTGRES` overrides the admin URL).

use std::sync::Arc;

use mcpgen::db::Db;
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
        Backend::Postgres => {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let name = format!(
                "mcpgen_{}_{}_{}",
                label.replace('-', "_"),
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
            let url = postgres_admin_url();
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
            Db::connect(&format!("{base}/{name}"))
                .await
                .expect("new database")
        }
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
