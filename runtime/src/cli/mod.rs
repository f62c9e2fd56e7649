//! The command line every mcpgen app gets: `serve`, `stdio`, `keys`,
//! `token mint`. One binary, one registry, one policy.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::audit::AuditSink;
use crate::auth::DevKey;
use crate::builtin::{ServerFacts, environment_report};
use crate::db::Db;
use crate::registry::Tools;
use crate::server::{McpServer, ServerOptions, select_environment};
use crate::spec::{EnvironmentSpec, RuntimeKind};
use crate::store::Store;

mod credentials;

pub use credentials::credentials;
use credentials::{check_scopes, keys};

/// Command-line interface of an mcpgen server.
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub common: Common,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Common {
    /// The manifest environment to run in ([environments.NAME]).
    #[arg(
        long = "env",
        global = true,
        env = "MCPGEN_ENV",
        default_value = "local"
    )]
    pub env: String,
    /// Where the embedded SQLite database and the development signing key live.
    #[arg(long, global = true, env = "MCPGEN_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL (postgres://...) or SQLite (sqlite://...) URL; overrides
    /// the embedded SQLite file in --data-dir.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Where OAuth access tokens' signing keys come from.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// The token issuer (`iss`), exactly. Default: the manifest's first
    /// authorization server.
    #[arg(long, env = "MCPGEN_ISSUER")]
    pub issuer: Option<String>,
    /// The authorization server's JWKS URL (https).
    #[arg(long, env = "MCPGEN_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// A PEM public key that signs tokens, as FILE or KID=FILE (repeatable).
    #[arg(
        long = "jwt-public-key",
        env = "MCPGEN_JWT_PUBLIC_KEY",
        value_delimiter = ','
    )]
    pub jwt_public_keys: Vec<String>,
    /// Accepted token `typ` values (default at+jwt,application/at+jwt; add
    /// JWT for providers that emit it).
    #[arg(long = "jwt-typ", env = "MCPGEN_JWT_TYP", value_delimiter = ',')]
    pub jwt_typ: Vec<String>,
    /// The revocation bound: how long a verified access key is trusted
    /// before the database is asked again (a revoked key keeps working on
    /// an instance for at most this long). 0 asks on every request.
    #[arg(long, env = "MCPGEN_KEY_CACHE_TTL", value_parser = parse_duration_or_zero, default_value = "10s")]
    pub key_cache_ttl: Duration,
    /// How long a verified JWT is trusted before its signature is checked
    /// again; never past its `exp`. 0 checks every request.
    #[arg(long, env = "MCPGEN_TOKEN_CACHE_TTL", value_parser = parse_duration_or_zero, default_value = "5m")]
    pub token_cache_ttl: Duration,
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
        /// Token verification.
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Serve MCP over stdin/stdout (newline-delimited JSON-RPC). The
    /// credential (access key or bearer token) comes from MCPGEN_TOKEN;
    /// without one, only public tools can be called.
    Stdio {
        /// Token verification.
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Manage access keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Development tokens (local environment only).
    #[command(subcommand)]
    Token(TokenCommand),
    /// What the manifest and handlers generate, for review.
    #[command(subcommand)]
    Manifest(ManifestCommand),
}

/// `manifest ...`.
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Check that every tool can be served (schemas are objects and compile)
    /// and summarise the manifest.
    Check,
    /// Print the scope matrix (Markdown, or JSON with --json).
    Matrix {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print every tool's JSON Schemas, the protected-resource metadata and
    /// each environment's status, as one JSON document.
    Schema,
}

/// `keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is shown once.
    Create {
        /// The subject the key acts as.
        #[arg(long)]
        owner: String,
        /// Granted scopes, comma-separated (declared in the manifest).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// A label for the client that will use the key.
        #[arg(long)]
        client: Option<String>,
        /// Lifetime, e.g. 90d, 12h, 30m.
        #[arg(long, value_parser = parse_duration)]
        expires: Option<Duration>,
        /// Print one JSON object (with `id` and `key`).
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id.
    Revoke {
        /// The key's id.
        id: String,
    },
    /// List keys (never their secrets).
    List {
        /// Only this owner's keys.
        #[arg(long)]
        owner: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a key; prints who it authenticates as, or fails.
    Verify {
        /// The key; `-` reads it from stdin (keeps it out of shell history).
        key: String,
    },
}

/// `token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign a short-lived JWT with the local development key and print it.
    Mint {
        /// The token's subject.
        #[arg(long)]
        sub: String,
        /// Granted scopes, comma-separated.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// The token's `client_id`.
        #[arg(long)]
        client: Option<String>,
        /// Lifetime, e.g. 1h, 15m.
        #[arg(long, value_parser = parse_duration, default_value = "1h")]
        ttl: Duration,
    },
}

/// `90s`, `15m`, `12h`, `30d`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write e.g. 90s, 15m, 12h or 30d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("unknown unit in `{s}`: use s, m, h or d")),
    };
    if secs == 0 {
        return Err("the duration must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Like [`parse_duration`], and `0` (turn off) is allowed.
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim_end_matches(['s', 'm', 'h', 'd']) == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

pub(crate) type BoxError = Box<dyn std::error::Error>;

/// Parse the command line and run the server `app` with `version` (pass
/// `env!("CARGO_PKG_VERSION")`). Logs go to stderr, filtered by `RUST_LOG`.
pub async fn run<S: Tools>(app: S, version: &'static str) -> Result<(), BoxError> {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let manifest = S::manifest();
    let about = manifest.server.title.unwrap_or(manifest.server.name);
    let matches = Cli::command()
        .name(manifest.server.name)
        .bin_name(manifest.server.name)
        .version(version)
        .about(format!("{about}: an MCP server generated by mcpgen"))
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.exit())?;
    let _logs = init_tracing();
    let env = select_environment(manifest.environments, &cli.common.env)?;
    match cli.command {
        Command::Serve {
            listen,
            allow_hosts,
            allow_origins,
            auth,
        } => {
            let options = ServerOptions {
                version: version.to_owned(),
                allowed_hosts: allow_hosts,
                allowed_origins: allow_origins,
                environment: env.name.to_owned(),
                ..ServerOptions::default()
            };
            let (server, db) = build::<S>(app, options, &cli.common, &auth, &env).await?;
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let local = listener.local_addr()?;
            banner::<S>(
                &server,
                &db,
                &format!("http://{local}{}", server.endpoint_path()),
            );
            let router = crate::http::router(Arc::clone(&server));
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
            server.audit().flush().await;
        }
        Command::Stdio { auth } => {
            let options = ServerOptions {
                version: version.to_owned(),
                environment: env.name.to_owned(),
                ..ServerOptions::default()
            };
            let (server, _db) = build::<S>(app, options, &cli.common, &auth, &env).await?;
            let credential = std::env::var("MCPGEN_TOKEN").ok().filter(|t| !t.is_empty());
            crate::stdio::serve(
                Arc::clone(&server),
                credential,
                tokio::io::stdin(),
                tokio::io::stdout(),
            )
            .await?;
            server.audit().flush().await;
        }
        Command::Keys(cmd) => keys::<S>(cmd, &cli.common).await?,
        Command::Manifest(cmd) => {
            let registry = S::registry()?;
            match cmd {
                ManifestCommand::Check => {
                    let m = crate::artifacts::scope_matrix(&registry);
                    println!(
                        "ok: {} tools ({} scoped, {} public, {} built in), {} scopes, {} record kinds, {} environments",
                        m["totals"]["tools"],
                        m["totals"]["mapped"],
                        m["totals"]["public"],
                        m["totals"]["authenticated_only"],
                        manifest.scopes.len(),
                        manifest.records.len(),
                        manifest.environments.len()
                    );
                }
                ManifestCommand::Matrix { json } => {
                    if json {
                        emit(&format!(
                            "{:#}\n",
                            crate::artifacts::scope_matrix(&registry)
                        ));
                    } else {
                        emit(&crate::artifacts::scope_matrix_markdown(&registry));
                    }
                }
                ManifestCommand::Schema => {
                    let doc = serde_json::json!({
                        "tools": crate::artifacts::schemas(&registry),
                        "protected_resource_metadata": crate::artifacts::resource_metadata::<S>(),
                        "environments": crate::artifacts::environment_statuses::<S>(version),
                        "scope_matrix": crate::artifacts::scope_matrix(&registry),
                    });
                    emit(&format!("{doc:#}\n"));
                }
            }
        }
        Command::Token(TokenCommand::Mint {
            sub,
            scopes,
            client,
            ttl,
        }) => {
            if env.runtime != RuntimeKind::Local {
                return Err(format!(
                    "development tokens are trusted only in a local environment; `{}` is a {} runtime",
                    env.name,
                    runtime_name(env.runtime)
                )
                .into());
            }
            check_scopes::<S>(&scopes)?;
            let key = DevKey::load_or_create(&cli.common.data_dir)?;
            let token = key.mint(manifest.resource.uri, &sub, &scopes, client.as_deref(), ttl)?;
            println!("{token}");
        }
    }
    Ok(())
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

pub(crate) fn runtime_name(r: RuntimeKind) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) async fn open_db<S: Tools>(common: &Common) -> Result<Db, BoxError> {
    let db = Db::open(common.database_url.as_deref(), &common.data_dir).await?;
    db.migrate_runtime().await?;
    if !S::migrations().is_empty() {
        db.migrate("app_migrations", S::migrations()).await?;
    }
    Ok(db)
}

async fn build<S: Tools>(
    app: S,
    options: ServerOptions,
    common: &Common,
    auth: &AuthArgs,
    env: &EnvironmentSpec,
) -> Result<(Arc<McpServer<S>>, Db), BoxError> {
    let db = open_db::<S>(common).await?;
    let credentials = credentials::<S>(auth, env, &db, &common.data_dir).await?;
    let server = McpServer::new(app, options)?
        .with_authenticator(Arc::new(credentials))
        .with_audit(AuditSink::to_database(db.clone()))
        .with_store(Store::new(db.clone()).await?);
    Ok((Arc::new(server), db))
}

fn banner<S: Tools>(server: &McpServer<S>, db: &Db, url: &str) {
    let facts: &ServerFacts = &server.facts;
    let report = environment_report(facts);
    let name = S::manifest().server.name;
    eprintln!("{name} MCP server listening on {url}");
    eprintln!("  environment: {} — {}", report.environment, report.summary);
    eprintln!("  database:    {}", db.describe());
    eprintln!("  resource:    {}", S::manifest().resource.uri);
    if facts.environment.runtime == RuntimeKind::Local {
        let scope = S::manifest().scopes.first().map_or("", |s| s.name);
        eprintln!(
            "  credentials: `{name} token mint --sub you --scopes {scope}` prints a development token; \
             `{name} keys create --owner you --scopes {scope}` an access key"
        );
    }
}

/// Log lines held for the writer thread at most.
const LOG_QUEUE: usize = 16 * 1024;

/// Logs go to stderr from a background thread that writes whatever has
/// queued up in one go, so a request never waits on a terminal or a pipe.
/// If the log stream cannot keep up, lines beyond [`LOG_QUEUE`] are dropped
/// rather than block a request (the audit table, not the log, is the
/// record of decisions). Keep the guard until exit: dropping it flushes.
fn init_tracing() -> Option<tracing_appender::non_blocking::WorkerGuard> {
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

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(2_592_000)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("abc").is_err());
    }
}
