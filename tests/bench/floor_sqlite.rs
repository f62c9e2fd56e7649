//! The second floor of the load benchmark: what a hand-written server does
//! for the read tool's work, and nothing more. Bare axum parses the same
//! JSON-RPC `tools/call`, runs the same owner-scoped query over the same
//! rows of the same SQLite file (one read-only connection per worker
//! thread, the statement prepared once and cached), and answers with the
//! same result: no MCP, authentication, validation or audit. The owner is
//! fixed on the command line, as if the caller were known.
//!
//! This is the best a hand-written server does: it includes the kernel,
//! WAL-lock and row costs the read tool cannot avoid. Same axum, tokio and
//! allocator as the server.
//!
//! `mcpgen-bench-floor-sqlite --listen 127.0.0.1:0 --database FILE --owner SUBJECT`
//! prints `listening on http://ADDR/mcp` to stderr.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[path = "floors.rs"]
mod floors;
use floors::arg;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The read tool's statement (`search_owned_notes` without a cursor, newest
/// first), written the same way: the pattern and the limit as expressions,
/// so SQLite keeps the cached plan.
const SEARCH: &str = "SELECT id, title, body, created_at FROM notes WHERE owner_id = ?1 \
     AND (LOWER(title) LIKE (?2 || '') ESCAPE '\\' OR LOWER(body) LIKE (?2 || '') ESCAPE '\\') \
     ORDER BY created_at DESC, id DESC LIMIT (?3 + 0)";

#[derive(Deserialize)]
struct Request {
    jsonrpc: String,
    id: Value,
    method: String,
    params: Params,
}

#[derive(Deserialize)]
struct Params {
    name: String,
    arguments: Search,
}

#[derive(Deserialize)]
struct Search {
    query: String,
    limit: u32,
}

#[derive(Serialize)]
struct Note {
    id: String,
    title: String,
    body: String,
    created_at: i64,
}

#[derive(Serialize)]
struct Found {
    notes: Vec<Note>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

struct Floor {
    database: PathBuf,
    owner: String,
}

thread_local! {
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

fn pattern(query: &str) -> String {
    let lowered = query.to_lowercase();
    let mut pattern = String::with_capacity(lowered.len() + 2);
    pattern.push('%');
    for c in lowered.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn search(floor: &Floor, input: &Search) -> rusqlite::Result<Found> {
    CONNECTION.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            *slot = Some(Connection::open_with_flags(&floor.database, flags)?);
        }
        let connection = slot.as_ref().expect("opened above");
        let mut statement = connection.prepare_cached(SEARCH)?;
        let mut notes = statement
            .query_map(
                (
                    &floor.owner,
                    pattern(&input.query),
                    i64::from(input.limit) + 1,
                ),
                |row| {
                    Ok(Note {
                        id: row.get(0)?,
                        title: row.get(1)?,
                        body: row.get(2)?,
                        created_at: row.get(3)?,
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let next_cursor = if notes.len() > input.limit as usize {
            notes.truncate(input.limit as usize);
            notes.last().map(|n| {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(format!("{}:{}", n.created_at, n.id))
            })
        } else {
            None
        };
        Ok(Found { notes, next_cursor })
    })
}

async fn mcp(State(floor): State<Arc<Floor>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Request>(&body) else {
        return (StatusCode::BAD_REQUEST, "parse error").into_response();
    };
    if req.jsonrpc != "2.0" || req.method != "tools/call" || req.params.name.is_empty() {
        return (StatusCode::BAD_REQUEST, "not a tools/call").into_response();
    }
    let found = match search(&floor, &req.params.arguments) {
        Ok(found) => found,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let text = serde_json::to_string(&found).unwrap_or_default();
    let response = serde_json::json!({
        "jsonrpc": "2.0",
        "id": req.id,
        "result": {
            "content": [{"type": "text", "text": text}],
            "structuredContent": found,
            "isError": false,
        },
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&response).unwrap_or_default(),
    )
        .into_response()
}

#[tokio::main]
async fn main() {
    let floor = Floor {
        database: arg("--database").expect("--database FILE").into(),
        owner: arg("--owner").expect("--owner SUBJECT"),
    };
    let app = Router::new()
        .route("/mcp", post(mcp))
        .with_state(Arc::new(floor));
    floors::serve(app).await;
}
