//! What every subcommand needs: the database, logs, and a clean exit.

use super::args::Common;
use crate::registry::Tools;
use crate::store::Db;

/// Any error a subcommand reports.
pub(super) type BoxError = Box<dyn std::error::Error>;

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub(super) fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

pub(super) async fn open_db<S: Tools>(common: &Common) -> Result<Db, BoxError> {
    let db = Db::open(common.database_url.as_deref(), &common.data_dir).await?;
    db.migrate_runtime().await?;
    if !S::migrations().is_empty() {
        db.migrate("app_migrations", S::migrations()).await?;
    }
    Ok(db)
}

/// Log lines held for the writer thread at most.
const LOG_QUEUE: usize = 16 * 1024;

/// Logs go to stderr from a background thread that writes whatever has
/// queued up in one go, so a request never waits on a terminal or a pipe.
/// If the log stream cannot keep up, lines beyond [`LOG_QUEUE`] are dropped
/// rather than block a request (the audit table, not the log, is the
/// record of decisions). Keep the guard until exit: dropping it flushes.
pub(super) fn init_tracing() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE)
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()
        .map(|()| guard)
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
