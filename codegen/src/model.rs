//! The manifest as a model: what tools, scopes, records, environments and
//! clients a server declares. It knows nothing of TOML, so tests and other
//! front ends can build it directly.

use std::fmt;

use mcpgen_spec as spec;

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

pub use mcpgen_spec::{Access, Authorization, DataKind, RuntimeKind};

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
    /// Who issues its tokens; `None` when not written (the default for
    /// its runtime).
    pub authorization: Option<Authorization>,
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
    /// Allowed resources; `*` for all.
    pub resources: Vec<Located<String>>,
    /// Allowed prompts; `*` for all.
    pub prompts: Vec<Located<String>>,
}

/// One entry of `[resources]`: data read by URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpResource {
    /// Name, as listed.
    pub name: Located<String>,
    /// Human title.
    pub title: Option<String>,
    /// What it holds, for the model.
    pub description: Located<String>,
    /// MIME type of its contents.
    pub mime_type: Option<Located<String>>,
    /// A fixed URI (`uri = "..."`).
    pub uri: Option<Located<String>>,
    /// An RFC 6570 template (`uri_template = "note://{id}"`).
    pub uri_template: Option<Located<String>>,
    /// Required scopes; `None` when the key is absent.
    pub scopes: Option<Located<Vec<Located<String>>>>,
    /// `public = true|false`, when written.
    pub public: Option<Located<bool>>,
    /// The record kind whose ownership rule applies to the template's
    /// variable.
    pub records: Option<Located<String>>,
    /// Reads per minute per subject.
    pub calls_per_minute: Option<Located<u32>>,
    /// Read timeout in milliseconds, overriding `[limits]`.
    pub timeout_ms: Option<Located<u64>>,
}

impl McpResource {
    /// Whether it is readable without credentials.
    pub fn is_public(&self) -> bool {
        self.public.as_ref().is_some_and(|p| p.value)
    }

    /// The URI or template as written (`uri_template` wins when both are,
    /// which the checks refuse).
    pub fn uri_text(&self) -> Option<&Located<String>> {
        self.uri_template.as_ref().or(self.uri.as_ref())
    }

    /// The template's variables (none for a fixed URI, or an invalid one).
    pub fn variables(&self) -> Vec<String> {
        self.uri_template
            .as_ref()
            .and_then(|t| mcpgen_spec::UriTemplate::parse(&t.value).ok())
            .map(|t| t.variables().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Where it is declared, e.g. `mcp-manifest.toml:60:12`.
    pub fn declared_at(&self, file: &str) -> String {
        format!("{file}:{}", self.name.loc)
    }

    /// The resource as the runtime sees it.
    pub fn spec(&self, file: &str) -> spec::McpResourceSpec {
        let text = |s: &str| spec::Text::Owned(s.to_owned());
        spec::McpResourceSpec {
            name: text(&self.name.value),
            title: self.title.as_deref().map(text),
            description: text(&self.description.value),
            mime_type: self.mime_type.as_ref().map(|m| text(&m.value)),
            uri: self.uri_text().map(|u| text(&u.value)).unwrap_or_default(),
            templated: self.uri_template.is_some(),
            scopes: scope_names(&self.scopes).map(text).collect(),
            public: self.is_public(),
            record: self.records.as_ref().map(|r| text(&r.value)),
            declared_at: text(&self.declared_at(file)),
            calls_per_minute: self.calls_per_minute.as_ref().map(|c| u64::from(c.value)),
            timeout_ms: self.timeout_ms.as_ref().map(|t| t.value),
        }
    }
}

/// One entry of `[prompts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Name, as listed and got.
    pub name: Located<String>,
    /// Human title.
    pub title: Option<String>,
    /// What it is for.
    pub description: Located<String>,
    /// Required scopes; `None` when the key is absent.
    pub scopes: Option<Located<Vec<Located<String>>>>,
    /// `public = true|false`, when written.
    pub public: Option<Located<bool>>,
    /// Gets per minute per subject.
    pub calls_per_minute: Option<Located<u32>>,
    /// Get timeout in milliseconds, overriding `[limits]`.
    pub timeout_ms: Option<Located<u64>>,
}

impl Prompt {
    /// Whether it is usable without credentials.
    pub fn is_public(&self) -> bool {
        self.public.as_ref().is_some_and(|p| p.value)
    }

    /// Where it is declared.
    pub fn declared_at(&self, file: &str) -> String {
        format!("{file}:{}", self.name.loc)
    }

    /// The prompt as the runtime sees it.
    pub fn spec(&self, file: &str) -> spec::PromptSpec {
        let text = |s: &str| spec::Text::Owned(s.to_owned());
        spec::PromptSpec {
            name: text(&self.name.value),
            title: self.title.as_deref().map(text),
            description: text(&self.description.value),
            scopes: scope_names(&self.scopes).map(text).collect(),
            public: self.is_public(),
            declared_at: text(&self.declared_at(file)),
            calls_per_minute: self.calls_per_minute.as_ref().map(|c| u64::from(c.value)),
            timeout_ms: self.timeout_ms.as_ref().map(|t| t.value),
        }
    }
}

/// The names in a `scopes = [...]` list, in manifest order.
pub fn scope_names(scopes: &Option<Located<Vec<Located<String>>>>) -> impl Iterator<Item = &str> {
    scopes
        .iter()
        .flat_map(|s| s.value.iter().map(|s| s.value.as_str()))
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
    /// Arguments for the generated tests (`example = { ... }`).
    pub example: Option<Located<serde_json::Value>>,
    /// The question a person confirms before the tool runs (`confirm`).
    pub confirm: Option<Located<String>>,
    /// What to do with clients that cannot ask (`without_elicitation`).
    pub without_elicitation: Option<Located<spec::WithoutElicitation>>,
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
    /// `[resources]`.
    pub resources: Vec<McpResource>,
    /// `[prompts]`.
    pub prompts: Vec<Prompt>,
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

    /// A resource by name.
    pub fn mcp_resource(&self, name: &str) -> Option<&McpResource> {
        self.resources.iter().find(|r| r.name.value == name)
    }

    /// A prompt by name.
    pub fn prompt(&self, name: &str) -> Option<&Prompt> {
        self.prompts.iter().find(|p| p.name.value == name)
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

/// The model as the runtime sees it: plain data, no positions.
impl Model {
    /// The manifest as generated code hands it to the runtime (its tools
    /// travel with their handlers: [`Tool::spec`]).
    pub fn spec(&self) -> spec::ManifestSpec {
        let text = |s: &str| spec::Text::Owned(s.to_owned());
        let mut scopes: Vec<&Scope> = self.scopes.iter().collect();
        scopes.sort_by(|a, b| a.name.value.cmp(&b.name.value));
        spec::ManifestSpec {
            server: spec::ServerSpec {
                name: text(&self.server.name.value),
                title: self.server.title.as_deref().map(text),
                instructions: self.server.instructions.as_deref().map(text),
            },
            resource: spec::ResourceSpec {
                uri: text(&self.resource.uri.value),
                authorization_servers: self
                    .resource
                    .authorization_servers
                    .value
                    .iter()
                    .map(|s| text(&s.value))
                    .collect(),
                documentation: self.resource.documentation.as_ref().map(|d| text(&d.value)),
            },
            scopes: scopes
                .iter()
                .map(|s| spec::ScopeSpec {
                    name: text(&s.name.value),
                    description: text(&s.description.value),
                    access: s.access.value,
                })
                .collect(),
            records: self
                .records
                .iter()
                .map(|r| spec::RecordSpec {
                    kind: text(&r.kind.value),
                    table: text(&r.table.value),
                    id: text(&r.id.value),
                    owner: text(&r.owner.value),
                })
                .collect(),
            environments: self
                .environments
                .iter()
                .map(|e| spec::EnvironmentSpec {
                    name: text(&e.name.value),
                    runtime: e.runtime.value,
                    data: e.data.value,
                    writes: e.writes(),
                    enabled: e.enabled,
                    authorization: e
                        .authorization
                        .unwrap_or(Authorization::default_for(e.runtime.value)),
                })
                .collect(),
            clients: self
                .clients
                .iter()
                .map(|c| spec::ClientSpec {
                    client_id: text(&c.client_id.value),
                    tools: c.tools.iter().map(|t| text(&t.value)).collect(),
                    resources: c.resources.iter().map(|t| text(&t.value)).collect(),
                    prompts: c.prompts.iter().map(|t| text(&t.value)).collect(),
                })
                .collect(),
            limits: spec::LimitsSpec {
                calls_per_minute: self
                    .limits
                    .calls_per_minute
                    .as_ref()
                    .map(|c| u64::from(c.value)),
                timeout_ms: self.limits.timeout_ms.as_ref().map(|t| t.value),
            },
        }
    }
}

impl Tool {
    /// The tool as the runtime sees it; `file` names the manifest in
    /// `declared_at` (e.g. `mcp-manifest.toml:40:8`).
    pub fn spec(&self, file: &str) -> spec::ToolSpec {
        let text = |s: &str| spec::Text::Owned(s.to_owned());
        spec::ToolSpec {
            name: text(&self.name.value),
            title: self.title.as_deref().map(text),
            description: text(&self.description.value),
            access: self.access.value,
            scopes: self.scope_names().map(text).collect(),
            public: self.is_public(),
            record: self.records.as_ref().map(|r| text(&r.value)),
            annotations: self.hints(),
            declared_at: text(&self.declared_at(file)),
            calls_per_minute: self.calls_per_minute.as_ref().map(|c| u64::from(c.value)),
            timeout_ms: self.timeout_ms.as_ref().map(|t| t.value),
            example: self.example.as_ref().map(|e| text(&e.value.to_string())),
            confirm: self.confirm.as_ref().map(|c| spec::Confirm {
                message: text(&c.value),
                without_elicitation: self
                    .without_elicitation
                    .as_ref()
                    .map(|w| w.value)
                    .unwrap_or_default(),
            }),
        }
    }

    /// Where the tool is declared, e.g. `mcp-manifest.toml:40:8`.
    pub fn declared_at(&self, file: &str) -> String {
        format!("{file}:{}", self.name.loc)
    }

    /// The MCP hints, derived from the access: a read tool is read-only; a
    /// write tool is destructive and not idempotent unless it says
    /// otherwise (the spec's own defaults, which err on the side of
    /// caution).
    pub fn hints(&self) -> spec::Annotations {
        let a = &self.annotations;
        let open_world_hint = a.open_world.as_ref().is_some_and(|v| v.value);
        match self.access.value {
            Access::Read => spec::Annotations {
                open_world_hint,
                ..spec::Annotations::READ_ONLY
            },
            Access::Write => spec::Annotations {
                read_only_hint: false,
                destructive_hint: Some(a.destructive.as_ref().is_none_or(|v| v.value)),
                idempotent_hint: Some(a.idempotent.as_ref().is_some_and(|v| v.value)),
                open_world_hint,
            },
        }
    }
}

/// Building a model in code, without a manifest file: for tests and other
/// front ends. Every value is placed at [`Loc::default`] (line 0).
impl Model {
    /// A server `name` at `uri`, trusting one authorization server, with
    /// nothing declared yet.
    pub fn new(name: &str, uri: &str) -> Self {
        Self {
            server: Server {
                name: Located::here(name.to_owned()),
                title: None,
                instructions: None,
            },
            resource: Resource {
                uri: Located::here(uri.to_owned()),
                authorization_servers: Located::here(vec![Located::here(
                    "https://auth.example.com".to_owned(),
                )]),
                documentation: None,
            },
            scopes: Vec::new(),
            records: Vec::new(),
            environments: Vec::new(),
            clients: Vec::new(),
            limits: Limits::default(),
            tools: Vec::new(),
            resources: Vec::new(),
            prompts: Vec::new(),
        }
    }

    /// Declare scope `name`.
    pub fn with_scope(mut self, name: &str, description: &str, access: Access) -> Self {
        self.scopes.push(Scope {
            name: Located::here(name.to_owned()),
            description: Located::here(description.to_owned()),
            access: Located::here(access),
        });
        self.scopes.sort_by(|a, b| a.name.value.cmp(&b.name.value));
        self
    }

    /// Declare record kind `kind` in `table`, with its id and owner columns.
    pub fn with_record(mut self, kind: &str, table: &str, id: &str, owner: &str) -> Self {
        self.records.push(RecordRule {
            kind: Located::here(kind.to_owned()),
            table: Located::here(table.to_owned()),
            id: Located::here(id.to_owned()),
            owner: Located::here(owner.to_owned()),
        });
        self.records.sort_by(|a, b| a.kind.value.cmp(&b.kind.value));
        self
    }

    /// Declare environment `name`; `writes` as written (`None`: not said).
    pub fn with_environment(
        mut self,
        name: &str,
        runtime: RuntimeKind,
        data: DataKind,
        writes: Option<bool>,
    ) -> Self {
        self.environments.push(Environment {
            name: Located::here(name.to_owned()),
            runtime: Located::here(runtime),
            data: Located::here(data),
            writes: writes.map(Located::here),
            enabled: true,
            authorization: None,
        });
        self.environments
            .sort_by(|a, b| a.name.value.cmp(&b.name.value));
        self
    }

    /// Declare `tool`.
    pub fn with_tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self.tools.sort_by(|a, b| a.name.value.cmp(&b.name.value));
        self
    }
}

impl Tool {
    /// A tool `name` with `access`, no scopes yet.
    pub fn new(name: &str, description: &str, access: Access) -> Self {
        Self {
            name: Located::here(name.to_owned()),
            title: None,
            description: Located::here(description.to_owned()),
            access: Located::here(access),
            scopes: None,
            public: None,
            records: None,
            annotations: ToolAnnotations::default(),
            calls_per_minute: None,
            timeout_ms: None,
            example: None,
            confirm: None,
            without_elicitation: None,
        }
    }

    /// Require `scopes`.
    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = Some(Located::here(
            scopes
                .iter()
                .map(|s| Located::here((*s).to_owned()))
                .collect(),
        ));
        self
    }

    /// Make it callable without a credential.
    pub fn public(mut self) -> Self {
        self.public = Some(Located::here(true));
        self
    }

    /// Apply record kind `kind`'s ownership rule.
    pub fn records(mut self, kind: &str) -> Self {
        self.records = Some(Located::here(kind.to_owned()));
        self
    }
}

impl<T> Located<T> {
    /// A value with no position in a file (a model built in code).
    pub fn here(value: T) -> Self {
        Self::new(value, Loc::default())
    }
}
