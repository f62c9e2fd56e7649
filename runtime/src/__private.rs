//! What generated code needs. Not a public API: anything here may change.

pub use crate::input::BoxFuture;
pub use crate::policy_check::{check_tool, example_arguments};
pub use crate::registry::{CallFn, ToolDef};
pub use crate::spec::*;
pub use schemars::Schema;
pub use serde_json::Value;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

use crate::content::{CallToolResult, IntoCallResult};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::input::{ToolInput, ToolOutput};

/// The root JSON Schema (draft 2020-12) of `T`, as deserialized (`true`,
/// inputs) or as serialized (`false`, outputs). Input schemas get
/// `additionalProperties: false` when the type did not say otherwise, so
/// unknown arguments are refused by the same schema that is advertised.
pub fn root_schema<T: JsonSchema>(for_input: bool) -> Schema {
    let settings = SchemaSettings::draft2020_12();
    let settings = if for_input {
        settings.for_deserialize()
    } else {
        settings.for_serialize()
    };
    let mut schema = settings.into_generator().into_root_schema_for::<T>();
    if for_input
        && schema.get("type").and_then(|t| t.as_str()) == Some("object")
        && schema.get("additionalProperties").is_none()
    {
        schema.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    schema
}

/// The input schema of a tool taking `T`.
pub fn input_schema<T: ToolInput>() -> Schema {
    T::input_schema()
}

/// The output schema of a handler returning `R`, if it has one.
pub fn output_schema<R: ToolOutput>() -> Option<Schema> {
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
#[doc(hidden)]
pub fn bench_audit_record(sink: &crate::audit::AuditSink) {
    sink.record(crate::audit::AuditRecord {
        request_id: crate::random_id("req"),
        at: crate::db::now(),
        transport: "http",
        subject: "alice".to_owned(),
        client: "bench".to_owned(),
        tool: "search_owned_notes".to_owned(),
        scopes: "notes:read".to_owned(),
        decision: "allowed",
        reason: "ok",
        duration_us: 42,
    });
}
