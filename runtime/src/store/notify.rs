//! Telling every instance on one PostgreSQL that something changed, at
//! once: `NOTIFY` on the channel [`REVOCATIONS`] inside the transaction
//! that made the change (delivered when it commits, never for a rollback),
//! and [`listen`] on a connection of each instance's own. SQLite has one
//! instance per file, which changes its own caches directly.

use std::time::Duration;

use super::db::{Db, DbKind};

/// The channel revocations are announced on. Payloads: `key:<id>` (an
/// access key), `grant:<family>` (a grant of the built-in authorization
/// server).
pub const REVOCATIONS: &str = "mcpgen_revocations";

/// Announce `payload` on [`REVOCATIONS`] in the transaction `conn` is in
/// (a no-op on SQLite).
pub(crate) async fn announce(
    kind: DbKind,
    conn: &mut sqlx::AnyConnection,
    payload: &str,
) -> Result<(), sqlx::Error> {
    if kind == DbKind::Postgres {
        // `pg_notify` returns `void`, which the Any driver cannot read:
        // select a constant beside it.
        sqlx::query("SELECT 1 AS sent FROM pg_notify($1, $2)")
            .bind(REVOCATIONS)
            .bind(payload)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// What a listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A payload announced on [`REVOCATIONS`].
    Revoked(String),
    /// The listening connection was lost (or has just been made again):
    /// announcements may have been missed meanwhile.
    MayHaveMissed,
}

/// On PostgreSQL, call `on` with every announcement on [`REVOCATIONS`], on
/// a task of its own, for as long as the process runs, reconnecting
/// (every second) when the connection is lost; `on` hears
/// [`Heard::MayHaveMissed`] each time listening (re)starts and each time
/// it stops. While it is down, nothing is heard: caches fall back on their
/// own time bounds.
/// `None` on SQLite.
pub fn listen<F>(db: &Db, on: F) -> Option<tokio::task::JoinHandle<()>>
where
    F: Fn(Heard) + Send + Sync + 'static,
{
    let url = db.postgres_url()?.to_owned();
    Some(tokio::spawn(async move {
        let mut listening = false;
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
                Ok(l) => l,
                Err(e) => {
                    if listening {
                        tracing::warn!(error = %super::DbError::from(e), "cannot listen for revocations; retrying every second");
                    }
                    listening = false;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(REVOCATIONS).await {
                if listening {
                    tracing::warn!(error = %super::DbError::from(e), "cannot listen for revocations; retrying every second");
                }
                listening = false;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            if !listening {
                tracing::debug!("listening for revocations");
            }
            listening = true;
            // Anything announced before LISTEN took effect is unknown.
            on(Heard::MayHaveMissed);
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => on(Heard::Revoked(n.payload().to_owned())),
                    // The connection was lost; a new one is made below.
                    Ok(None) | Err(_) => {
                        tracing::warn!(
                            "lost the connection that listens for revocations; reconnecting"
                        );
                        on(Heard::MayHaveMissed);
                        break;
                    }
                }
            }
        }
    }))
}
