//! The tools every mcpgen server has: `verify_access` (who am I) and
//! `get_environment_status` (where am I, and may I write). Both are
//! read-only, need an authenticated caller but no scope, and never reveal
//! a secret, a connection string or a file path.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::content::{CallToolResult, IntoCallResult};
use crate::context::{AuthMethod, Invocation};
use crate::error::ToolError;
use crate::input::{BoxFuture, NoArguments};
use crate::registry::ToolDef;
use crate::spec::{Access, Annotations, DataKind, EnvironmentSpec, RuntimeKind};

/// What a running server knows about itself.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    /// `[server] name`.
    pub name: &'static str,
    /// The server's version.
    pub version: String,
    /// The environment it runs in.
    pub environment: EnvironmentSpec,
    /// `sqlite` or `postgres`, when a database is attached.
    pub database: Option<&'static str>,
    /// The manifest's record kinds and ownership rules.
    pub records: &'static [crate::spec::RecordSpec],
}

/// `verify_access`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccessReport {
    /// The authenticated subject.
    pub subject: String,
    /// How it authenticated: `access_key`, `oauth` or `dev_token`.
    pub auth_method: String,
    /// The access key's id or the token's `jti` (never the secret).
    pub credential_id: Option<String>,
    /// The OAuth client, if known.
    pub client_id: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When the credential expires, Unix seconds.
    pub expires_at: Option<i64>,
}

/// `get_environment_status`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EnvironmentReport {
    /// Server name.
    pub server: String,
    /// Server version.
    pub version: String,
    /// Environment name from the manifest.
    pub environment: String,
    /// Where it runs: local, test, preview, staging or production.
    pub runtime: String,
    /// Which data it uses: local, test, staging or production.
    pub data: String,
    /// Whether this server reads and writes production data.
    pub shares_production_data: bool,
    /// Whether write tools may run here.
    pub writes_enabled: bool,
    /// Whether it is safe to run tests that write here (not production data).
    pub safe_for_tests: bool,
    /// `sqlite`, `postgres`, or null.
    pub database: Option<String>,
    /// The same, in one blunt sentence.
    pub summary: String,
}

fn lower<T: Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The environment report for `env`.
pub fn environment_report(facts: &ServerFacts) -> EnvironmentReport {
    let env = &facts.environment;
    let production_data = env.data == DataKind::Production;
    let summary = match (env.runtime, production_data, env.writes) {
        (RuntimeKind::Production, true, true) => {
            "Production runtime on production data. Writes are enabled: every change is real."
                .to_owned()
        }
        (runtime, true, false) => format!(
            "{} runtime on PRODUCTION data. Writes are disabled: write tools are hidden and refused.",
            capitalized(&lower(runtime))
        ),
        (runtime, true, true) => format!(
            "{} runtime on PRODUCTION data, with writes ENABLED: changes here change production.",
            capitalized(&lower(runtime))
        ),
        (runtime, false, writes) => format!(
            "{} runtime on {} data (not production). Writes are {}; safe for tests.",
            capitalized(&lower(runtime)),
            lower(env.data),
            if writes { "enabled" } else { "disabled" }
        ),
    };
    EnvironmentReport {
        server: facts.name.to_owned(),
        version: facts.version.clone(),
        environment: env.name.to_owned(),
        runtime: lower(env.runtime),
        data: lower(env.data),
        shares_production_data: production_data,
        writes_enabled: env.writes,
        safe_for_tests: !production_data,
        database: facts.database.map(str::to_owned),
        summary,
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn verify_access<'a, S>(
    _: &'a S,
    inv: Invocation<'a>,
    _: Value,
) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
    Box::pin(async move {
        let c = inv.caller();
        let method = match c.method() {
            AuthMethod::None => "none",
            AuthMethod::AccessKey => "access_key",
            AuthMethod::OAuth => "oauth",
            AuthMethod::DevToken => "dev_token",
        };
        AccessReport {
            subject: c.subject().to_owned(),
            auth_method: method.to_owned(),
            credential_id: c.credential_id().map(str::to_owned),
            client_id: c.client_id().map(str::to_owned),
            scopes: c.scopes().to_vec(),
            expires_at: c.expires_at(),
        }
        .into_call_result()
    })
}

fn get_environment_status<'a, S>(
    _: &'a S,
    inv: Invocation<'a>,
    _: Value,
) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
    Box::pin(async move {
        let facts = inv
            .facts()
            .ok_or_else(|| ToolError::Internal("the server's facts are not available".into()))?;
        environment_report(facts).into_call_result()
    })
}

/// The `declared_at` of built-in tools.
pub const DECLARED_AT: &str = "built in";

const READ_ONLY: Annotations = Annotations {
    read_only_hint: true,
    destructive_hint: None,
    idempotent_hint: None,
    open_world_hint: false,
};

/// The built-in tool definitions, for any server type.
pub(crate) fn definitions<S: 'static>() -> [ToolDef<S>; 2] {
    [
        ToolDef {
            name: "get_environment_status",
            title: Some("Environment status"),
            description: "Where this server runs and whether it may write: runtime, data environment, \
                          whether it shares production data, whether writes are enabled and safe for tests.",
            access: Access::Read,
            scopes: &[],
            public: false,
            record: None,
            annotations: READ_ONLY,
            declared_at: DECLARED_AT,
            input_type: "(no input)",
            input_schema: crate::__private::input_schema::<NoArguments>,
            output_schema: <EnvironmentReport as IntoCallResult>::output_schema,
            calls_per_minute: None,
            timeout_ms: None,
            call: get_environment_status::<S>,
        },
        ToolDef {
            name: "verify_access",
            title: Some("Verify access"),
            description: "Who the server thinks you are: subject, how you authenticated, the credential's id \
                          (never its secret), client, granted scopes and expiry.",
            access: Access::Read,
            scopes: &[],
            public: false,
            record: None,
            annotations: READ_ONLY,
            declared_at: DECLARED_AT,
            input_type: "(no input)",
            input_schema: crate::__private::input_schema::<NoArguments>,
            output_schema: <AccessReport as IntoCallResult>::output_schema,
            calls_per_minute: None,
            timeout_ms: None,
            call: verify_access::<S>,
        },
    ]
}
