//! Reading `mcp-manifest.toml` into a [`Model`], keeping every position so
//! errors can say `mcp-manifest.toml:LINE:COL`.
//!
//! The document is parsed once with recovery, then each section and each
//! entry is deserialized on its own, so one bad tool does not hide the
//! mistakes in the next: every error in the file is reported in one pass.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::model::*;

/// Parse manifest text into a model, or every mistake found.
pub fn parse(text: &str) -> Result<Model, Vec<Diagnostic>> {
    let reading = read(text);
    match reading.model {
        Some(model) if reading.errors.is_empty() => Ok(model),
        _ => Err(reading.errors),
    }
}

/// Read manifest text as far as it can be read: the mistakes, and the
/// model of every entry that could be read, so that the policy checks and
/// the handlers can be checked against it in the same build.
pub fn read(text: &str) -> Reading {
    Reader::new(text).read()
}

/// What [`read`] found.
#[derive(Debug)]
pub struct Reading {
    /// The readable entries; `None` when the file is not TOML, or its
    /// `[server]` or `[resource]` cannot be read.
    pub model: Option<Model>,
    /// Every mistake found while reading, in file order.
    pub errors: Vec<Diagnostic>,
    /// The entries left out of the model because they could not be read,
    /// as `(section, name)`: a check that would miss them (a tool's
    /// handler, a scope a tool names) must not report them missing.
    pub left_out: Vec<(String, String)>,
}

impl Reading {
    /// Whether `[section.name]` was written but could not be read.
    pub fn left_out(&self, section: &str, name: &str) -> bool {
        self.left_out.iter().any(|(s, n)| s == section && n == name)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: Spanned<String>,
    title: Option<String>,
    instructions: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    uri: Spanned<String>,
    authorization_servers: Spanned<Vec<Spanned<String>>>,
    documentation: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    description: Spanned<String>,
    access: Spanned<Access>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    table: Spanned<String>,
    id: Spanned<String>,
    owner: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    runtime: Spanned<RuntimeKind>,
    data: Spanned<DataKind>,
    writes: Option<Spanned<bool>>,
    enabled: Option<bool>,
    authorization: Option<Authorization>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    #[serde(default)]
    tools: Vec<Spanned<String>>,
    #[serde(default)]
    resources: Vec<Spanned<String>>,
    #[serde(default)]
    prompts: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMcpResource {
    uri: Option<Spanned<String>>,
    uri_template: Option<Spanned<String>>,
    title: Option<String>,
    description: Spanned<String>,
    mime_type: Option<Spanned<String>>,
    scopes: Option<Spanned<Vec<Spanned<String>>>>,
    public: Option<Spanned<bool>>,
    records: Option<Spanned<String>>,
    calls_per_minute: Option<Spanned<u32>>,
    timeout_ms: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrompt {
    title: Option<String>,
    description: Spanned<String>,
    scopes: Option<Spanned<Vec<Spanned<String>>>>,
    public: Option<Spanned<bool>>,
    calls_per_minute: Option<Spanned<u32>>,
    timeout_ms: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAnnotations {
    idempotent: Option<Spanned<bool>>,
    destructive: Option<Spanned<bool>>,
    open_world: Option<Spanned<bool>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    calls_per_minute: Option<Spanned<u32>>,
    timeout_ms: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    title: Option<String>,
    description: Spanned<String>,
    access: Spanned<Access>,
    scopes: Option<Spanned<Vec<Spanned<String>>>>,
    public: Option<Spanned<bool>>,
    records: Option<Spanned<String>>,
    #[serde(default)]
    annotations: RawAnnotations,
    calls_per_minute: Option<Spanned<u32>>,
    timeout_ms: Option<Spanned<u64>>,
    example: Option<Spanned<serde_json::Value>>,
    confirm: Option<Spanned<String>>,
    without_elicitation: Option<Spanned<mcpgen_spec::WithoutElicitation>>,
}

const SECTIONS: &[&str] = &[
    "server",
    "resource",
    "scopes",
    "records",
    "environments",
    "clients",
    "limits",
    "tools",
    "resources",
    "prompts",
];

struct Reader<'t> {
    text: &'t str,
    line_starts: Vec<usize>,
    errors: Vec<Diagnostic>,
    left_out: Vec<(String, String)>,
}

impl<'t> Reader<'t> {
    fn new(text: &'t str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            text,
            line_starts,
            errors: Vec::new(),
            left_out: Vec::new(),
        }
    }

    fn loc(&self, offset: usize) -> Loc {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let col = self.text[start..offset].chars().count() + 1;
        Loc {
            line: line as u32,
            col: col as u32,
        }
    }

    fn located<T>(&self, s: Spanned<T>) -> Located<T> {
        let loc = self.loc(s.span().start);
        Located::new(s.into_inner(), loc)
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let loc = self.loc(span.start);
        self.errors.push(Diagnostic::at(loc, message));
    }

    fn toml_error(&mut self, err: toml::de::Error, fallback: Range<usize>, context: &str) {
        let span = err.span().unwrap_or(fallback);
        let message = err.message().trim_end().replace('\n', " ");
        self.error(span, format!("{context}{message}"));
    }

    /// Deserialize one value, recording the error with its position. An
    /// unknown key is reported and left out, and the rest read again, so
    /// that a misspelt key does not hide the entry's other mistakes (nor
    /// the policy errors of the entry itself).
    fn value<T: for<'de> Deserialize<'de>>(
        &mut self,
        mut value: Spanned<DeValue<'t>>,
        context: &str,
    ) -> Option<T> {
        let span = value.span();
        loop {
            match T::deserialize(value.clone().into_deserializer()) {
                Ok(v) => return Some(v),
                Err(err) => {
                    let unknown = err.message().starts_with("unknown field");
                    let at = err.span();
                    self.toml_error(err, span.clone(), context);
                    match at {
                        Some(at) if unknown && remove_key_at(value.get_mut(), &at) => continue,
                        _ => return None,
                    }
                }
            }
        }
    }

    /// A section that is a table of named entries, each deserialized alone.
    fn entries<T: for<'de> Deserialize<'de>>(
        &mut self,
        section: &str,
        value: Spanned<DeValue<'t>>,
    ) -> Vec<(Spanned<String>, Option<T>)> {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.error(
                span,
                format!("`{section}` must be a table: write `[{section}.<name>]` entries"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in table {
            let key_span = key.span();
            let name = key.into_inner().into_owned();
            let context = format!("in [{section}.{}]: ", display_key(&name));
            let parsed = self.value::<T>(value, &context);
            if parsed.is_none() {
                self.left_out.push((section.to_owned(), name.clone()));
            }
            out.push((Spanned::new(key_span, name), parsed));
        }
        out
    }

    fn read(mut self) -> Reading {
        let (root, parse_errors) = DeTable::parse_recoverable(self.text);
        let syntax_failed = !parse_errors.is_empty();
        let mut previous = String::new();
        for err in parse_errors {
            // Recovery repeats one mistake on every following line of the
            // same table (e.g. "duplicate key"): report it once.
            if err.message() == previous {
                continue;
            }
            previous = err.message().to_owned();
            let hint = if previous.contains("duplicate key") {
                " (each key, and each `[tools.<name>]` table, may appear only once)"
            } else {
                ""
            };
            let span = err.span().unwrap_or(0..0);
            let message = format!(
                "invalid TOML: {}{hint}",
                previous.trim_end().replace('\n', " ")
            );
            self.error(span, message);
        }
        if syntax_failed {
            return Reading {
                model: None,
                errors: self.errors,
                left_out: Vec::new(),
            };
        }
        let mut sections: BTreeMap<String, Spanned<DeValue<'t>>> = BTreeMap::new();
        for (key, value) in root.into_inner() {
            let name = key.get_ref().to_string();
            if SECTIONS.contains(&name.as_str()) {
                sections.insert(name, value);
            } else {
                self.error(
                    key.span(),
                    format!(
                        "unknown section `{}`; the manifest has only {}",
                        display_key(&name),
                        SECTIONS
                            .iter()
                            .map(|s| format!("[{s}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }

        let server = match sections.remove("server") {
            Some(v) => self.value::<RawServer>(v, "in [server]: "),
            None => {
                self.error(
                    0..0,
                    "missing [server]: add `[server]` with `name = \"<your-server>\"`",
                );
                None
            }
        };
        let resource = match sections.remove("resource") {
            Some(v) => self.value::<RawResource>(v, "in [resource]: "),
            None => {
                self.error(
                    0..0,
                    "missing [resource]: add `[resource]` with `uri = \"http://127.0.0.1:8080/mcp\"` \
                     and `authorization_servers = [\"https://auth.example.com\"]`",
                );
                None
            }
        };
        let scopes = self.section::<RawScope>(&mut sections, "scopes");
        let records = self.section::<RawRecord>(&mut sections, "records");
        let environments = self.section::<RawEnvironment>(&mut sections, "environments");
        let clients = self.section::<RawClient>(&mut sections, "clients");
        let limits = match sections.remove("limits") {
            Some(v) => self
                .value::<RawLimits>(v, "in [limits]: ")
                .unwrap_or_default(),
            None => RawLimits::default(),
        };
        let tools = self.section::<RawTool>(&mut sections, "tools");
        let resources = self.section::<RawMcpResource>(&mut sections, "resources");
        let prompts = self.section::<RawPrompt>(&mut sections, "prompts");

        let model = self
            .build(
                server,
                resource,
                scopes,
                records,
                environments,
                clients,
                limits,
                tools,
            )
            .map(|m| self.with_resources_and_prompts(m, resources, prompts));
        self.errors.sort_by_key(|d| d.loc);
        Reading {
            model,
            errors: self.errors,
            left_out: self.left_out,
        }
    }

    fn scope_list(
        &self,
        s: Option<Spanned<Vec<Spanned<String>>>>,
    ) -> Option<Located<Vec<Located<String>>>> {
        s.map(|s| {
            let loc = self.loc(s.span().start);
            let list = s
                .into_inner()
                .into_iter()
                .map(|s| self.located(s))
                .collect();
            Located::new(list, loc)
        })
    }

    fn with_resources_and_prompts(
        &mut self,
        mut model: Model,
        resources: Vec<(Spanned<String>, Option<RawMcpResource>)>,
        prompts: Vec<(Spanned<String>, Option<RawPrompt>)>,
    ) -> Model {
        model.resources = complete(resources)
            .map(|(name, r)| McpResource {
                name: self.located(name),
                title: r.title,
                description: self.located(r.description),
                mime_type: r.mime_type.map(|m| self.located(m)),
                uri: r.uri.map(|u| self.located(u)),
                uri_template: r.uri_template.map(|u| self.located(u)),
                scopes: self.scope_list(r.scopes),
                public: r.public.map(|p| self.located(p)),
                records: r.records.map(|k| self.located(k)),
                calls_per_minute: r.calls_per_minute.map(|v| self.located(v)),
                timeout_ms: r.timeout_ms.map(|v| self.located(v)),
            })
            .collect();
        model
            .resources
            .sort_by(|a, b| a.name.value.cmp(&b.name.value));
        model.prompts = complete(prompts)
            .map(|(name, p)| Prompt {
                name: self.located(name),
                title: p.title,
                description: self.located(p.description),
                scopes: self.scope_list(p.scopes),
                public: p.public.map(|v| self.located(v)),
                calls_per_minute: p.calls_per_minute.map(|v| self.located(v)),
                timeout_ms: p.timeout_ms.map(|v| self.located(v)),
            })
            .collect();
        model
            .prompts
            .sort_by(|a, b| a.name.value.cmp(&b.name.value));
        model
    }

    fn section<T: for<'de> Deserialize<'de>>(
        &mut self,
        sections: &mut BTreeMap<String, Spanned<DeValue<'t>>>,
        name: &str,
    ) -> Vec<(Spanned<String>, Option<T>)> {
        match sections.remove(name) {
            Some(v) => self.entries(name, v),
            None => Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)] // one argument per manifest section
    fn build(
        &mut self,
        server: Option<RawServer>,
        resource: Option<RawResource>,
        scopes: Vec<(Spanned<String>, Option<RawScope>)>,
        records: Vec<(Spanned<String>, Option<RawRecord>)>,
        environments: Vec<(Spanned<String>, Option<RawEnvironment>)>,
        clients: Vec<(Spanned<String>, Option<RawClient>)>,
        limits: RawLimits,
        tools: Vec<(Spanned<String>, Option<RawTool>)>,
    ) -> Option<Model> {
        let server = server.map(|s| Server {
            name: self.located(s.name),
            title: s.title,
            instructions: s.instructions,
        });
        let resource = resource.map(|r| {
            let span = r.authorization_servers.span();
            let servers = r
                .authorization_servers
                .into_inner()
                .into_iter()
                .map(|s| self.located(s))
                .collect();
            Resource {
                uri: self.located(r.uri),
                authorization_servers: Located::new(servers, self.loc(span.start)),
                documentation: r.documentation.map(|d| self.located(d)),
            }
        });
        let scopes = complete(scopes)
            .map(|(name, s)| Scope {
                name: self.located(name),
                description: self.located(s.description),
                access: self.located(s.access),
            })
            .collect::<Vec<_>>();
        let records = complete(records)
            .map(|(kind, r)| RecordRule {
                kind: self.located(kind),
                table: self.located(r.table),
                id: self.located(r.id),
                owner: self.located(r.owner),
            })
            .collect::<Vec<_>>();
        let environments = complete(environments)
            .map(|(name, e)| Environment {
                name: self.located(name),
                runtime: self.located(e.runtime),
                data: self.located(e.data),
                writes: e.writes.map(|w| self.located(w)),
                enabled: e.enabled.unwrap_or(true),
                authorization: e.authorization,
            })
            .collect::<Vec<_>>();
        let clients = complete(clients)
            .map(|(id, c)| Client {
                client_id: self.located(id),
                tools: c.tools.into_iter().map(|t| self.located(t)).collect(),
                resources: c.resources.into_iter().map(|t| self.located(t)).collect(),
                prompts: c.prompts.into_iter().map(|t| self.located(t)).collect(),
            })
            .collect::<Vec<_>>();
        let tools = complete(tools)
            .map(|(name, t)| Tool {
                name: self.located(name),
                title: t.title,
                description: self.located(t.description),
                access: self.located(t.access),
                scopes: t.scopes.map(|s| {
                    let loc = self.loc(s.span().start);
                    let list = s
                        .into_inner()
                        .into_iter()
                        .map(|s| self.located(s))
                        .collect();
                    Located::new(list, loc)
                }),
                public: t.public.map(|p| self.located(p)),
                records: t.records.map(|r| self.located(r)),
                annotations: ToolAnnotations {
                    idempotent: t.annotations.idempotent.map(|v| self.located(v)),
                    destructive: t.annotations.destructive.map(|v| self.located(v)),
                    open_world: t.annotations.open_world.map(|v| self.located(v)),
                },
                calls_per_minute: t.calls_per_minute.map(|v| self.located(v)),
                timeout_ms: t.timeout_ms.map(|v| self.located(v)),
                example: t.example.map(|v| self.located(v)),
                confirm: t.confirm.map(|v| self.located(v)),
                without_elicitation: t.without_elicitation.map(|v| self.located(v)),
            })
            .collect::<Vec<_>>();
        let limits = Limits {
            calls_per_minute: limits.calls_per_minute.map(|v| self.located(v)),
            timeout_ms: limits.timeout_ms.map(|v| self.located(v)),
        };
        Some(Model {
            server: server?,
            resource: resource?,
            scopes,
            records,
            environments,
            clients,
            limits,
            tools,
            resources: Vec::new(),
            prompts: Vec::new(),
        })
    }
}

fn complete<T>(
    entries: Vec<(Spanned<String>, Option<T>)>,
) -> impl Iterator<Item = (Spanned<String>, T)> {
    entries.into_iter().filter_map(|(k, v)| Some((k, v?)))
}

/// Remove the key written at `span` from `value`'s tables (at any depth);
/// whether there was one.
fn remove_key_at(value: &mut DeValue<'_>, span: &Range<usize>) -> bool {
    let DeValue::Table(table) = value else {
        return false;
    };
    if let Some(key) = table.keys().find(|k| k.span() == *span) {
        let key = key.get_ref().to_string();
        return table.remove(key.as_str()).is_some();
    }
    table
        .iter_mut()
        .any(|(_, v)| remove_key_at(v.get_mut(), span))
}

/// A key as it would be written in a table header.
fn display_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}
