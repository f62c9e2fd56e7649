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
