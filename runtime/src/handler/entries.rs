//! What resource and prompt handlers take and return: template variables
//! bound to typed parameters ([`TemplateArg`]: text, integers, or an
//! [`Owned`] record loaded for its owner) and prompt arguments from a
//! `Deserialize + JsonSchema` type ([`PromptArguments`]). What they
//! return is in `output.rs`.

use schemars::{JsonSchema, Schema};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ToolError;
use crate::handler::context::Invocation;
use crate::handler::def::BoxFuture;
use crate::handler::record::Owned;
use crate::schema::{Direction, root_schema};
use crate::store::Record;

/// A parameter of a resource handler bound to a variable of its URI
/// template (by name): text, an integer, or an [`Owned`] record loaded for
/// its owner. A value that does not parse, a record that does not exist
/// and one that belongs to someone else all answer "not found".
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound to a URI template variable",
    note = "a resource handler's parameters after its context are its template's variables: `String`, `i64`, `u64`, or `mcpgen::Owned<R>` for a record `R`"
)]
pub trait TemplateArg: Sized + Send {
    /// The record kind this parameter loads, if it is an [`Owned`] record.
    const RECORD: Option<&'static str>;

    /// The parameter from the variable's (decoded) value.
    fn from_variable<'a>(
        value: String,
        inv: Invocation<'a>,
    ) -> BoxFuture<'a, Result<Self, ToolError>>;
}

fn not_found() -> ToolError {
    ToolError::NotFound { kind: "resource" }
}

impl TemplateArg for String {
    const RECORD: Option<&'static str> = None;

    fn from_variable<'a>(
        value: String,
        _inv: Invocation<'a>,
    ) -> BoxFuture<'a, Result<Self, ToolError>> {
        Box::pin(async move { Ok(value) })
    }
}

macro_rules! integer_arg {
    ($($t:ty),*) => {$(
        impl TemplateArg for $t {
            const RECORD: Option<&'static str> = None;

            fn from_variable<'a>(value: String, _inv: Invocation<'a>) -> BoxFuture<'a, Result<Self, ToolError>> {
                Box::pin(async move { value.parse().map_err(|_| not_found()) })
            }
        }
    )*};
}
integer_arg!(i64, u64, i32, u32);

impl<R: Record> TemplateArg for Owned<R> {
    const RECORD: Option<&'static str> = Some(R::KIND);

    fn from_variable<'a>(
        value: String,
        inv: Invocation<'a>,
    ) -> BoxFuture<'a, Result<Self, ToolError>> {
        Box::pin(async move {
            // An id type reads the value as a JSON literal (`42`) or, failing
            // that, as text (`"a1"`).
            let id: R::Id = serde_json::from_str(&value)
                .or_else(|_| serde_json::from_value(Value::String(value)))
                .map_err(|_| ToolError::NotFound { kind: R::KIND })?;
            // The owner condition is in the query (`store::owned`): another
            // subject's record is not found, exactly like a missing one.
            match inv.owned::<R>()?.by_id(id.clone()).await? {
                Some(record) => Ok(Owned::new(id, record)),
                None => Err(ToolError::NotFound { kind: R::KIND }),
            }
        })
    }
}

/// What a prompt handler may take after its context: a
/// `Deserialize + JsonSchema` type whose fields are the prompt's arguments
/// (MCP passes them as strings: use `String` and `Option<String>` fields).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a prompt's arguments",
    note = "prompt arguments derive `serde::Deserialize` and `schemars::JsonSchema`, with `String` (required) and `Option<String>` (optional) fields; a record cannot be a prompt argument"
)]
pub trait PromptArguments: Sized + Send {
    /// The arguments' JSON Schema, from which `prompts/list` lists them.
    fn schema() -> Schema;

    /// The arguments from the request's `arguments` object.
    fn from_arguments(arguments: Value) -> Result<Self, ToolError>;
}

impl<T: DeserializeOwned + JsonSchema + Send + 'static> PromptArguments for T {
    fn schema() -> Schema {
        root_schema::<T>(Direction::Input)
    }

    fn from_arguments(arguments: Value) -> Result<Self, ToolError> {
        serde_json::from_value(arguments)
            .map_err(|e| ToolError::InvalidArguments(e.to_string().into()))
    }
}
