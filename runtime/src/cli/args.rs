//! The command line every mcpgen server gets, as clap types.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

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
    /// The endpoint's public URL, when it is not the manifest's
    /// `[resource] uri` (another host or port; the same path): the token
    /// audience, and what the protected-resource metadata names.
    #[arg(long, global = true, env = "MCPGEN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How long audit records are kept; older ones are deleted by the
    /// server every hour. 0 keeps them forever.
    #[arg(long, global = true, env = "MCPGEN_AUDIT_RETENTION", value_parser = parse_duration_or_zero, default_value = "90d")]
    pub audit_retention: Duration,
    /// How long a question to the person using the client (a tool's
    /// `confirm`, a handler's question) may wait for the answer.
    #[arg(long, global = true, env = "MCPGEN_INPUT_WAIT", value_parser = parse_duration, default_value = "10m")]
    pub input_wait: Duration,
    /// Log lines as text (the default) or as one JSON object each, for
    /// collectors.
    #[arg(
        long,
        global = true,
        env = "MCPGEN_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Send a trace span of every request to this OpenTelemetry collector
    /// (its OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces).
    /// Off unless given.
    #[arg(
        long,
        global = true,
        env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        value_name = "URL"
    )]
    pub otlp_endpoint: Option<String>,
    /// Put each tool call's arguments in its span (they may hold user
    /// data: off unless asked).
    #[arg(long, global = true, env = "MCPGEN_OTLP_RECORD_ARGUMENTS")]
    pub otlp_record_arguments: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `key=value` fields, text quoted and escaped.
    Text,
    /// One JSON object per line.
    Json,
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
    /// The longest token lifetime accepted (`exp - iat`, or `exp` from now
    /// without `iat`); a token that lives longer is refused.
    #[arg(long, env = "MCPGEN_MAX_TOKEN_LIFETIME", value_parser = parse_duration, default_value = "24h")]
    pub max_token_lifetime: Duration,
    /// Built-in authorization server: how long the access tokens it issues
    /// live (refresh tokens renew them).
    #[arg(long, env = "MCPGEN_OAUTH_TOKEN_TTL", value_parser = parse_duration, default_value = "10m")]
    pub oauth_token_ttl: Duration,
    /// Built-in authorization server: registered clients kept at most (the
    /// least recently used go first).
    #[arg(long, env = "MCPGEN_OAUTH_MAX_CLIENTS", default_value_t = 10_000)]
    pub oauth_max_clients: u64,
    /// Built-in authorization server: fetch client metadata documents from
    /// loopback addresses, over plain http too. For tests only: it lets a
    /// client id point inside this machine.
    #[arg(long, env = "MCPGEN_OAUTH_ALLOW_LOOPBACK_CLIENT_DOCUMENTS")]
    pub oauth_allow_loopback_client_documents: bool,
}

/// What `serve` tolerates of its connections and peers.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Connections open at once, at most (capped below the process's
    /// file-descriptor limit).
    #[arg(long, env = "MCPGEN_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Connections open at once from one peer address, at most.
    #[arg(long, env = "MCPGEN_MAX_CONNECTIONS_PER_PEER", default_value_t = 256)]
    pub max_connections_per_peer: usize,
    /// How long a connection may take to send a request's headers, or sit
    /// idle between requests, before it is closed.
    #[arg(long, env = "MCPGEN_HEADER_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive (408 after it).
    #[arg(long, env = "MCPGEN_BODY_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub body_timeout: Duration,
    /// Requests without an accepted credential per peer address and minute
    /// (429 over it); 0 turns the budget off.
    #[arg(long, env = "MCPGEN_PEER_BUDGET", default_value_t = 600)]
    pub peer_budget: u32,
    /// A reverse proxy whose X-Forwarded-For names the peer (repeatable).
    /// Without one, the header is ignored.
    #[arg(
        long = "trust-proxy",
        env = "MCPGEN_TRUST_PROXY",
        value_delimiter = ',',
        value_name = "IP"
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
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
        /// Serve the admin listener (health, readiness, Prometheus metrics,
        /// the operator page, the key API) on this address: never the MCP
        /// port. Without a value, 127.0.0.1:9090. Off unless given.
        #[arg(
            long,
            env = "MCPGEN_ADMIN_LISTEN",
            value_name = "ADDR",
            num_args = 0..=1,
            default_missing_value = "127.0.0.1:9090"
        )]
        admin_listen: Option<SocketAddr>,
        /// Token verification.
        #[command(flatten)]
        auth: AuthArgs,
        /// Connection limits.
        #[command(flatten)]
        http: HttpArgs,
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

/// The longest duration the command line takes: a hundred years, so that
/// any time computed from one fits.
const MAX_DURATION_SECS: u64 = 36_500 * 86_400;

/// `90s`, `15m`, `12h`, `30d`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write e.g. 90s, 15m, 12h or 30d"))?;
    let per = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit in `{s}`: use s, m, h or d")),
    };
    let secs = n
        .checked_mul(per)
        .filter(|&s| s <= MAX_DURATION_SECS)
        .ok_or_else(|| format!("`{s}` is too long: write at most 36500d (a hundred years)"))?;
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
        // Overflows are refused, not wrapped or panicked on.
        assert!(parse_duration("999999999999999999d").is_err());
        assert!(parse_duration("18446744073709551615").is_err());
        assert!(parse_duration("99999999999999999999").is_err());
        assert_eq!(
            parse_duration("36500d"),
            Ok(Duration::from_secs(36_500 * 86_400))
        );
    }
}
