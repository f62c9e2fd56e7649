//! The manifest as a model: what tools, scopes, records, environments and
//! clients a server declares. It knows nothing of TOML, so tests and other
//! front ends can build it directly.

use std::fmt;

/// A position in the manifest file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Loc {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub loc: Loc,
}

impl<T> Located<T> {
    /// Attach a location to a value.
    pub fn new(value: T, loc: Loc) -> Self {
        Self { value, loc }
    }
}

/// Whether a tool or scope reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Reads only.
    Read,
    /// May write.
    Write,
}

impl Access {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Machine name.
    pub name: Located<String>,
    /// Human title.
    pub title: Option<String>,
    /// Instructions for the model.
    pub instructions: Option<String>,
}

/// `[resource]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Exact endpoint URL, the token audience.
    pub uri: Located<String>,
    /// Authorization servers.
    pub authorization_servers: Located<Vec<Located<String>>>,
    /// Documentation URL.
    pub documentation: Option<Located<String>>,
}

/// One entry of `[scopes]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The scope string.
    pub name: Located<String>,
    /// What it grants.
    pub description: Located<String>,
    /// Read or write.
    pub access: Located<Access>,
}

/// One entry of `[records]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRule {
    /// The kind name.
    pub kind: Located<String>,
    /// Table.
    pub table: Located<String>,
    /// Id column.
    pub id: Located<String>,
    /// Owner column.
    pub owner: Located<String>,
}

/// Where an environment runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// A developer machine.
    Local,
    /// Automated tests.
    Test,
    /// Preview deployments.
    Preview,
    /// Staging.
    Staging,
    /// Production.
    Production,
}

/// Which data an environment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// Disposable local data.
    Local,
    /// Test fixtures.
    Test,
    /// A staging copy.
    Staging,
    /// Production data.
    Production,
}

/// One entry of `[environments]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Name.
    pub name: Located<String>,
    /// Where it runs.
    pub runtime: Located<RuntimeKind>,
    /// Which data it uses.
    pub data: Located<DataKind>,
    /// Whether writes are allowed; `None` when not written.
    pub writes: Option<Located<bool>>,
    /// `false` refuses to start.
    pub enabled: bool,
}

impl Environment {
    /// Whether write tools may run: the explicit decision, else `true` for
    /// non-production data. (Production data without a decision is rejected
    /// by the checks, so the default never applies to it.)
    pub fn writes(&self) -> bool {
        match &self.writes {
            Some(w) => w.value,
            None => self.data.value != DataKind::Production,
        }
    }
}

/// One entry of `[clients]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The OAuth `client_id`.
    pub client_id: Located<String>,
    /// Allowed tools; `*` for all.
    pub tools: Vec<Located<String>>,
}

/// `[limits]`: budgets that apply to every tool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Calls per minute per subject, across all tools.
    pub calls_per_minute: Option<Located<u32>>,
    /// Default per-call timeout, in milliseconds.
    pub timeout_ms: Option<Located<u64>>,
}

/// Hints a tool declares beyond its access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolAnnotations {
    /// Same arguments twice has no extra effect (write tools).
    pub idempotent: Option<Located<bool>>,
    /// May destroy or overwrite data (write tools).
    pub destructive: Option<Located<bool>>,
    /// Reaches systems outside the server's own data.
    pub open_world: Option<Located<bool>>,
}

/// One entry of `[tools]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// Name, as listed and called.
    pub name: Located<String>,
    /// Human title.
    pub title: Option<String>,
    /// What it does, for the model.
    pub description: Located<String>,
    /// Read or write.
    pub access: Located<Access>,
    /// Required scopes; `None` when the key is absent.
    pub scopes: Option<Located<Vec<Located<String>>>>,
    /// `public = true|false`, when written.
    pub public: Option<Located<bool>>,
    /// The record kind whose ownership rule applies.
    pub records: Option<Located<String>>,
    /// Hints.
    pub annotations: ToolAnnotations,
    /// Calls per minute per subject, for this tool.
    pub calls_per_minute: Option<Located<u32>>,
    /// Per-call timeout in milliseconds, overriding `[limits]`.
    pub timeout_ms: Option<Located<u64>>,
}

impl Tool {
    /// Whether the tool is callable without credentials.
    pub fn is_public(&self) -> bool {
        self.public.as_ref().is_some_and(|p| p.value)
    }

    /// The scope names, in manifest order.
    pub fn scope_names(&self) -> impl Iterator<Item = &str> {
        self.scopes
            .iter()
            .flat_map(|s| s.value.iter().map(|s| s.value.as_str()))
    }
}

/// A whole manifest. Every list is sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// `[server]`.
    pub server: Server,
    /// `[resource]`.
    pub resource: Resource,
    /// `[scopes]`.
    pub scopes: Vec<Scope>,
    /// `[records]`.
    pub records: Vec<RecordRule>,
    /// `[environments]`.
    pub environments: Vec<Environment>,
    /// `[clients]`.
    pub clients: Vec<Client>,
    /// `[limits]`.
    pub limits: Limits,
    /// `[tools]`.
    pub tools: Vec<Tool>,
}

impl Model {
    /// A scope by name.
    pub fn scope(&self, name: &str) -> Option<&Scope> {
        self.scopes.iter().find(|s| s.name.value == name)
    }

    /// A record rule by kind.
    pub fn record(&self, kind: &str) -> Option<&RecordRule> {
        self.records.iter().find(|r| r.kind.value == kind)
    }

    /// A tool by name.
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name.value == name)
    }
}

/// A mistake found in the manifest: where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where; `None` for a mistake about the file as a whole.
    pub loc: Option<Loc>,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `loc`.
    pub fn at(loc: Loc, message: impl Into<String>) -> Self {
        Self {
            loc: Some(loc),
            message: message.into(),
        }
    }

    /// Render with the manifest's file name, e.g. `mcp-manifest.toml:3:1: ...`.
    pub fn render(&self, file: &str) -> String {
        match self.loc {
            Some(loc) => format!("{file}:{loc}: {}", self.message),
            None => format!("{file}: {}", self.message),
        }
    }
}
