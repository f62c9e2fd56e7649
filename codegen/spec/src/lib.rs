//! mcpgen-spec: the manifest's vocabulary, in one place.
//!
//! The code generator (`mcpgen-codegen`) reads `mcp-manifest.toml` into a
//! located model, checks it, and turns it into these types; with the
//! `tokens` feature it writes them into the generated code, where the
//! runtime (`mcpgen`) reads them as static data. So a manifest key is
//! declared once, here, and both sides speak the same words: the enums
//! deserialize from the manifest's spelling and serialize back to it.
//!
//! Strings and lists are [`Cow`]s: borrowed `'static` data in generated
//! code (no allocation, usable in a `static`), owned data in the code
//! generator.

use std::fmt;

#[doc(no_inline)]
pub use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub mod confirm;
#[cfg(feature = "tokens")]
mod tokens;
pub mod uri_template;

pub use confirm::{Confirm, WithoutElicitation};
pub use uri_template::{TemplateError, UriTemplate};

/// Text of a spec: `'static` in generated code, owned in the generator.
pub type Text = Cow<'static, str>;
/// A list of a spec: a `'static` slice in generated code, a `Vec` in the
/// generator.
pub type List<T> = Cow<'static, [T]>;

/// The `declared_at` of the tools every server gets from the runtime.
pub const BUILT_IN: &str = "built in";

/// The names of the tools every server gets from the runtime; a manifest
/// may not reuse them.
pub const BUILT_IN_TOOLS: &[&str] = &["get_environment_status", "verify_access"];

/// The scope that opens the admin listener (operator page, key API): the
/// runtime reserves it, and with it every scope starting with
/// [`RESERVED_SCOPE_PREFIX`], so no manifest can declare it and no tool can
/// require it. An access key gets it only from `keys create --scopes
/// mcpgen:admin`.
pub const ADMIN_SCOPE: &str = "mcpgen:admin";

/// Scopes starting with this belong to the runtime (see [`ADMIN_SCOPE`]).
pub const RESERVED_SCOPE_PREFIX: &str = "mcpgen:";

macro_rules! spelled {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The manifest's spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownWord;

            /// The value the manifest spells `s`.
            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownWord(s.to_owned()))
            }
        }
    };
}

mod entries;
pub use entries::{EntryKind, Guarded, McpResourceSpec, PromptSpec};

/// A word the manifest's vocabulary does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWord(pub String);

impl fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown value `{}`", self.0)
    }
}

impl std::error::Error for UnknownWord {}

spelled! {
    /// Whether a tool or scope reads or writes.
    pub enum Access {
        /// Reads only; handlers get a read context.
        Read = "read",
        /// May write; handlers get a write context.
        Write = "write",
    }
}

spelled! {
    /// Where a server runs.
    pub enum RuntimeKind {
        /// A developer's machine.
        Local = "local",
        /// Automated tests.
        Test = "test",
        /// A preview deployment.
        Preview = "preview",
        /// A staging deployment.
        Staging = "staging",
        /// Production.
        Production = "production",
    }
}

spelled! {
    /// Which data a server reads and writes.
    pub enum DataKind {
        /// Local, disposable data.
        Local = "local",
        /// Test fixtures.
        Test = "test",
        /// A staging copy.
        Staging = "staging",
        /// Production data.
        Production = "production",
    }
}

spelled! {
    /// Who issues the OAuth tokens a server accepts.
    pub enum Authorization {
        /// The runtime's own authorization server: consent page, PKCE,
        /// Client ID Metadata Documents and registration, signed tokens.
        #[serde(rename = "built-in")]
        BuiltIn = "built-in",
        /// An external authorization server, trusted through its keys
        /// (`--jwks-url` or `--jwt-public-key`).
        External = "external",
    }
}

impl Authorization {
    /// What an environment without an `authorization` key uses: the
    /// built-in server on a local runtime, an external one elsewhere.
    pub const fn default_for(runtime: RuntimeKind) -> Self {
        match runtime {
            RuntimeKind::Local => Self::BuiltIn,
            _ => Self::External,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerSpec {
    /// Machine name, e.g. `notes`.
    pub name: Text,
    /// Human title.
    pub title: Option<Text>,
    /// Instructions for the model, sent on discovery.
    pub instructions: Option<Text>,
}

/// `[resource]`: the protected resource (RFC 9728).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceSpec {
    /// The exact endpoint URL; the token audience.
    pub uri: Text,
    /// Authorization servers that issue tokens for this resource.
    pub authorization_servers: List<Text>,
    /// Human documentation for the resource.
    pub documentation: Option<Text>,
}

/// One entry of `[scopes]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeSpec {
    /// The scope string, e.g. `notes:read`.
    pub name: Text,
    /// What granting it allows, in words.
    pub description: Text,
    /// Whether it grants reading or writing.
    pub access: Access,
}

/// One entry of `[records]`: a record kind and how ownership is decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSpec {
    /// The kind, e.g. `note`.
    pub kind: Text,
    /// Table holding the records.
    pub table: Text,
    /// Primary key column.
    pub id: Text,
    /// Column compared with the authenticated subject.
    pub owner: Text,
}

/// One entry of `[environments]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentSpec {
    /// The environment's name, e.g. `preview`.
    pub name: Text,
    /// Where it runs.
    pub runtime: RuntimeKind,
    /// Which data it uses.
    pub data: DataKind,
    /// Whether write tools may run.
    pub writes: bool,
    /// `false` makes the server refuse to start in this environment.
    pub enabled: bool,
    /// Who issues the OAuth tokens it accepts.
    pub authorization: Authorization,
}

impl EnvironmentSpec {
    /// The environment a manifest without `[environments]` runs in.
    pub const IMPLICIT_LOCAL: Self = Self {
        name: Cow::Borrowed("local"),
        runtime: RuntimeKind::Local,
        data: DataKind::Local,
        writes: true,
        enabled: true,
        authorization: Authorization::BuiltIn,
    };

    /// Whether it reads and writes production data.
    pub fn shares_production_data(&self) -> bool {
        self.data == DataKind::Production
    }
}

/// One entry of `[clients]`: which tools, resources and prompts an OAuth
/// client may see and use (none of a kind it is not given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientSpec {
    /// The token's `client_id`.
    pub client_id: Text,
    /// Allowed tool names; `*` allows all.
    pub tools: List<Text>,
    /// Allowed resource names; `*` allows all.
    pub resources: List<Text>,
    /// Allowed prompt names; `*` allows all.
    pub prompts: List<Text>,
}

impl ClientSpec {
    /// Whether this client may use tool `name`.
    pub fn allows(&self, name: &str) -> bool {
        self.tools.iter().any(|t| t == "*" || t == name)
    }

    /// Whether this client may use the `kind` entry `name`.
    pub fn allows_entry(&self, kind: EntryKind, name: &str) -> bool {
        let list = match kind {
            EntryKind::Tool => &self.tools,
            EntryKind::Resource => &self.resources,
            EntryKind::Prompt => &self.prompts,
        };
        list.iter().any(|t| t == "*" || t == name)
    }
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

impl Annotations {
    /// The hints of a read tool that acts on the server's own data.
    pub const READ_ONLY: Self = Self {
        read_only_hint: true,
        destructive_hint: None,
        idempotent_hint: None,
        open_world_hint: false,
    };
}

/// `[limits]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LimitsSpec {
    /// Calls per minute per subject across all tools.
    pub calls_per_minute: Option<u64>,
    /// Default per-call timeout in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// One entry of `[tools]`: everything the manifest says about a tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolSpec {
    /// The tool name, as listed and called.
    pub name: Text,
    /// Human title.
    pub title: Option<Text>,
    /// What the tool does, for the model.
    pub description: Text,
    /// Whether the tool reads or writes.
    pub access: Access,
    /// Scopes a caller needs, all of them; empty only for public tools
    /// and the built-ins.
    pub scopes: List<Text>,
    /// Callable without credentials.
    pub public: bool,
    /// The record kind whose ownership rule applies, if any.
    pub record: Option<Text>,
    /// Hints for `tools/list`.
    pub annotations: Annotations,
    /// Where the tool is declared, e.g. `mcp-manifest.toml:40:8`, or
    /// [`BUILT_IN`].
    pub declared_at: Text,
    /// Calls per minute per subject for this tool, if limited.
    pub calls_per_minute: Option<u64>,
    /// This tool's call timeout in milliseconds, if set.
    pub timeout_ms: Option<u64>,
    /// Arguments the generated tests call it with (`example` in the
    /// manifest), as JSON text; without it, the smallest the schema takes.
    pub example: Option<Text>,
    /// The question a person confirms before this (write) tool runs.
    pub confirm: Option<Confirm>,
}

impl ToolSpec {
    /// Whether this is one of the runtime's built-in tools.
    pub fn is_builtin(&self) -> bool {
        self.declared_at == BUILT_IN
    }
}

/// The whole manifest, as generated code hands it to the runtime (tools
/// travel with their handlers, as [`ToolSpec`]s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestSpec {
    /// `[server]`.
    pub server: ServerSpec,
    /// `[resource]`.
    pub resource: ResourceSpec,
    /// `[scopes]`, sorted by name.
    pub scopes: List<ScopeSpec>,
    /// `[records]`, sorted by kind.
    pub records: List<RecordSpec>,
    /// `[environments]`, sorted by name.
    pub environments: List<EnvironmentSpec>,
    /// `[clients]`, sorted by client id.
    pub clients: List<ClientSpec>,
    /// `[limits]`.
    pub limits: LimitsSpec,
}

impl ManifestSpec {
    /// The ownership rule of record kind `kind`.
    pub fn record(&self, kind: &str) -> Option<&RecordSpec> {
        self.records.iter().find(|r| r.kind == kind)
    }

    /// The `[clients]` entry of `client_id`.
    pub fn client(&self, client_id: &str) -> Option<&ClientSpec> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The environments a server may be started in: those declared, or
    /// the implicit `local` one when there are none.
    pub fn environments(&self) -> &[EnvironmentSpec] {
        if self.environments.is_empty() {
            std::slice::from_ref(&EnvironmentSpec::IMPLICIT_LOCAL)
        } else {
            &self.environments
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enums_read_and_write_the_manifest_spelling() {
        for &a in Access::ALL {
            let json = serde_json::to_value(a).unwrap();
            assert_eq!(json, a.as_str());
            assert_eq!(serde_json::from_value::<Access>(json).unwrap(), a);
        }
        for &r in RuntimeKind::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.to_string());
        }
        for &d in DataKind::ALL {
            let back: DataKind = serde_json::from_value(serde_json::json!(d.as_str())).unwrap();
            assert_eq!(back, d);
        }
        assert!(serde_json::from_value::<DataKind>(serde_json::json!("prod")).is_err());
        assert_eq!("production".parse::<DataKind>(), Ok(DataKind::Production));
        assert_eq!(
            "prod".parse::<RuntimeKind>(),
            Err(UnknownWord("prod".into()))
        );
    }

    #[test]
    fn a_manifest_without_environments_runs_locally_only() {
        let m = ManifestSpec {
            server: ServerSpec {
                name: "t".into(),
                title: None,
                instructions: None,
            },
            resource: ResourceSpec {
                uri: "http://127.0.0.1:8080/mcp".into(),
                authorization_servers: vec!["https://auth.example.com".into()].into(),
                documentation: None,
            },
            scopes: vec![].into(),
            records: vec![].into(),
            environments: vec![].into(),
            clients: vec![].into(),
            limits: LimitsSpec::default(),
        };
        assert_eq!(m.environments(), [EnvironmentSpec::IMPLICIT_LOCAL]);
        assert!(!m.environments()[0].shares_production_data());
    }

    #[test]
    fn a_client_entry_allows_what_it_names() {
        let c = ClientSpec {
            client_id: "dash".into(),
            tools: vec!["a".into()].into(),
            resources: vec!["note".into()].into(),
            prompts: Vec::new().into(),
        };
        assert!(c.allows("a") && !c.allows("b"));
        assert!(c.allows_entry(EntryKind::Resource, "note"));
        assert!(
            !c.allows_entry(EntryKind::Resource, "a"),
            "kinds are separate lists"
        );
        assert!(
            !c.allows_entry(EntryKind::Prompt, "note"),
            "none of a kind not given"
        );
        let all = ClientSpec {
            client_id: "x".into(),
            tools: Cow::Borrowed(&[Cow::Borrowed("*")]),
            resources: Cow::Borrowed(&[]),
            prompts: Cow::Borrowed(&[Cow::Borrowed("*")]),
        };
        assert!(all.allows("anything"));
        assert!(
            all.allows_entry(EntryKind::Prompt, "p") && !all.allows_entry(EntryKind::Resource, "r")
        );
    }
}
