//! Storage through sqlx: an embedded SQLite file by default, PostgreSQL when
//! `DATABASE_URL` says so. One code path for both (sqlx's `Any` driver,
//! portable SQL, `$N` placeholders, times as Unix seconds).

use std::borrow::Cow;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use mcpgen_spec::{DataKind, EnvironmentSpec};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// Why the database could not be used. Messages never include the URL (it
/// may carry a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The URL's scheme is not one mcpgen supports.
    #[error("unsupported database URL: use sqlite://PATH or postgres://... (got scheme `{0}`)")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to the {kind} database: {reason}")]
    Connect {
        /// SQLite or PostgreSQL.
        kind: &'static str,
        /// What went wrong, without the URL.
        reason: String,
    },
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(String),
    /// The database holds another class of data than the environment runs
    /// on: a `local` server pointed at a production database, say.
    #[error(
        "this database holds {recorded} data (it was first used in environment `{first}`), but environment \
         `{environment}` runs on {data} data: refusing to use it. Point DATABASE_URL (or --data-dir) at \
         `{environment}`'s own database, or run in an environment on {recorded} data (--env)"
    )]
    WrongData {
        /// The data class the database recorded when it was first used.
        recorded: DataKind,
        /// The environment that first used it.
        first: String,
        /// The environment asking to use it.
        environment: String,
        /// That environment's data class.
        data: DataKind,
    },
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        // sqlx errors can quote the connection string in some cases; keep
        // only the kind of failure.
        let reason = match &e {
            sqlx::Error::Database(db) => db.message().to_owned(),
            sqlx::Error::PoolTimedOut => "timed out waiting for a connection".to_owned(),
            sqlx::Error::Io(io) => format!("I/O error: {}", io.kind()),
            sqlx::Error::RowNotFound => "row not found".to_owned(),
            other => error_kind(other).to_owned(),
        };
        DbError::Query(reason)
    }
}

fn error_kind(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Configuration(_) => "configuration error",
        sqlx::Error::Tls(_) => "TLS error",
        sqlx::Error::Protocol(_) => "protocol error",
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => "decode error",
        sqlx::Error::PoolClosed => "pool closed",
        _ => "driver error",
    }
}

/// Which database is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A pooled connection idle at least this long is pinged before reuse.
pub const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// A connection pool and what it points at.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    kind: DbKind,
    description: String,
    sqlite_path: Option<String>,
    /// PostgreSQL: the URL, for the connection that listens for
    /// notifications (`notify.rs`). Never printed.
    postgres_url: Option<Redacted>,
}

/// A connection string, kept and never shown (it may hold a password).
#[derive(Clone)]
struct Redacted(std::sync::Arc<str>);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Db {
    /// Connect to `url` (`sqlite://path` creates the file; `postgres://...`).
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let (kind, url, description, max) = match scheme.as_str() {
            "sqlite" => {
                let path = url
                    .trim_start_matches("sqlite:")
                    .trim_start_matches("//")
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                // Readable by its owner only (SQLite gives its WAL and
                // shared-memory files the same mode).
                if !url.contains("mode=ro") && !path.is_empty() && !path.starts_with(':') {
                    private_file(Path::new(&path)).map_err(|e| DbError::Connect {
                        kind: "SQLite",
                        reason: format!("cannot create the database file: {}", e.kind()),
                    })?;
                }
                let sep = if url.contains('?') { '&' } else { '?' };
                let url = if url.contains("mode=") {
                    url.to_owned()
                } else {
                    format!("{url}{sep}mode=rwc")
                };
                // One writer connection: SQLite has one writer at a time
                // anyway, and queueing for the connection is fair where
                // SQLite's busy handler sleeps and retries (measured: p99
                // of a write tool under load 392 ms with 8, 7.5 ms with 1).
                // Read tools use the read-only twin pool.
                (DbKind::Sqlite, url, path, 1)
            }
            "postgres" | "postgresql" => {
                let host = url
                    .split('@')
                    .next_back()
                    .and_then(|r| r.split_once("://").map_or(Some(r), |(_, h)| Some(h)))
                    .unwrap_or_default()
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                // Write tools, key lookups, the audit trail and migrations;
                // read tools have their own (`store::READ_CONNECTIONS`).
                (
                    DbKind::Postgres,
                    url.to_owned(),
                    format!("PostgreSQL at {host}"),
                    12,
                )
            }
            other => return Err(DbError::UnsupportedUrl(other.to_owned())),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(std::time::Duration::from_secs(5))
            // A PostgreSQL connection can die with its server or network
            // while idle: check one that sat idle for a second or more
            // before handing it out (a connection in steady use is not
            // pinged: that would be a round trip per call). An SQLite file
            // connection cannot die that way.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if kind == DbKind::Postgres && meta.idle_for >= IDLE_CHECK {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect(&url)
            .await
            .map_err(|e| DbError::Connect {
                kind: match kind {
                    DbKind::Sqlite => "SQLite",
                    DbKind::Postgres => "PostgreSQL",
                },
                reason: DbError::from(e).to_string(),
            })?;
        if kind == DbKind::Sqlite {
            // Concurrent readers with one writer, and wait instead of failing
            // when the writer is busy.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            sqlx::query("PRAGMA busy_timeout = 5000")
                .execute(&pool)
                .await?;
        }
        let (description, sqlite_path) = match kind {
            DbKind::Sqlite => (format!("SQLite file {description}"), Some(description)),
            DbKind::Postgres => (format!("PostgreSQL at {description}"), None),
        };
        let postgres_url = (kind == DbKind::Postgres).then(|| Redacted(url.as_str().into()));
        Ok(Self {
            pool,
            kind,
            description,
            sqlite_path,
            postgres_url,
        })
    }

    /// The PostgreSQL URL, for a connection of its own.
    pub(crate) fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_ref().map(|u| &*u.0)
    }

    /// The SQLite file's path, for an SQLite database.
    pub(crate) fn sqlite_path(&self) -> Option<&str> {
        self.sqlite_path.as_deref()
    }

    /// A second pool on the same SQLite file whose connections are
    /// read-only (`mode=ro`): writes through it fail in SQLite itself.
    pub async fn read_only_twin(&self) -> Result<Self, DbError> {
        let path = self
            .sqlite_path
            .as_deref()
            .ok_or_else(|| DbError::Connect {
                kind: "SQLite",
                reason: "not an SQLite file database".into(),
            })?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .test_before_acquire(false)
            .connect(&format!("sqlite://{path}?mode=ro"))
            .await
            .map_err(|e| DbError::Connect {
                kind: "SQLite",
                reason: DbError::from(e).to_string(),
            })?;
        sqlx::query("PRAGMA busy_timeout = 5000")
            .execute(&pool)
            .await?;
        Ok(Self {
            pool,
            kind: DbKind::Sqlite,
            description: format!("{} (read-only)", self.description),
            sqlite_path: Some(path.to_owned()),
            postgres_url: None,
        })
    }

    /// `DATABASE_URL` if set, else the SQLite file `mcpgen.db` in `data_dir`
    /// (created if missing).
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Self, DbError> {
        match database_url {
            Some(url) if !url.is_empty() => Self::connect(url).await,
            _ => {
                private_dir(data_dir).map_err(|e| DbError::Connect {
                    kind: "SQLite",
                    reason: format!(
                        "cannot create the data directory {}: {e}",
                        data_dir.display()
                    ),
                })?;
                let path = data_dir.join("mcpgen.db");
                Self::connect(&format!("sqlite://{}", path.display())).await
            }
        }
    }

    /// Use the database in `env`. The first environment to use a database
    /// records its data class there; an environment of another class is
    /// refused ([`DbError::WrongData`]), so a `local` server cannot be
    /// pointed at the database a production deployment uses (and trust
    /// development tokens for any subject there). Returns the class the
    /// database holds.
    pub async fn claim(&self, env: &EnvironmentSpec) -> Result<DataKind, DbError> {
        sqlx::query(
            "INSERT INTO mcpgen_database (name, value) VALUES ('data', $1), ('first_environment', $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(env.data.as_str())
        .bind(env.name.to_string())
        .execute(&self.pool)
        .await?;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, value FROM mcpgen_database WHERE name IN ('data', 'first_environment')",
        )
        .fetch_all(&self.pool)
        .await?;
        let get = |key: &str| {
            rows.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let recorded: DataKind = get("data").parse().map_err(|_| {
            DbError::Query("the recorded data class is not one mcpgen knows".into())
        })?;
        if recorded != env.data {
            return Err(DbError::WrongData {
                recorded,
                first: get("first_environment"),
                environment: env.name.to_string(),
                data: env.data,
            });
        }
        Ok(recorded)
    }

    /// Delete audit records older than `before` (Unix seconds), a chunk at
    /// a time so no transaction holds the table long. Returns how many.
    pub(crate) async fn prune_audit(&self, before: i64) -> Result<u64, DbError> {
        const CHUNK: i64 = 5_000;
        let mut deleted = 0;
        loop {
            let n = sqlx::query(
                "DELETE FROM mcpgen_audit WHERE request_id IN \
                 (SELECT request_id FROM mcpgen_audit WHERE at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(CHUNK)
            .execute(&self.pool)
            .await?
            .rows_affected();
            deleted += n;
            if n < CHUNK as u64 {
                return Ok(deleted);
            }
        }
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// SQLite or PostgreSQL.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// What the database is, for humans, without credentials.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Apply `migrations` (version, description, SQL), tracked in `table`.
    /// Safe to run from several instances at once.
    pub async fn migrate(
        &self,
        table: &'static str,
        migrations: &[(i64, &'static str, &'static str)],
    ) -> Result<(), DbError> {
        let list = migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sqlx::SqlSafeStr::into_sql_str(sql),
                    false,
                )
            })
            .collect();
        let mut migrator = Migrator::with_migrations(list);
        migrator.dangerous_set_table_name(table);
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| DbError::Migrate(e.to_string()))
    }

    /// The runtime's own tables: access keys and the audit trail.
    pub async fn migrate_runtime(&self) -> Result<(), DbError> {
        self.migrate("mcpgen_migrations", RUNTIME_MIGRATIONS).await
    }
}

/// Create `dir` (and its parents) if missing; the last one readable by its
/// owner only.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Create `path` empty, readable and writable by its owner only, unless it
/// exists.
fn private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

const RUNTIME_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "access keys",
        "CREATE TABLE mcpgen_access_keys (
            id TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL,
            owner TEXT NOT NULL,
            scopes TEXT NOT NULL,
            client TEXT,
            created_at BIGINT NOT NULL,
            expires_at BIGINT,
            revoked_at BIGINT,
            last_used_at BIGINT
        )",
    ),
    (
        2,
        "audit trail",
        "CREATE TABLE mcpgen_audit (
            request_id TEXT PRIMARY KEY,
            at BIGINT NOT NULL,
            transport TEXT NOT NULL,
            subject TEXT NOT NULL,
            client TEXT NOT NULL,
            tool TEXT NOT NULL,
            scopes TEXT NOT NULL,
            decision TEXT NOT NULL,
            reason TEXT NOT NULL,
            duration_us BIGINT NOT NULL
        )",
    ),
    (
        3,
        "audit peers, credentials, counts and retention",
        "ALTER TABLE mcpgen_audit ADD COLUMN peer TEXT NOT NULL DEFAULT '';
         ALTER TABLE mcpgen_audit ADD COLUMN credential TEXT NOT NULL DEFAULT '';
         ALTER TABLE mcpgen_audit ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
         CREATE INDEX mcpgen_audit_at ON mcpgen_audit (at)",
    ),
    (
        4,
        "the database's own facts",
        "CREATE TABLE mcpgen_database (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )",
    ),
    (
        5,
        "the built-in authorization server",
        "CREATE TABLE mcpgen_oauth_secrets (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            created_at BIGINT NOT NULL
         );
         CREATE TABLE mcpgen_oauth_clients (
            client_id TEXT PRIMARY KEY,
            secret_hash TEXT,
            name TEXT NOT NULL,
            redirect_uris TEXT NOT NULL,
            auth_method TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            last_used_at BIGINT NOT NULL
         );
         CREATE INDEX mcpgen_oauth_clients_last_used ON mcpgen_oauth_clients (last_used_at);
         CREATE TABLE mcpgen_oauth_codes (
            code_hash TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            client_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            subject TEXT NOT NULL,
            key_id TEXT,
            scopes TEXT NOT NULL,
            challenge TEXT NOT NULL,
            resource TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT
         );
         CREATE INDEX mcpgen_oauth_codes_expiry ON mcpgen_oauth_codes (expires_at);
         CREATE TABLE mcpgen_oauth_refresh (
            token_hash TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            client_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            key_id TEXT,
            scopes TEXT NOT NULL,
            resource TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT,
            revoked_at BIGINT
         );
         CREATE INDEX mcpgen_oauth_refresh_family ON mcpgen_oauth_refresh (family);
         CREATE INDEX mcpgen_oauth_refresh_expiry ON mcpgen_oauth_refresh (expires_at);
         CREATE TABLE mcpgen_oauth_grants (
            subject TEXT NOT NULL,
            client_id TEXT NOT NULL,
            scopes TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (subject, client_id)
         )",
    ),
    (
        6,
        "request states spent",
        "CREATE TABLE mcpgen_request_states (
            nonce TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL
         );
         CREATE INDEX mcpgen_request_states_expiry ON mcpgen_request_states (expires_at)",
    ),
];
