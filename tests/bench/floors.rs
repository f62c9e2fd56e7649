//! What the two floor servers of the load benchmark share: their
//! command-line arguments and their listener.

use axum::Router;

/// The value after `name` on the command line.
pub(crate) fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Serve `app` on `--listen` (default 127.0.0.1:0), saying where on stderr.
pub(crate) async fn serve(app: Router) {
    let listen = arg("--listen").unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    eprintln!("listening on http://{}/mcp", listener.local_addr().unwrap());
    axum::serve(listener, app).await.expect("serve");
}
