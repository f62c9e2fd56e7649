use std::future::Future;
use std::pin::Pin;

use schemars::{JsonSchema, Schema};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::content::IntoCallResult;
use crate::context::Invocation;
use crate::error::ToolError;
use crate::record::{Owned, Record};

/// A boxed future that borrows for `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a handler may take after its context: a plain input type (any
/// `Deserialize + JsonSchema` type whose schema is an object) or an
/// [`Owned`] record.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tool input",
    note = "tool inputs derive `serde::Deserialize` and `schemars::JsonSchema` (and should use `#[serde(deny_unknown_fields)]`), or are `mcpgen::Owned<R>` for a record `R`"
)]
pub trait ToolInput: Sized + Send {
    /// The record kind this input loads, if it is an [`Owned`] record.
    const RECORD: Option<&'static str>;

    /// The JSON Schema advertised in `tools/list` and enforced on call.
    fn input_schema() -> Schema;

    /// Build the input from validated call arguments.
    fn from_arguments<'a>(
        arguments: serde_json::Value,
        inv: Invocation<'a>,
    ) -> BoxFuture<'a, Result<Self, ToolError>>;
}

impl<T> ToolInput for T
where
    T: DeserializeOwned + JsonSchema + Send + 'static,
{
    const RECORD: Option<&'static str> = None;

    fn input_schema() -> Schema {
        crate::__private::root_schema::<T>(true)
    }

    fn from_arguments<'a>(
        arguments: serde_json::Value,
        _inv: Invocation<'a>,
    ) -> BoxFuture<'a, Result<Self, ToolError>> {
        Box::pin(async move {
            serde_json::from_value(arguments)
                .map_err(|e| ToolError::InvalidArguments(e.to_string().into()))
        })
    }
}

impl<R: Record> ToolInput for Owned<R> {
    const RECORD: Option<&'static str> = Some(R::KIND);

    fn input_schema() -> Schema {
        crate::__private::root_schema::<OwnedArguments<R::Id>>(true)
    }

    fn from_arguments<'a>(
        arguments: serde_json::Value,
        inv: Invocation<'a>,
    ) -> BoxFuture<'a, Result<Self, ToolError>> {
        Box::pin(async move {
            let args: OwnedArguments<R::Id> = serde_json::from_value(arguments)
                .map_err(|e| ToolError::InvalidArguments(e.to_string().into()))?;
            Owned::load(inv, args.id).await
        })
    }
}

/// The arguments of a tool that takes an [`Owned`] record: its id.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct OwnedArguments<Id> {
    /// The id of the record.
    id: Id,
}

/// The input of a tool whose handler takes no input: an empty object.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// What a handler returns: `ToolResult<T>`, where `T` is structured
/// (`Serialize + JsonSchema`) or [`crate::Content`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tool's return type",
    note = "tool handlers return `mcpgen::ToolResult<T>` where `T` derives `serde::Serialize` and `schemars::JsonSchema`, or `mcpgen::ToolResult<mcpgen::Content>`"
)]
pub trait ToolOutput: Send {
    /// The success type.
    type Output: IntoCallResult;

    /// Split into the success value or the error.
    fn into_result(self) -> Result<Self::Output, ToolError>;
}

impl<T: IntoCallResult> ToolOutput for Result<T, ToolError> {
    type Output = T;

    fn into_result(self) -> Result<T, ToolError> {
        self
    }
}
