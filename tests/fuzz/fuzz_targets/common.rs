//! What the HTTP targets share: the example app's server, assembled once,
//! and one runtime to drive its router.

use std::sync::{Arc, OnceLock};

use axum::Router;
use mcpgen::{McpServer, ServerOptions};
use notes_app::Notes;

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// The router of the example server: no database, no authenticator (every
/// credential is refused, anonymous calls reach the policy).
pub fn router() -> Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER
        .get_or_init(|| {
            let _guard = runtime().enter();
            let server = McpServer::new(Notes, ServerOptions::default()).expect("the server");
            mcpgen::http::router(Arc::new(server))
        })
        .clone()
}
