//! The rmcp peer of the load benchmark: the official Rust SDK serving the
//! conformance fixture's `add_numbers` tool (two integers in, their sum as
//! structured content out) over its stateless Streamable HTTP transport
//! with JSON responses and no authentication.
//!
//! Two binaries: `rmcp-peer` with the system allocator, as an adopter's
//! server built from the SDK's examples is; `rmcp-peer-mimalloc` with the
//! allocator (and build setting) mcpgen's example server uses.
//! `rmcp-peer --listen 127.0.0.1:0` prints `listening on http://ADDR/mcp`
//! to stderr.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{Json, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Two integers.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    a: i64,
    b: i64,
}

/// Their sum.
#[derive(Serialize, JsonSchema)]
pub struct Sum {
    sum: i64,
}

#[derive(Clone)]
/// The server: its tools.
pub struct Fixture {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Fixture {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Adds two integers and returns the sum as structured content.")]
    async fn add_numbers(&self, Parameters(pair): Parameters<Pair>) -> Result<Json<Sum>, String> {
        let sum = pair
            .a
            .checked_add(pair.b)
            .ok_or("the sum overflows a 64-bit integer")?;
        Ok(Json(Sum { sum }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// Serve until killed.
pub async fn serve() {
    let args: Vec<String> = std::env::args().collect();
    let listen = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None);
    let service: StreamableHttpService<Fixture, LocalSessionManager> =
        StreamableHttpService::new(|| Ok(Fixture::new()), Default::default(), config);
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    eprintln!("listening on http://{}/mcp", listener.local_addr().unwrap());
    axum::serve(listener, app).await.expect("serve");
}
