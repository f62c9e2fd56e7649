//! What every subcommand needs: the database, logs, and a clean exit.

use mcpgen_spec::{DataKind, EnvironmentSpec};

use super::args::{Common, LogFormat};
use crate::registry::Tools;
use crate::store::Db;

/// Any error a subcommand reports.
pub(super) type BoxError = Box<dyn std::error::Error>;

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub(super) fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

/// Open the database, migrate it, and claim it for `env` (refused when
/// it holds another class of data). Returns the class it holds.
pub(super) async fn open_db<S: Tools>(
    common: &Common,
    env: &EnvironmentSpec,
) -> Result<(Db, DataKind), BoxError> {
    let db = Db::open(common.database_url.as_deref(), &common.data_dir).await?;
    db.migrate_runtime().await?;
    let data = db.claim(env).await?;
    if !S::migrations().is_empty() {
        db.migrate("app_migrations", S::migrations()).await?;
    }
    Ok((db, data))
}

/// Log lines held for the writer thread at most.
const LOG_QUEUE: usize = 16 * 1024;

/// Logs go to stderr from a background thread that writes whatever has
/// queued up in one go, so a request never waits on a terminal or a pipe.
/// If the log stream cannot keep up, lines beyond [`LOG_QUEUE`] are dropped
/// rather than block a request (the audit table, not the log, is the
/// record of decisions). Keep the guard until exit: dropping it flushes.
pub(super) fn init_tracing(
    format: LogFormat,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE)
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    let installed = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().flatten_event(true).try_init(),
    };
    installed.ok().map(|()| guard)
}

pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
