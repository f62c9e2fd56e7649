//! What the build generates for review: the scope matrix (JSON and
//! Markdown), every tool's schemas, the protected-resource metadata and the
//! status of each environment. Deterministic: the same code and manifest
//! give byte-identical artifacts, so reviewers read them as diffs.

use serde_json::{Map, Value, json};

use crate::environment::ServerFacts;
use crate::registry::{Registry, Tools};

/// The scope matrix: every tool, resource and prompt against every scope,
/// with totals.
pub fn scope_matrix<S: Tools>(registry: &Registry<S>) -> Value {
    let scopes: Vec<&str> = S::manifest().scopes.iter().map(|s| &*s.name).collect();
    let mut tools = Vec::new();
    let (mut mapped, mut public, mut authenticated, mut unmapped) = (0, 0, 0, 0);
    for tool in registry.tools() {
        let d = tool.spec();
        let requirement = if d.public {
            public += 1;
            "public"
        } else if d.scopes.is_empty() && d.is_builtin() {
            authenticated += 1;
            "authenticated"
        } else if d.scopes.is_empty() {
            unmapped += 1;
            "unmapped"
        } else {
            mapped += 1;
            "scoped"
        };
        let row: Map<String, Value> = scopes
            .iter()
            .map(|s| {
                (
                    (*s).to_owned(),
                    Value::Bool(d.scopes.iter().any(|t| t == s)),
                )
            })
            .collect();
        tools.push(json!({
            "tool": d.name,
            "access": d.access,
            "requirement": requirement,
            "record": d.record,
            "scopes": row,
        }));
    }
    let row = |required: &[mcpgen_spec::Text]| -> Map<String, Value> {
        scopes
            .iter()
            .map(|s| {
                (
                    (*s).to_owned(),
                    Value::Bool(required.iter().any(|t| t == s)),
                )
            })
            .collect()
    };
    let requirement = |public: bool| if public { "public" } else { "scoped" };
    let resources: Vec<Value> = registry
        .resources()
        .iter()
        .map(|r| {
            let d = r.spec();
            json!({
                "resource": d.name,
                "uri": d.uri,
                "requirement": requirement(d.public),
                "record": d.record,
                "scopes": row(&d.scopes),
            })
        })
        .collect();
    let prompts: Vec<Value> = registry
        .prompts()
        .iter()
        .map(|p| {
            let d = p.spec();
            json!({
                "prompt": d.name,
                "requirement": requirement(d.public),
                "scopes": row(&d.scopes),
            })
        })
        .collect();
    json!({
        "scopes": scopes,
        "tools": tools,
        "resources": resources,
        "prompts": prompts,
        "totals": {
            "resources": registry.resources().len(),
            "prompts": registry.prompts().len(),
            "tools": registry.tools().len(),
            "mapped": mapped,
            "public": public,
            "authenticated_only": authenticated,
            "unmapped": unmapped,
        },
    })
}

/// The scope matrix as Markdown tables (tools, then resources and prompts).
pub fn scope_matrix_markdown<S: Tools>(registry: &Registry<S>) -> String {
    let m = scope_matrix(registry);
    let scopes: Vec<&str> = m["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = format!("| tool | access | requires | {} |\n", scopes.join(" | "));
    out.push_str(&format!("|---|---|---|{}\n", "---|".repeat(scopes.len())));
    for t in m["tools"].as_array().into_iter().flatten() {
        let cells: Vec<&str> = scopes
            .iter()
            .map(|s| if t["scopes"][*s] == true { "x" } else { "" })
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            t["tool"].as_str().unwrap_or_default(),
            t["access"].as_str().unwrap_or_default(),
            t["requirement"].as_str().unwrap_or_default(),
            cells.join(" | ")
        ));
    }
    let totals = &m["totals"];
    out.push_str(&format!(
        "\n{} tools: {} mapped to scopes, {} public, {} authenticated only (built in), {} unmapped.\n",
        totals["tools"], totals["mapped"], totals["public"], totals["authenticated_only"], totals["unmapped"]
    ));
    for (kind, first) in [("resources", "resource"), ("prompts", "prompt")] {
        let entries = m[kind].as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            continue;
        }
        let uri_header = if kind == "resources" { " uri |" } else { "" };
        out.push_str(&format!(
            "\n| {first} |{uri_header} requires | {} |\n",
            scopes.join(" | ")
        ));
        out.push_str(&format!(
            "|---|{}---|{}\n",
            if kind == "resources" { "---|" } else { "" },
            "---|".repeat(scopes.len())
        ));
        for e in &entries {
            let cells: Vec<&str> = scopes
                .iter()
                .map(|s| if e["scopes"][*s] == true { "x" } else { "" })
                .collect();
            let uri = if kind == "resources" {
                format!(" `{}` |", e["uri"].as_str().unwrap_or_default())
            } else {
                String::new()
            };
            out.push_str(&format!(
                "| `{}` |{uri} {} | {} |\n",
                e[first].as_str().unwrap_or_default(),
                e["requirement"].as_str().unwrap_or_default(),
                cells.join(" | ")
            ));
        }
    }
    out
}

/// Every tool's input and output schema, by name.
pub fn schemas<S: Tools>(registry: &Registry<S>) -> Value {
    let tools: Map<String, Value> = registry
        .tools()
        .iter()
        .map(|t| {
            (
                t.spec().name.to_string(),
                json!({"input": t.input_schema(), "output": t.output_schema()}),
            )
        })
        .collect();
    Value::Object(tools)
}

/// `get_environment_status` as it answers in each manifest environment.
pub fn environment_statuses<S: Tools>(version: &str) -> Value {
    let m = S::manifest();
    let statuses: Map<String, Value> = m
        .environments
        .iter()
        .map(|env| {
            let facts = ServerFacts {
                manifest: m,
                version: version.to_owned(),
                environment: env.clone(),
                database: None,
                database_data: None,
            };
            let mut report = serde_json::to_value(facts.report()).unwrap_or_default();
            if !env.enabled {
                report["enabled"] = false.into();
            }
            (env.name.to_string(), report)
        })
        .collect();
    Value::Object(statuses)
}

/// The protected-resource metadata (RFC 9728) for `S`'s manifest.
pub fn resource_metadata<S: Tools>() -> Value {
    resource_metadata_at::<S>(&S::manifest().resource.uri)
}

/// The same, for the resource served at `uri` (a deployment's public URL).
pub fn resource_metadata_at<S: Tools>(uri: &str) -> Value {
    let m = S::manifest();
    let mut doc = json!({
        "resource": uri,
        "authorization_servers": m.resource.authorization_servers,
        "scopes_supported": m.scopes.iter().map(|s| &s.name).collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "resource_name": m.server.title.as_ref().unwrap_or(&m.server.name),
    });
    if let Some(d) = &m.resource.documentation {
        doc["resource_documentation"] = d.as_ref().into();
    }
    doc
}
