//! What a handler takes after its context: a plain input type, or a record
//! loaded for its owner.

use schemars::{JsonSchema, Schema};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ToolError;
use crate::handler::context::Invocation;
use crate::handler::def::BoxFuture;
use crate::handler::record::Owned;
use crate::schema::{Direction, root_schema};
use crate::store::Record;

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
        root_schema::<T>(Direction::Input)
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
        root_schema::<OwnedArguments<R::Id>>(Direction::Input)
    }

    fn from_arguments<'a>(
        arguments: serde_json::Value,
        inv: Invocation<'a>,
    ) -> BoxFuture<'a, Result<Self, ToolError>> {
        Box::pin(async move {
            let args: OwnedArguments<R::Id> = serde_json::from_value(arguments)
                .map_err(|e| ToolError::InvalidArguments(e.to_string().into()))?;
            // The owner condition is in the query (`store::owned`): another
            // subject's record is not found, exactly like a missing one.
            match inv.owned::<R>()?.by_id(args.id.clone()).await? {
                Some(record) => Ok(Owned::new(args.id, record)),
                None => Err(ToolError::NotFound { kind: R::KIND }),
            }
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
