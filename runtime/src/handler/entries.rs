//! What resource and prompt handlers take and return: template variables
//! bound to typed parameters ([`TemplateArg`]: text, integers, or an
//! [`Owned`] record loaded for its owner), prompt arguments from a
//! `Deserialize + JsonSchema` type, [`ResourceContents`] and
//! [`PromptMessage`]s.

use base64::Engine as _;
use schemars::{JsonSchema, Schema};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ToolError;
use crate::handler::context::Invocation;
use crate::handler::def::BoxFuture;
use crate::handler::output::ContentBlock;
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

/// What a resource handler returns: the contents at the URI read.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceContents {
    body: Body,
    mime_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Body {
    Text(String),
    Blob(Vec<u8>),
}

impl ResourceContents {
    /// Text, in the MIME type the manifest declares.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            body: Body::Text(text.into()),
            mime_type: None,
        }
    }

    /// Bytes (sent base64-encoded), in the MIME type the manifest declares.
    pub fn blob(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            body: Body::Blob(bytes.into()),
            mime_type: None,
        }
    }

    /// A value as JSON text, `application/json`.
    pub fn json<T: Serialize>(value: &T) -> Result<Self, ToolError> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|_| ToolError::Internal("the resource could not be serialized".into()))?;
        Ok(Self::text(text).with_mime_type("application/json"))
    }

    /// Another MIME type than the manifest's.
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// The `contents` entry of a `resources/read` result for `uri`.
    pub(crate) fn to_json(&self, uri: &str, declared_mime: Option<&str>) -> Value {
        let mut v = json!({"uri": uri});
        if let Some(m) = self.mime_type.as_deref().or(declared_mime) {
            v["mimeType"] = m.into();
        }
        match &self.body {
            Body::Text(t) => v["text"] = t.as_str().into(),
            Body::Blob(b) => v["blob"] = base64::engine::general_purpose::STANDARD.encode(b).into(),
        }
        v
    }
}

/// Who speaks a prompt message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// One message of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptMessage {
    /// Who speaks it.
    pub role: Role,
    /// What it says.
    pub content: ContentBlock,
}

impl PromptMessage {
    /// A text message from the person.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: ContentBlock::Text { text: text.into() },
        }
    }

    /// A text message from the model.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: ContentBlock::Text { text: text.into() },
        }
    }
}
