//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::state::Admin;
use crate::registry::Tools;

/// How long a readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process answers.
pub(super) async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
}

/// The database answers, and the JWKS can be had when one is configured:
/// 200, or 503 naming what is not ready (never a connection string).
pub(super) async fn readyz<S: Tools>(State(admin): State<Arc<Admin<S>>>) -> Response {
    let mut checks = Map::new();
    let database = tokio::time::timeout(
        CHECK_TIMEOUT,
        sqlx::query("SELECT 1 AS up").fetch_one(admin.db.pool()),
    )
    .await;
    let database = match database {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "the database does not answer: {}",
            crate::store::DbError::from(e)
        )),
        Err(_) => Err(format!(
            "the database did not answer within {}s",
            CHECK_TIMEOUT.as_secs()
        )),
    };
    checks.insert("database".into(), verdict(database));
    if let Some(jwks) = &admin.jwks {
        let ready = match tokio::time::timeout(CHECK_TIMEOUT, jwks.ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "the authorization server's JWKS cannot be had: {e}"
            )),
            Err(_) => Err(format!(
                "the authorization server's JWKS did not answer within {}s",
                CHECK_TIMEOUT.as_secs()
            )),
        };
        checks.insert("jwks".into(), verdict(ready));
    }
    let ready = checks.values().all(|v| v == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({"status": if ready { "ready" } else { "not ready" }, "checks": checks})),
    )
        .into_response()
}

fn verdict(r: Result<(), String>) -> Value {
    match r {
        Ok(()) => "ok".into(),
        Err(why) => why.into(),
    }
}

/// The Prometheus text format, the gauges read now.
pub(super) async fn metrics<S: Tools>(State(admin): State<Arc<Admin<S>>>) -> Response {
    let Some(handle) = &admin.metrics else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are off: this server was started without a metrics recorder\n",
        )
            .into_response();
    };
    let pool = admin.db.pool();
    crate::telemetry::gauges(
        admin.server.audit().queued(),
        pool.size(),
        pool.num_idle(),
        pool.options().get_max_connections(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
