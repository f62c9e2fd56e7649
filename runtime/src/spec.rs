//! The manifest as the generated code hands it to the runtime: plain static
//! data, checked at compile time, with no TOML left in it.

use serde::Serialize;

/// Whether a tool or scope reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Reads only; handlers get a [`crate::ReadCx`].
    Read,
    /// May write; handlers get a [`crate::WriteCx`].
    Write,
}

/// `[server]`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerSpec {
    /// Machine name, e.g. `notes`.
    pub name: &'static str,
    /// Human title.
    pub title: Option<&'static str>,
    /// Instructions for the model, sent on discovery.
    pub instructions: Option<&'static str>,
}

/// `[resource]`: the protected resource (RFC 9728).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ResourceSpec {
    /// The exact endpoint URL; the token audience.
    pub uri: &'static str,
    /// Authorization servers that issue tokens for this resource.
    pub authorization_servers: &'static [&'static str],
    /// Human documentation for the resource.
    pub documentation: Option<&'static str>,
}

/// One entry of `[scopes]`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ScopeSpec {
    /// The scope string, e.g. `notes:read`.
    pub name: &'static str,
    /// What granting it allows, in words.
    pub description: &'static str,
    /// Whether it grants reading or writing.
    pub access: Access,
}

/// One entry of `[records]`: a record kind and how ownership is decided.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RecordSpec {
    /// The kind, e.g. `note`.
    pub kind: &'static str,
    /// Table holding the records.
    pub table: &'static str,
    /// Primary key column.
    pub id: &'static str,
    /// Column compared with the authenticated subject.
    pub owner: &'static str,
}

/// Where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// A developer's machine.
    Local,
    /// Automated tests.
    Test,
    /// A preview deployment.
    Preview,
    /// A staging deployment.
    Staging,
    /// Production.
    Production,
}

/// Which data the server reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataKind {
    /// Local, disposable data.
    Local,
    /// Test fixtures.
    Test,
    /// A staging copy.
    Staging,
    /// Production data.
    Production,
}

/// One entry of `[environments]`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EnvironmentSpec {
    /// The environment's name, e.g. `preview`.
    pub name: &'static str,
    /// Where it runs.
    pub runtime: RuntimeKind,
    /// Which data it uses.
    pub data: DataKind,
    /// Whether write tools may run.
    pub writes: bool,
    /// `false` makes the server refuse to start in this environment.
    pub enabled: bool,
}

/// One entry of `[clients]`: which tools an OAuth client may see and call.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClientSpec {
    /// The token's `client_id`.
    pub client_id: &'static str,
    /// Allowed tool names; `*` allows all.
    pub tools: &'static [&'static str],
}

/// The hints sent with a tool in `tools/list`, derived from its access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    /// `true` for read tools.
    pub read_only_hint: bool,
    /// Write tools only: may destroy or overwrite data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Write tools only: calling twice with the same arguments has no extra effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// Interacts with systems outside the server's own data.
    pub open_world_hint: bool,
}

/// `[limits]`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LimitsSpec {
    /// Calls per minute per subject across all tools.
    pub calls_per_minute: Option<u64>,
    /// Default per-call timeout in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// The whole manifest, as generated code sees it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ManifestSpec {
    /// `[server]`.
    pub server: ServerSpec,
    /// `[resource]`.
    pub resource: ResourceSpec,
    /// `[scopes]`, sorted by name.
    pub scopes: &'static [ScopeSpec],
    /// `[records]`, sorted by kind.
    pub records: &'static [RecordSpec],
    /// `[environments]`, sorted by name.
    pub environments: &'static [EnvironmentSpec],
    /// `[clients]`, sorted by client id.
    pub clients: &'static [ClientSpec],
    /// `[limits]`.
    pub limits: LimitsSpec,
}
