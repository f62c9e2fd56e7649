//! What generated code needs, re-exported. Not a public API: anything
//! here may change.

pub use crate::error::ToolError;
pub use crate::generated_tests::entries::{check_prompt, check_resource};
pub use crate::generated_tests::migrations::check_migrations;
pub use crate::generated_tests::policy::{check_tool, example_arguments};
pub use crate::handler::context::{Invocation, ToolContext};
pub use crate::handler::def::{BoxFuture, CallFn, GetFn, PromptDef, ReadFn, ResourceDef, ToolDef};
pub use crate::handler::entries::{PromptArguments, TemplateArg};
pub use crate::handler::input::{NoArguments, ToolInput};
pub use crate::handler::output::CallToolResult;
pub use crate::registry::Tools;
pub use mcpgen_spec as spec;
pub use serde_json::Value;

use crate::handler::output::{IntoCallResult, ToolOutput};
use mcpgen_spec::Access;

/// How the generated tests make the app when the macro names no
/// `test_app`: with `Default`.
#[diagnostic::on_unimplemented(
    message = "the generated tests cannot make a `{Self}`: it does not implement `Default`",
    label = "made for the generated policy tests",
    note = "derive `Default` for `{Self}`, or say how to make one: `#[mcpgen::tools(manifest = \"...\", test_app = \"{Self}::new()\")]`"
)]
pub trait TestApp: Sized {
    /// The app.
    fn make() -> Self;
}

impl<T: Default> TestApp for T {
    fn make() -> Self {
        T::default()
    }
}

/// The input schema of a tool taking `T`.
pub fn input_schema<T: ToolInput>() -> schemars::Schema {
    T::input_schema()
}

/// The output schema of a handler returning `R`, if it has one.
pub fn output_schema<R: ToolOutput>() -> Option<schemars::Schema> {
    <R::Output as IntoCallResult>::output_schema()
}

/// Turn a handler's return value into the call result.
pub fn output<R: ToolOutput>(result: R) -> Result<CallToolResult, ToolError> {
    result.into_result()?.into_call_result()
}

/// Whether context `C` grants exactly `declared` access (compile-time check).
pub const fn context_grants<C: ToolContext<'static>>(declared: Access) -> bool {
    matches!(
        (C::ACCESS, declared),
        (Access::Read, Access::Read) | (Access::Write, Access::Write)
    )
}

/// Whether template parameter `T` loads an owned record (compile-time check).
pub const fn template_loads_record<T: TemplateArg>() -> bool {
    T::RECORD.is_some()
}

/// Whether template parameter `T` loads no record, or one of kind `kind`.
pub const fn template_record_kind_is<T: TemplateArg>(kind: &str) -> bool {
    match T::RECORD {
        None => true,
        Some(k) => str_eq(k, kind),
    }
}

/// The arguments' schema of a prompt taking `T`.
pub fn prompt_arguments_schema<T: PromptArguments>() -> schemars::Schema {
    T::schema()
}

/// Whether input `T` loads an owned record (compile-time check).
pub const fn loads_record<T: ToolInput>() -> bool {
    T::RECORD.is_some()
}

/// Whether input `T` loads no record, or a record of kind `kind`.
pub const fn record_kind_is<T: ToolInput>(kind: &str) -> bool {
    match T::RECORD {
        None => true,
        Some(k) => str_eq(k, kind),
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// For the micro-benchmarks: enqueue one typical audit record.
pub fn bench_audit_record(sink: &crate::audit::AuditSink) {
    sink.open("http", "127.0.0.1", "search_owned_notes", None)
        .close(crate::audit::Verdict::Allowed);
}

/// For the micro-benchmarks: the policy's decision on one tool.
pub fn bench_policy<S: Tools>(
    server: &crate::McpServer<S>,
    tool: &str,
    caller: Option<&crate::Caller>,
) -> bool {
    server
        .registry
        .get(tool)
        .is_some_and(|t| server.policy.permits(t.spec(), caller).is_ok())
}
