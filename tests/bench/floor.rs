//! The floor of the load benchmark: the least an HTTP server can do for a
//! JSON-RPC `tools/call` on this machine. It parses the request body as
//! JSON-RPC, and answers with the same result the real server returned
//! (read once from a file), with no MCP, authentication, validation,
//! database or audit. Same axum, same tokio, same allocator as the server.
//!
//! `mcpgen-bench-floor --listen 127.0.0.1:0 --result FILE` prints
//! `listening on http://ADDR/mcp` to stderr.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;

#[path = "floors.rs"]
mod floors;
use floors::arg;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
struct Request {
    jsonrpc: String,
    id: Value,
    method: String,
    #[serde(default)]
    params: Option<Value>,
}

async fn mcp(State(result): State<Arc<Value>>, body: Bytes) -> impl IntoResponse {
    let Ok(req) = serde_json::from_slice::<Request>(&body) else {
        return (StatusCode::BAD_REQUEST, "parse error").into_response();
    };
    let named = req
        .params
        .as_ref()
        .and_then(|p| p.get("name"))
        .is_some_and(Value::is_string);
    if req.jsonrpc != "2.0" || req.method != "tools/call" || !named {
        return (StatusCode::BAD_REQUEST, "not a tools/call").into_response();
    }
    let response = serde_json::json!({"jsonrpc": "2.0", "id": req.id, "result": &*result});
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&response).unwrap_or_default(),
    )
        .into_response()
}

#[tokio::main]
async fn main() {
    let result: Value = match arg("--result") {
        Some(file) => {
            let text = std::fs::read_to_string(&file).expect("--result FILE");
            serde_json::from_str(&text).expect("--result FILE holds JSON")
        }
        None => serde_json::json!({"content": [], "isError": false}),
    };
    let app = Router::new()
        .route("/mcp", post(mcp))
        .with_state(Arc::new(result));
    floors::serve(app).await;
}
