//! The server: a registry, the app that implements it, and the options
//! every transport shares.

use std::sync::Arc;
use std::time::Duration;

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::audit::AuditSink;
use crate::builtin::ServerFacts;
use crate::context::Caller;
use crate::input::BoxFuture;
use crate::registry::{Registry, RegistryError, Tools};
use crate::spec::{DataKind, EnvironmentSpec, RuntimeKind};

/// Why a presented credential was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Malformed, expired, revoked, wrong audience or issuer, unknown key:
    /// all look the same to the caller.
    #[error("the access token is invalid")]
    InvalidToken,
    /// The credential could not be checked (e.g. the key store is down).
    /// Fails closed.
    #[error("credentials cannot be verified right now")]
    Unavailable,
}

/// Turns a presented credential (a bearer token or an access key) into a
/// [`Caller`]. The same authenticator serves HTTP and stdio.
pub trait Authenticator: Send + Sync + 'static {
    /// Verify `credential`. Never log it.
    fn authenticate<'a>(&'a self, credential: &'a str) -> BoxFuture<'a, Result<Caller, AuthError>>;
}

/// Settings shared by every transport.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The server's version, reported in `serverInfo`.
    pub version: String,
    /// Host names (without port) accepted in the `Host` header, besides
    /// loopback and the manifest resource's host.
    pub allowed_hosts: Vec<String>,
    /// Origins (`scheme://host[:port]`) accepted in the `Origin` header,
    /// besides loopback ones and the manifest resource's origin.
    pub allowed_origins: Vec<String>,
    /// Largest accepted request body (HTTP) or line (stdio), in bytes.
    pub max_body_bytes: usize,
    /// How long a handler may run before the call fails.
    pub call_timeout: Duration,
    /// Tools per `tools/list` page.
    pub page_size: usize,
    /// The manifest environment to run in.
    pub environment: String,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            call_timeout: Duration::from_secs(30),
            page_size: 100,
            environment: "local".to_owned(),
        }
    }
}

/// Why a server cannot start. Each says what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A tool's schema cannot be served.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// `--env` names no `[environments.*]` entry.
    #[error("unknown environment `{name}`: the manifest declares {available}")]
    UnknownEnvironment {
        /// What was asked for.
        name: String,
        /// What exists.
        available: String,
    },
    /// The environment says `enabled = false`.
    #[error(
        "environment `{0}` is disabled in the manifest (enabled = false): the server refuses to start there. \
         Set `enabled = true` under [environments.{0}] when it is ready"
    )]
    Disabled(String),
    /// A non-local environment without an external credential source.
    #[error(
        "environment `{name}` ({runtime} runtime) needs a real credential source: configure the authorization \
         server's keys with --jwks-url or --jwt-public-key (development tokens work only in a local environment)"
    )]
    NoCredentialSource {
        /// Environment name.
        name: String,
        /// Its runtime.
        runtime: String,
    },
    /// Something else needed at startup failed.
    #[error("{0}")]
    Other(String),
}

/// The manifest environment called `name`. A manifest without
/// `[environments]` has one implicit environment, `local`.
pub fn select_environment(
    environments: &'static [EnvironmentSpec],
    name: &str,
) -> Result<EnvironmentSpec, StartError> {
    static IMPLICIT_LOCAL: EnvironmentSpec = EnvironmentSpec {
        name: "local",
        runtime: RuntimeKind::Local,
        data: DataKind::Local,
        writes: true,
        enabled: true,
    };
    let list: &[EnvironmentSpec] = if environments.is_empty() {
        std::slice::from_ref(&IMPLICIT_LOCAL)
    } else {
        environments
    };
    let env =
        list.iter()
            .find(|e| e.name == name)
            .ok_or_else(|| StartError::UnknownEnvironment {
                name: name.to_owned(),
                available: list.iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
            })?;
    if !env.enabled {
        return Err(StartError::Disabled(env.name.to_owned()));
    }
    Ok(*env)
}

/// An MCP server for the tools of `S`.
pub struct McpServer<S: Tools> {
    pub(crate) registry: Registry<S>,
    pub(crate) app: S,
    pub(crate) options: ServerOptions,
    pub(crate) auth: Option<Arc<dyn Authenticator>>,
    pub(crate) endpoint: Endpoint,
    pub(crate) facts: ServerFacts,
    pub(crate) audit: AuditSink,
    pub(crate) limits: Limits,
    pub(crate) store: Option<crate::store::Store>,
    /// What every 2026-07-28 result carries besides its own fields
    /// (`resultType`, `_meta` with `serverInfo`), built on first use
    /// (`dispatch::modern_extra`).
    pub(crate) modern_result_extra: std::sync::OnceLock<serde_json::Value>,
}

/// Per-subject call budgets from `[limits]` and `[tools.*] calls_per_minute`.
pub(crate) struct Limits {
    pub(crate) global: Option<DefaultKeyedRateLimiter<String>>,
    pub(crate) per_tool: Vec<Option<DefaultKeyedRateLimiter<String>>>,
}

fn per_minute(n: u64) -> Option<DefaultKeyedRateLimiter<String>> {
    let n = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX))?;
    Some(RateLimiter::keyed(Quota::per_minute(n)))
}

/// Facts derived from the manifest's `[resource] uri`.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// `http` or `https`.
    pub(crate) scheme: String,
    /// Host, lowercase, without port or brackets.
    pub(crate) host: String,
    /// `host[:port]` as written.
    pub(crate) authority: String,
    /// The MCP endpoint path, e.g. `/mcp`.
    pub(crate) path: String,
}

impl Endpoint {
    fn parse(uri: &str) -> Self {
        let (scheme, rest) = uri.split_once("://").unwrap_or(("https", uri));
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split(['?', '#']).next().unwrap_or("/");
        Self {
            scheme: scheme.to_ascii_lowercase(),
            host: host_of(authority).into_owned(),
            authority: authority.to_owned(),
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            },
        }
    }

    /// Where the protected-resource metadata lives (RFC 9728 §3: the
    /// well-known path inserted before the endpoint path).
    pub(crate) fn metadata_path(&self) -> String {
        let tail = self.path.trim_end_matches('/');
        format!("/.well-known/oauth-protected-resource{tail}")
    }

    pub(crate) fn metadata_url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme,
            self.authority,
            self.metadata_path()
        )
    }
}

/// The host of `host[:port]` or `[v6]:port`, lowercase, without brackets.
pub(crate) fn host_of(authority: &str) -> std::borrow::Cow<'_, str> {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                authority
            }
        })
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        host.to_ascii_lowercase().into()
    } else {
        host.into()
    }
}

impl<S: Tools> McpServer<S> {
    /// Build the server in `options.environment`: every schema is computed
    /// and compiled here, once. Fails closed on an unknown or disabled
    /// environment.
    pub fn new(app: S, options: ServerOptions) -> Result<Self, StartError> {
        let registry = S::registry()?;
        let manifest = S::manifest();
        let environment = select_environment(manifest.environments, &options.environment)?;
        let endpoint = Endpoint::parse(manifest.resource.uri);
        let limits = Limits {
            global: manifest.limits.calls_per_minute.and_then(per_minute),
            per_tool: registry
                .tools()
                .iter()
                .map(|t| t.def().calls_per_minute.and_then(per_minute))
                .collect(),
        };
        let facts = ServerFacts {
            name: manifest.server.name,
            version: options.version.clone(),
            environment,
            database: None,
            records: manifest.records,
        };
        Ok(Self {
            registry,
            app,
            options,
            auth: None,
            endpoint,
            facts,
            audit: AuditSink::tracing_only(),
            limits,
            store: None,
            modern_result_extra: std::sync::OnceLock::new(),
        })
    }

    /// Give handlers a database: each call runs in its own transaction,
    /// read-only for read tools, committed only on success for write tools.
    pub fn with_store(mut self, store: crate::store::Store) -> Self {
        self.facts.database = Some(match store.db().kind() {
            crate::db::DbKind::Sqlite => "sqlite",
            crate::db::DbKind::Postgres => "postgres",
        });
        self.store = Some(store);
        self
    }

    /// Call a tool as `caller` through the whole request path (policy,
    /// validation, transaction, audit), without a transport. Returns the
    /// JSON-RPC response.
    pub async fn call_tool(
        self: &Arc<Self>,
        caller: Option<Caller>,
        name: &str,
        arguments: serde_json::Value,
    ) -> serde_json::Value {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}});
        let bytes = body.to_string();
        let incoming = crate::dispatch::Incoming {
            body: bytes.as_bytes(),
            headers: None,
            caller,
            transport: "embedded",
        };
        match crate::dispatch::prepare(self, incoming) {
            crate::dispatch::Outcome::Reply(r) => {
                r.body.map(|b| b.into_value()).unwrap_or_default()
            }
            crate::dispatch::Outcome::Call(call) => call
                .run(None)
                .await
                .body
                .map(|b| b.into_value())
                .unwrap_or_default(),
        }
    }

    /// Record audit rows in `db` as well as events.
    pub fn with_audit(mut self, audit: AuditSink) -> Self {
        self.audit = audit;
        self
    }

    /// Report the database kind (`sqlite` / `postgres`) in the status tool.
    pub fn with_database(mut self, kind: &'static str) -> Self {
        self.facts.database = Some(kind);
        self
    }

    /// The environment in force.
    pub fn environment(&self) -> &EnvironmentSpec {
        &self.facts.environment
    }

    /// The audit sink (flush it on shutdown).
    pub fn audit(&self) -> &AuditSink {
        &self.audit
    }

    /// Verify credentials with `auth`. Without one, only public tools can
    /// be called and every presented credential is refused.
    pub fn with_authenticator(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The registry being served.
    pub fn registry(&self) -> &Registry<S> {
        &self.registry
    }

    /// The app instance.
    pub fn app(&self) -> &S {
        &self.app
    }

    /// The options in force.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// The MCP endpoint path, e.g. `/mcp`.
    pub fn endpoint_path(&self) -> &str {
        &self.endpoint.path
    }

    /// The URL of the protected-resource metadata document.
    pub fn metadata_url(&self) -> String {
        self.endpoint.metadata_url()
    }

    /// Verify a credential, failing closed when there is no authenticator.
    pub(crate) async fn authenticate(&self, credential: &str) -> Result<Caller, AuthError> {
        match &self.auth {
            Some(a) => a.authenticate(credential).await,
            None => Err(AuthError::InvalidToken),
        }
    }

    /// The protected-resource metadata (RFC 9728) for this server.
    pub fn resource_metadata(&self) -> serde_json::Value {
        crate::artifacts::resource_metadata::<S>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_metadata_paths() {
        let e = Endpoint::parse("https://mcp.example.com/public/mcp");
        assert_eq!(e.host, "mcp.example.com");
        assert_eq!(e.path, "/public/mcp");
        assert_eq!(
            e.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp"
        );
        let e = Endpoint::parse("http://127.0.0.1:8080/mcp");
        assert_eq!(
            (e.host.as_str(), e.authority.as_str()),
            ("127.0.0.1", "127.0.0.1:8080")
        );
        assert_eq!(host_of("[::1]:3000"), "::1");
        assert_eq!(host_of("LocalHost"), "localhost");
    }
}
