//! Policy checks on a [`Model`]: every rule the manifest alone can break.
//! Rules that need the handlers (the tool/handler bijection, context and
//! record types) live in [`crate::bind`] and the generated type checks.

use crate::model::*;

mod confirm;

pub use mcpgen_spec::BUILT_IN_TOOLS;

/// Check every rule; return every violation, in manifest order.
pub fn check(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    server(model, &mut out);
    resource(model, &mut out);
    for scope in &model.scopes {
        self::scope(scope, &mut out);
    }
    for record in &model.records {
        self::record(record, &mut out);
    }
    for env in &model.environments {
        environment(env, &mut out);
    }
    for client in &model.clients {
        self::client(model, client, &mut out);
    }
    limits(
        "[limits]",
        &model.limits.calls_per_minute,
        &model.limits.timeout_ms,
        &mut out,
    );
    for resource in &model.resources {
        mcp_resource(model, resource, &mut out);
        limits(
            &format!("[resources.{}]", resource.name.value),
            &resource.calls_per_minute,
            &resource.timeout_ms,
            &mut out,
        );
    }
    uris_are_distinct(model, &mut out);
    for prompt in &model.prompts {
        self::prompt(model, prompt, &mut out);
        limits(
            &format!("[prompts.{}]", prompt.name.value),
            &prompt.calls_per_minute,
            &prompt.timeout_ms,
            &mut out,
        );
    }
    for tool in &model.tools {
        self::tool(model, tool, &mut out);
        confirm::check(tool, &mut out);
        limits(
            &format!("[tools.{}]", tool.name.value),
            &tool.calls_per_minute,
            &tool.timeout_ms,
            &mut out,
        );
    }
    out.sort_by_key(|d| d.loc);
    out
}

/// The MCP tool-name rule: `^[A-Za-z0-9_.-]{1,128}$`.
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/'))
}

fn limits(
    table: &str,
    calls: &Option<Located<u32>>,
    timeout: &Option<Located<u64>>,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(c) = calls
        && c.value == 0
    {
        out.push(Diagnostic::at(
            c.loc,
            format!("{table} calls_per_minute = 0 would refuse every call: use a positive number, or remove it for no limit"),
        ));
    }
    if let Some(t) = timeout
        && !(1..=3_600_000).contains(&t.value)
    {
        out.push(Diagnostic::at(
            t.loc,
            format!(
                "{table} timeout_ms = {} is out of range: use 1 to 3600000 (one hour)",
                t.value
            ),
        ));
    }
}

fn server(model: &Model, out: &mut Vec<Diagnostic>) {
    let name = &model.server.name;
    if name.value.is_empty()
        || !name
            .value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        out.push(Diagnostic::at(
            name.loc,
            format!(
                "server name {:?} is not a machine name: use letters, digits, `_`, `-` or `.`, e.g. `name = \"notes\"`",
                name.value
            ),
        ));
    }
}

fn resource(model: &Model, out: &mut Vec<Diagnostic>) {
    let r = &model.resource;
    if !is_http_url(&r.uri.value) || r.uri.value.contains('#') {
        out.push(Diagnostic::at(
            r.uri.loc,
            format!(
                "resource uri {:?} must be the exact absolute URL of the MCP endpoint, with no fragment, \
                 e.g. `uri = \"https://mcp.example.com/mcp\"`",
                r.uri.value
            ),
        ));
    }
    if r.authorization_servers.value.is_empty() {
        out.push(Diagnostic::at(
            r.authorization_servers.loc,
            "`authorization_servers` is empty, but MCP requires at least one: \
             write the issuer URL of your OAuth authorization server, e.g. \
             `authorization_servers = [\"https://auth.example.com\"]`",
        ));
    }
    for s in &r.authorization_servers.value {
        if !is_http_url(&s.value) {
            out.push(Diagnostic::at(
                s.loc,
                format!(
                    "authorization server {:?} is not an absolute http(s) URL; write its issuer, e.g. \"https://auth.example.com\"",
                    s.value
                ),
            ));
        }
    }
    if let Some(doc) = &r.documentation
        && !is_http_url(&doc.value)
    {
        out.push(Diagnostic::at(
            doc.loc,
            format!(
                "documentation {:?} is not an absolute http(s) URL",
                doc.value
            ),
        ));
    }
}

fn scope(scope: &Scope, out: &mut Vec<Diagnostic>) {
    let name = &scope.name.value;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        out.push(Diagnostic::at(
            scope.name.loc,
            format!(
                "scope {name:?} is not a valid OAuth scope token: use printable ASCII without spaces, quotes or backslashes, e.g. \"notes:read\""
            ),
        ));
    }
    if name.starts_with(mcpgen_spec::RESERVED_SCOPE_PREFIX) {
        out.push(Diagnostic::at(
            scope.name.loc,
            format!(
                "scope `{name}` is reserved: scopes starting with `{}` belong to the mcpgen runtime \
                 (`{}` opens the admin listener). Name the product's scope after the product, e.g. \"notes:read\"",
                mcpgen_spec::RESERVED_SCOPE_PREFIX,
                mcpgen_spec::ADMIN_SCOPE
            ),
        ));
    }
    if scope.description.value.trim().is_empty() {
        out.push(Diagnostic::at(
            scope.description.loc,
            format!(
                "scope `{name}` has an empty description: say what granting it allows, e.g. \"Read your notes\""
            ),
        ));
    }
}

fn record(record: &RecordRule, out: &mut Vec<Diagnostic>) {
    for (what, field) in [
        ("table", &record.table),
        ("id", &record.id),
        ("owner", &record.owner),
    ] {
        if !is_identifier(&field.value) {
            out.push(Diagnostic::at(
                field.loc,
                format!(
                    "[records.{}] {what} = {:?} is not a plain SQL identifier: use letters, digits and `_`, starting with a letter",
                    record.kind.value, field.value
                ),
            ));
        }
    }
}

fn environment(env: &Environment, out: &mut Vec<Diagnostic>) {
    if env.data.value == DataKind::Production && env.writes.is_none() {
        out.push(Diagnostic::at(
            env.name.loc,
            format!(
                "environment `{}` uses production data but does not say whether it may write: \
                 add `writes = false` (read-only, e.g. a preview) or `writes = true` (production itself)",
                env.name.value
            ),
        ));
    }
}

fn client(model: &Model, client: &Client, out: &mut Vec<Diagnostic>) {
    for (kind, names, declared) in [
        (
            "resource",
            &client.resources,
            model
                .resources
                .iter()
                .map(|r| r.name.value.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "prompt",
            &client.prompts,
            model
                .prompts
                .iter()
                .map(|p| p.name.value.as_str())
                .collect::<Vec<_>>(),
        ),
    ] {
        for n in names {
            if n.value != "*" && !declared.contains(&n.value.as_str()) {
                out.push(Diagnostic::at(
                    n.loc,
                    format!(
                        "client {:?} allows {kind} `{}`, which the manifest does not declare{}",
                        client.client_id.value,
                        n.value,
                        suggest(&n.value, declared.iter().copied())
                    ),
                ));
            }
        }
    }
    for t in &client.tools {
        if t.value != "*"
            && model.tool(&t.value).is_none()
            && !BUILT_IN_TOOLS.contains(&t.value.as_str())
        {
            out.push(Diagnostic::at(
                t.loc,
                format!(
                    "client {:?} allows tool `{}`, which the manifest does not declare{}",
                    client.client_id.value,
                    t.value,
                    suggest(&t.value, model.tools.iter().map(|t| t.name.value.as_str()))
                ),
            ));
        }
    }
}

fn tool(model: &Model, tool: &Tool, out: &mut Vec<Diagnostic>) {
    let name = tool.name.value.as_str();
    let at = tool.name.loc;
    if !is_valid_tool_name(name) {
        out.push(Diagnostic::at(
            at,
            format!(
                "tool name {name:?} breaks the MCP naming rule: 1 to 128 characters from A-Z a-z 0-9 `_` `-` `.`, e.g. `[tools.search_notes]`"
            ),
        ));
    }
    if BUILT_IN_TOOLS.contains(&name) {
        out.push(Diagnostic::at(
            at,
            format!("tool `{name}` is built into every mcpgen server: remove `[tools.{name}]` or choose another name"),
        ));
    }
    if tool.description.value.trim().is_empty() {
        out.push(Diagnostic::at(
            tool.description.loc,
            format!("tool `{name}` has an empty description: say what it does, for the model that will call it"),
        ));
    }

    let public = tool.is_public();
    let access = tool.access.value;
    let scopes = tool.scopes.as_ref();
    let has_scopes = scopes.is_some_and(|s| !s.value.is_empty());

    if public && has_scopes {
        let loc = tool.public.as_ref().map_or(at, |p| p.loc);
        out.push(Diagnostic::at(
            loc,
            format!(
                "tool `{name}` is `public = true` and also lists scopes: a public tool needs no credential, \
                 so remove either `public = true` or the scopes"
            ),
        ));
    }
    if public && access == Access::Write {
        let loc = tool.public.as_ref().map_or(at, |p| p.loc);
        out.push(Diagnostic::at(
            loc,
            format!(
                "tool `{name}` is `public = true` and `access = \"write\"`: anyone could write without a credential. \
                 Remove `public = true` and add a write scope, e.g. `scopes = [{}]`",
                example_scope(model, Access::Write)
            ),
        ));
    }
    if public && let Some(kind) = &tool.records {
        out.push(Diagnostic::at(
            kind.loc,
            format!(
                "tool `{name}` is `public = true` but names record kind `{}`: an anonymous caller owns no records. \
                 Remove `public = true` and add a scope, or remove `records`",
                kind.value
            ),
        ));
    }
    if !public && !has_scopes {
        let loc = scopes.map_or(at, |s| s.loc);
        out.push(Diagnostic::at(
            loc,
            format!(
                "tool `{name}` has no scope, so any caller could use it: add `scopes = [{}]` to [tools.{name}], \
                 or `public = true` if it must be callable without a credential",
                example_scope(model, access)
            ),
        ));
    }

    let mut seen: Vec<&str> = Vec::new();
    for s in scopes.map(|s| s.value.as_slice()).unwrap_or_default() {
        if seen.contains(&s.value.as_str()) {
            out.push(Diagnostic::at(
                s.loc,
                format!("tool `{name}` lists scope `{}` twice", s.value),
            ));
            continue;
        }
        seen.push(&s.value);
        if model.scope(&s.value).is_none() {
            out.push(Diagnostic::at(
                s.loc,
                format!(
                    "tool `{name}` requires scope `{}`, which [scopes] does not declare{}; \
                     declare it with `\"{}\" = {{ description = \"...\", access = \"{}\" }}` under [scopes]",
                    s.value,
                    suggest(&s.value, model.scopes.iter().map(|s| s.name.value.as_str())),
                    s.value,
                    access.as_str()
                ),
            ));
        }
    }
    if access == Access::Write && has_scopes {
        let declared: Vec<&Scope> = tool.scope_names().filter_map(|s| model.scope(s)).collect();
        if !declared.is_empty() && declared.iter().all(|s| s.access.value == Access::Read) {
            out.push(Diagnostic::at(
                tool.access.loc,
                format!(
                    "tool `{name}` writes, but every scope it requires only grants reading: \
                     add a write scope, e.g. `scopes = [{}]`, or declare it `access = \"read\"` if it does not write",
                    example_scope(model, Access::Write)
                ),
            ));
        }
    }

    if let Some(kind) = &tool.records
        && model.record(&kind.value).is_none()
    {
        out.push(Diagnostic::at(
            kind.loc,
            format!(
                "tool `{name}` names record kind `{}`, which [records] does not declare{}; \
                 declare `[records.{}]` with `table`, `id` and `owner`",
                kind.value,
                suggest(
                    &kind.value,
                    model.records.iter().map(|r| r.kind.value.as_str())
                ),
                kind.value
            ),
        ));
    }

    if let Some(example) = &tool.example
        && !example.value.is_object()
    {
        out.push(Diagnostic::at(
            example.loc,
            format!(
                "tool `{name}`'s `example` is its arguments for the generated tests: write a table, \
                 e.g. `example = {{ title = \"Groceries\" }}`"
            ),
        ));
    }
    if access == Access::Read {
        for (key, value) in [
            ("destructive", &tool.annotations.destructive),
            ("idempotent", &tool.annotations.idempotent),
        ] {
            if let Some(v) = value {
                out.push(Diagnostic::at(
                    v.loc,
                    format!(
                        "tool `{name}` is `access = \"read\"`, so it is read-only by definition: \
                         remove `{key}` from its annotations (it applies to write tools only)"
                    ),
                ));
            }
        }
    }
}

/// The rules every resource and prompt shares with tools: a valid name, a
/// description, and scopes or `public = true` (never both, never neither),
/// each scope declared and listed once.
fn guarded(
    model: &Model,
    kind: &str,
    name: &Located<String>,
    description: &Located<String>,
    public: &Option<Located<bool>>,
    scopes: &Option<Located<Vec<Located<String>>>>,
    out: &mut Vec<Diagnostic>,
) {
    let section = format!("{kind}s");
    let n = name.value.as_str();
    if !is_valid_tool_name(n) {
        out.push(Diagnostic::at(
            name.loc,
            format!(
                "{kind} name {n:?} is not a valid name: 1 to 128 characters from A-Z a-z 0-9 `_` `-` `.`, e.g. `[{section}.note]`"
            ),
        ));
    }
    if description.value.trim().is_empty() {
        out.push(Diagnostic::at(
            description.loc,
            format!("{kind} `{n}` has an empty description: say what it is, for the model"),
        ));
    }
    let is_public = public.as_ref().is_some_and(|p| p.value);
    let has_scopes = scopes.as_ref().is_some_and(|s| !s.value.is_empty());
    if is_public && has_scopes {
        out.push(Diagnostic::at(
            public.as_ref().map_or(name.loc, |p| p.loc),
            format!(
                "{kind} `{n}` is `public = true` and also lists scopes: remove either `public = true` or the scopes"
            ),
        ));
    }
    if !is_public && !has_scopes {
        out.push(Diagnostic::at(
            scopes.as_ref().map_or(name.loc, |s| s.loc),
            format!(
                "{kind} `{n}` has no scope, so any caller could use it: add `scopes = [{}]` to [{section}.{n}], \
                 or `public = true` if it must be usable without a credential",
                example_scope(model, Access::Read)
            ),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for s in scopes
        .as_ref()
        .map(|s| s.value.as_slice())
        .unwrap_or_default()
    {
        if seen.contains(&s.value.as_str()) {
            out.push(Diagnostic::at(
                s.loc,
                format!("{kind} `{n}` lists scope `{}` twice", s.value),
            ));
            continue;
        }
        seen.push(&s.value);
        if model.scope(&s.value).is_none() {
            out.push(Diagnostic::at(
                s.loc,
                format!(
                    "{kind} `{n}` requires scope `{}`, which [scopes] does not declare{}; \
                     declare it with `\"{}\" = {{ description = \"...\", access = \"read\" }}` under [scopes]",
                    s.value,
                    suggest(&s.value, model.scopes.iter().map(|s| s.name.value.as_str())),
                    s.value,
                ),
            ));
        }
    }
}

fn mcp_resource(model: &Model, r: &McpResource, out: &mut Vec<Diagnostic>) {
    guarded(
        model,
        "resource",
        &r.name,
        &r.description,
        &r.public,
        &r.scopes,
        out,
    );
    let name = &r.name.value;
    match (&r.uri, &r.uri_template) {
        (None, None) => out.push(Diagnostic::at(
            r.name.loc,
            format!(
                "resource `{name}` has no URI: write `uri = \"notes://recent\"` for one fixed resource, \
                 or `uri_template = \"note://{{id}}\"` for one per record"
            ),
        )),
        (Some(u), Some(_)) => out.push(Diagnostic::at(
            u.loc,
            format!("resource `{name}` has both `uri` and `uri_template`: keep one"),
        )),
        (Some(u), None) => match mcpgen_spec::UriTemplate::parse(&u.value) {
            Err(e) => out.push(Diagnostic::at(u.loc, format!("resource `{name}`: `uri` {e}"))),
            Ok(t) if !t.is_fixed() => out.push(Diagnostic::at(
                u.loc,
                format!("resource `{name}`: `uri` has variables: write it as `uri_template = {:?}`", u.value),
            )),
            Ok(_) => {}
        },
        (None, Some(t)) => match mcpgen_spec::UriTemplate::parse(&t.value) {
            Err(e) => out.push(Diagnostic::at(t.loc, format!("resource `{name}`: `uri_template` {e}"))),
            Ok(parsed) if parsed.is_fixed() => out.push(Diagnostic::at(
                t.loc,
                format!("resource `{name}`: `uri_template` has no variable: write it as `uri = {:?}`", t.value),
            )),
            Ok(_) => {}
        },
    }
    if let Some(m) = &r.mime_type
        && (m.value.split('/').count() != 2 || m.value.contains(char::is_whitespace))
    {
        out.push(Diagnostic::at(
            m.loc,
            format!(
                "resource `{name}`: mime_type {:?} is not a MIME type, e.g. \"text/markdown\"",
                m.value
            ),
        ));
    }
    if let Some(kind) = &r.records {
        if model.record(&kind.value).is_none() {
            out.push(Diagnostic::at(
                kind.loc,
                format!(
                    "resource `{name}` names record kind `{}`, which [records] does not declare{}; \
                     declare `[records.{}]` with `table`, `id` and `owner`",
                    kind.value,
                    suggest(
                        &kind.value,
                        model.records.iter().map(|r| r.kind.value.as_str())
                    ),
                    kind.value
                ),
            ));
        }
        if r.is_public() {
            out.push(Diagnostic::at(
                kind.loc,
                format!(
                    "resource `{name}` is `public = true` but names record kind `{}`: an anonymous caller owns no records",
                    kind.value
                ),
            ));
        }
        if r.uri_template.is_none() {
            out.push(Diagnostic::at(
                kind.loc,
                format!(
                    "resource `{name}` names record kind `{}` but has a fixed `uri`: the ownership rule applies to \
                     a template's variable, e.g. `uri_template = \"{}://{{id}}\"`",
                    kind.value, kind.value
                ),
            ));
        }
    }
}

/// Two resources never answer the same URI.
fn uris_are_distinct(model: &Model, out: &mut Vec<Diagnostic>) {
    for (i, a) in model.resources.iter().enumerate() {
        for b in &model.resources[i + 1..] {
            if let (Some(ua), Some(ub)) = (a.uri_text(), b.uri_text())
                && ua.value == ub.value
            {
                let (first, second) = if ua.loc <= ub.loc { (a, ub) } else { (b, ua) };
                out.push(Diagnostic::at(
                    second.loc,
                    format!(
                        "resources `{}` and `{}` have the same URI {:?}: each URI names one resource",
                        first.name.value,
                        if std::ptr::eq(first, a) { &b.name.value } else { &a.name.value },
                        ua.value
                    ),
                ));
            }
        }
    }
}

fn prompt(model: &Model, p: &Prompt, out: &mut Vec<Diagnostic>) {
    guarded(
        model,
        "prompt",
        &p.name,
        &p.description,
        &p.public,
        &p.scopes,
        out,
    );
}

/// An example scope for a message: a declared one with the right access.
fn example_scope(model: &Model, access: Access) -> String {
    model
        .scopes
        .iter()
        .find(|s| s.access.value == access)
        .map_or_else(
            || format!("\"<a declared {} scope>\"", access.as_str()),
            |s| format!("\"{}\"", s.name.value),
        )
}

/// ", did you mean `x`?" for the closest candidate, if close enough.
pub(crate) fn suggest<'a>(wrong: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (distance(wrong, c), c))
        .filter(|&(d, c)| d <= 2.max(c.len() / 5))
        .min()
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, on characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
