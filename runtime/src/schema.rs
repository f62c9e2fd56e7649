//! JSON Schemas (draft 2020-12) of tool inputs and outputs, from schemars.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// The root JSON Schema of `T`, as deserialized (`Direction::Input`) or as
/// serialized (`Direction::Output`). Input schemas get
/// `additionalProperties: false` when the type did not say otherwise, so
/// unknown arguments are refused by the same schema that is advertised.
pub(crate) fn root_schema<T: JsonSchema>(direction: Direction) -> Schema {
    let settings = SchemaSettings::draft2020_12();
    let settings = match direction {
        Direction::Input => settings.for_deserialize(),
        Direction::Output => settings.for_serialize(),
    };
    let mut schema = settings.into_generator().into_root_schema_for::<T>();
    if direction == Direction::Input
        && schema.get("type").and_then(Value::as_str) == Some("object")
        && schema.get("additionalProperties").is_none()
    {
        schema.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    schema
}

/// Which way a value travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Arguments, deserialized from the caller.
    Input,
    /// Results, serialized to the caller.
    Output,
}
