//! The server: a registry, the app that implements it, the policy in force,
//! and the options every transport shares. Assembled once at startup; the
//! transports ([`crate::http`], [`crate::stdio`]) serve it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::audit::AuditSink;
use crate::auth::{AuthError, Authenticator, RequestStates};
use crate::caller::Caller;
use crate::endpoint::Endpoint;
use crate::environment::{self, EnvironmentError, ServerFacts};
use crate::handler::elicit::Pending;
use crate::oauth::AuthorizationServer;
use crate::policy::Policy;
use crate::protocol::meta;
use crate::registry::{Registry, RegistryError, Tools};
use crate::store::{DbKind, Store};
use mcpgen_spec::EnvironmentSpec;

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
    /// The endpoint's public URL, when it is not the manifest's
    /// `[resource] uri` (another host or port); its path must be the
    /// manifest's. The token audience, the protected-resource metadata and
    /// the challenges name it.
    pub public_url: Option<String>,
    /// Requests without an accepted credential (anonymous, or whose
    /// credential failed) per peer address and minute; over it, 429. 0
    /// turns the budget off.
    pub peer_budget_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the peer: a request
    /// from one of these addresses is counted against the address the
    /// proxy says it forwards for. Empty (the default): the header is
    /// ignored and the connection's address is the peer.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long a question to the person using the client (a tool's
    /// confirmation, a handler's `elicit`) may wait for its answer: the
    /// 2026-07-28 `requestState`'s lifetime, and the 2025-11-25 request's
    /// wait on the event stream.
    pub input_wait: Duration,
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
            public_url: None,
            peer_budget_per_minute: 600,
            trusted_proxies: Vec::new(),
            input_wait: Duration::from_secs(600),
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
    /// The environment is unknown, or disabled.
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
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
    /// A configured URL cannot be used (see the message).
    #[error("{0}")]
    Url(String),
    /// Something else needed at startup failed.
    #[error("{0}")]
    Other(String),
}

/// The resource a server is: `public_url` if given (checked, and on the
/// manifest's path), else the manifest's `[resource] uri` (checked).
pub(crate) fn resource_uri(
    manifest: &mcpgen_spec::ManifestSpec,
    public_url: Option<&str>,
) -> Result<String, StartError> {
    let declared =
        crate::endpoint::check_url("resource URI ([resource] uri)", &manifest.resource.uri)
            .map_err(StartError::Url)?;
    let Some(public) = public_url else {
        return Ok(manifest.resource.uri.to_string());
    };
    let given = crate::endpoint::check_url("public URL", public).map_err(StartError::Url)?;
    if given.path() != declared.path() {
        return Err(StartError::Url(format!(
            "the public URL's path {} is not the manifest's endpoint path {}: the server answers on {}; \
             give the URL clients use for that path (a proxy that moves the path is not supported)",
            given.path(),
            declared.path(),
            declared.path()
        )));
    }
    Ok(public.to_owned())
}

/// An MCP server for the tools of `S`.
///
/// ```no_run
/// # async fn run<S: mcpgen::Tools>(app: S) -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use mcpgen::{McpServer, ServerOptions};
///
/// let server = Arc::new(McpServer::new(app, ServerOptions::default())?);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, mcpgen::http::router(server)).await?;
/// # Ok(()) }
/// ```
pub struct McpServer<S: Tools> {
    pub(crate) registry: Registry<S>,
    pub(crate) app: S,
    pub(crate) options: ServerOptions,
    pub(crate) auth: Option<Arc<dyn Authenticator>>,
    pub(crate) endpoint: Endpoint,
    /// The protected-resource metadata's URL, as challenges name it.
    pub(crate) metadata_url: String,
    /// The resource this server is: the public URL, or the manifest's.
    pub(crate) resource_uri: String,
    pub(crate) facts: ServerFacts,
    pub(crate) audit: AuditSink,
    pub(crate) policy: Policy,
    pub(crate) store: Option<Store>,
    /// The built-in authorization server, when this environment uses it.
    pub(crate) authorization: Option<Arc<AuthorizationServer>>,
    /// This server's `Implementation` (name, version, title).
    pub(crate) server_info: Value,
    /// What every 2026-07-28 result carries besides its own fields
    /// (`resultType`, and `_meta` with `serverInfo`).
    pub(crate) modern_extra: Value,
    /// Sealing and spending of 2026-07-28 request states.
    pub(crate) states: RequestStates,
    /// 2025-11-25 questions sent on event streams, awaiting answers.
    pub(crate) pending: Arc<Pending>,
}

impl<S: Tools> McpServer<S> {
    /// Build the server in `options.environment`: every schema is computed
    /// and compiled here, once. Fails closed on an unknown or disabled
    /// environment.
    pub fn new(app: S, options: ServerOptions) -> Result<Self, StartError> {
        let registry = S::registry()?;
        let manifest = S::manifest();
        let environment = environment::select(manifest, &options.environment)?;
        let uri = resource_uri(manifest, options.public_url.as_deref())?;
        let endpoint = Endpoint::parse(&uri);
        let policy = Policy::new(
            manifest,
            environment.clone(),
            registry.tools().iter().map(|t| t.spec()),
            options.peer_budget_per_minute,
        )
        .with_entry_budgets(registry.resources().iter().map(|r| r.spec()))
        .with_entry_budgets(registry.prompts().iter().map(|p| p.spec()));
        let mut server_info = json!({"name": manifest.server.name, "version": options.version});
        if let Some(t) = &manifest.server.title {
            server_info["title"] = t.as_ref().into();
        }
        let modern_extra =
            json!({"resultType": "complete", "_meta": {meta::SERVER_INFO: server_info}});
        Ok(Self {
            registry,
            app,
            facts: ServerFacts {
                manifest,
                version: options.version.clone(),
                environment,
                database: None,
                database_data: None,
            },
            options,
            auth: None,
            metadata_url: endpoint.metadata_url(),
            endpoint,
            resource_uri: uri,
            audit: AuditSink::tracing_only(),
            policy,
            store: None,
            authorization: None,
            server_info,
            modern_extra,
            states: RequestStates::default(),
            pending: Arc::default(),
        })
    }

    /// Give handlers a database: each call runs in its own transaction,
    /// read-only for read tools, committed only on success for write tools.
    pub fn with_store(mut self, store: Store) -> Self {
        self.facts.database = Some(match store.db().kind() {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
        });
        self.store = Some(store);
        self
    }

    /// Record audit rows in a database as well as events.
    pub fn with_audit(mut self, audit: AuditSink) -> Self {
        self.audit = audit;
        self
    }

    /// Report the data class the attached database recorded (see
    /// [`Db::claim`](crate::store::Db::claim)) in the status tool.
    pub fn with_database_data(mut self, data: mcpgen_spec::DataKind) -> Self {
        self.facts.database_data = Some(data);
        self
    }

    /// Report the database kind (`sqlite` / `postgres`) in the status tool.
    pub fn with_database(mut self, kind: &'static str) -> Self {
        self.facts.database = Some(kind);
        self
    }

    /// Verify credentials with `auth`. Without one, only public tools can
    /// be called and every presented credential is refused.
    pub fn with_authenticator(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Serve the built-in authorization server `a` beside the MCP
    /// endpoint: its routes, and its issuer in the protected-resource
    /// metadata. (Its tokens are verified by the authenticator: add
    /// [`AuthorizationServer::verifier`] to it.)
    pub fn with_authorization_server(mut self, a: Arc<AuthorizationServer>) -> Self {
        self.authorization = Some(a);
        self
    }

    /// The built-in authorization server, when it is on.
    pub fn authorization_server(&self) -> Option<&AuthorizationServer> {
        self.authorization.as_deref()
    }

    /// The environment in force.
    pub fn environment(&self) -> &EnvironmentSpec {
        self.policy.environment()
    }

    /// The audit sink (flush it on shutdown).
    pub fn audit(&self) -> &AuditSink {
        &self.audit
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
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The protected-resource metadata (RFC 9728) for this server.
    pub fn resource_metadata(&self) -> Value {
        let mut doc = crate::artifacts::resource_metadata_at::<S>(&self.resource_uri);
        if let Some(a) = &self.authorization {
            doc["authorization_servers"] = json!([a.issuer()]);
        }
        doc
    }

    /// The resource this server is (the token audience): the public URL it
    /// was given, or the manifest's `[resource] uri`.
    pub fn resource_uri(&self) -> &str {
        &self.resource_uri
    }

    /// Verify a credential, failing closed when there is no authenticator.
    pub(crate) async fn authenticate(&self, credential: &str) -> Result<Caller, AuthError> {
        match &self.auth {
            Some(a) => a.authenticate(credential).await,
            None => Err(AuthError::InvalidToken),
        }
    }
}
