//! The tools every mcpgen server has: `verify_access` (who am I) and
//! `get_environment_status` (where am I, and may I write). Both are
//! read-only, need an authenticated caller but no scope, and never reveal
//! a secret, a connection string or a file path.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::environment::EnvironmentReport;
use crate::error::ToolError;
use crate::handler::context::Invocation;
use crate::handler::def::{BoxFuture, ToolDef};
use crate::handler::input::{NoArguments, ToolInput};
use crate::handler::output::{CallToolResult, IntoCallResult};
use mcpgen_spec::{Access, Annotations, BUILT_IN, ToolSpec};

/// `verify_access`'s result.
#[derive(Debug, Serialize, JsonSchema)]
struct AccessReport {
    /// The authenticated subject.
    subject: String,
    /// How it authenticated: `access_key`, `oauth` or `dev_token`.
    auth_method: String,
    /// The access key's id or the token's `jti` (never the secret).
    credential_id: Option<String>,
    /// The OAuth client, if known.
    client_id: Option<String>,
    /// Granted scopes.
    scopes: Vec<String>,
    /// When the credential expires, Unix seconds.
    expires_at: Option<i64>,
}

fn verify_access<'a, S>(
    _: &'a S,
    inv: Invocation<'a>,
    _: Value,
) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
    Box::pin(async move {
        let c = inv.caller();
        AccessReport {
            subject: c.subject().to_owned(),
            auth_method: c.method().as_str().to_owned(),
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
        facts.report().into_call_result()
    })
}

/// A built-in tool's manifest entry: read-only, authenticated, no scope.
const fn spec(name: &'static str, title: &'static str, description: &'static str) -> ToolSpec {
    ToolSpec {
        name: Cow::Borrowed(name),
        title: Some(Cow::Borrowed(title)),
        description: Cow::Borrowed(description),
        access: Access::Read,
        scopes: Cow::Borrowed(&[]),
        public: false,
        record: None,
        annotations: Annotations::READ_ONLY,
        declared_at: Cow::Borrowed(BUILT_IN),
        calls_per_minute: None,
        timeout_ms: None,
        example: None,
        confirm: None,
    }
}

/// The built-in tool definitions, for any server type.
pub(crate) fn definitions<S: 'static>() -> [ToolDef<S>; 2] {
    [
        ToolDef {
            spec: spec(
                "get_environment_status",
                "Environment status",
                "Where this server runs and whether it may write: runtime, data environment, \
                 whether it shares production data, whether writes are enabled and safe for tests.",
            ),
            input_type: "(no input)",
            input_schema: <NoArguments as ToolInput>::input_schema,
            output_schema: <EnvironmentReport as IntoCallResult>::output_schema,
            call: get_environment_status::<S>,
        },
        ToolDef {
            spec: spec(
                "verify_access",
                "Verify access",
                "Who the server thinks you are: subject, how you authenticated, the credential's id \
                 (never its secret), client, granted scopes and expiry.",
            ),
            input_type: "(no input)",
            input_schema: <NoArguments as ToolInput>::input_schema,
            output_schema: <AccessReport as IntoCallResult>::output_schema,
            call: verify_access::<S>,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_ins_are_the_names_manifests_may_not_use() {
        let names: Vec<String> = definitions::<()>()
            .iter()
            .map(|d| d.spec.name.to_string())
            .collect();
        assert_eq!(names, mcpgen_spec::BUILT_IN_TOOLS);
        assert!(definitions::<()>().iter().all(|d| d.spec.is_builtin()));
    }
}
