//! The command line every mcpgen app gets: `serve` (Streamable HTTP) and
//! `stdio`, sharing one registry and policy.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::context::Caller;
use crate::registry::Tools;
use crate::server::{McpServer, ServerOptions};

/// Command-line interface of an mcpgen server.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over Streamable HTTP.
    Serve {
        /// Address to listen on. Loopback by default: expose it deliberately.
        #[arg(long, default_value = "127.0.0.1:8080", env = "MCPGEN_LISTEN")]
        listen: SocketAddr,
        /// Another host name accepted in the Host header (repeatable).
        /// Loopback and the manifest resource's host are always accepted.
        #[arg(long = "allow-host", value_name = "HOST")]
        allow_hosts: Vec<String>,
        /// Another origin (`scheme://host[:port]`) accepted in the Origin
        /// header (repeatable).
        #[arg(long = "allow-origin", value_name = "ORIGIN")]
        allow_origins: Vec<String>,
    },
    /// Serve MCP over stdin/stdout (newline-delimited JSON-RPC).
    Stdio,
}

/// Parse the command line and run the server `app` with `version` (pass
/// `env!("CARGO_PKG_VERSION")`). Logs go to stderr, filtered by `RUST_LOG`.
pub async fn run<S: Tools>(app: S, version: &str) -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    init_tracing();
    let mut options = ServerOptions {
        version: version.to_owned(),
        ..ServerOptions::default()
    };
    match cli.command {
        Command::Serve {
            listen,
            allow_hosts,
            allow_origins,
        } => {
            options.allowed_hosts = allow_hosts;
            options.allowed_origins = allow_origins;
            let server = Arc::new(McpServer::new(app, options)?);
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let local = listener.local_addr()?;
            eprintln!(
                "{} MCP server listening on http://{local}{}",
                S::manifest().server.name,
                server.endpoint_path()
            );
            let router = crate::http::router(server);
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
        Command::Stdio => {
            let server = Arc::new(McpServer::new(app, options)?);
            let caller: Option<Caller> = None;
            crate::stdio::serve(server, caller, tokio::io::stdin(), tokio::io::stdout()).await?;
        }
    }
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

async fn shutdown_signal() {
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
