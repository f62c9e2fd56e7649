//! What a tool call returns: content blocks, and optionally structured
//! content that conforms to the tool's output schema.

use schemars::{JsonSchema, Schema};
use serde::Serialize;
use serde_json::Value;

/// One MCP content block.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentBlock {
    /// Text for the model.
    Text {
        /// The text.
        text: String,
    },
    /// A base64-encoded image.
    Image {
        /// Base64 data.
        data: String,
        /// e.g. `image/png`.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// Base64-encoded audio.
    Audio {
        /// Base64 data.
        data: String,
        /// e.g. `audio/wav`.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// An embedded resource.
    Resource {
        /// The resource's contents.
        resource: EmbeddedResource,
    },
}

/// The contents of an embedded resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddedResource {
    /// Its URI.
    pub uri: String,
    /// Its media type.
    #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Text contents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Base64 binary contents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// An image block from base64 data.
    pub fn image(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self::Image {
            data: data.into(),
            mime_type: mime_type.into(),
        }
    }

    /// An audio block from base64 data.
    pub fn audio(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self::Audio {
            data: data.into(),
            mime_type: mime_type.into(),
        }
    }

    /// An embedded text resource.
    pub fn text_resource(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self::Resource {
            resource: EmbeddedResource {
                uri: uri.into(),
                mime_type: Some(mime_type.into()),
                text: Some(text.into()),
                blob: None,
            },
        }
    }
}

/// Unstructured content a handler returns as-is (`ToolResult<Content>`):
/// no output schema, no structured content.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Content(pub Vec<ContentBlock>);

impl From<Vec<ContentBlock>> for Content {
    fn from(blocks: Vec<ContentBlock>) -> Self {
        Self(blocks)
    }
}

/// The result of one tool call, before it is put in a JSON-RPC response.
#[derive(Debug, Clone, PartialEq)]
pub struct CallToolResult {
    /// Content blocks; for structured results, the JSON as text.
    pub content: Vec<ContentBlock>,
    /// Structured content, conforming to the output schema.
    pub structured: Option<Value>,
    /// Whether the call failed in a way the model should see.
    pub is_error: bool,
}

impl CallToolResult {
    /// An error result with a message the model can act on.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            content: vec![ContentBlock::text(message)],
            structured: None,
            is_error: true,
        }
    }

    /// The MCP `CallToolResult` object.
    pub fn into_json(self) -> Value {
        let mut out = serde_json::Map::new();
        out.insert(
            "content".into(),
            serde_json::to_value(&self.content).unwrap_or(Value::Array(Vec::new())),
        );
        if let Some(s) = self.structured {
            out.insert("structuredContent".into(), s);
        }
        out.insert("isError".into(), Value::Bool(self.is_error));
        Value::Object(out)
    }

    /// The result as JSON, keeping `self`.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        out.insert(
            "content".into(),
            serde_json::to_value(&self.content).unwrap_or(Value::Array(Vec::new())),
        );
        if let Some(s) = &self.structured {
            out.insert("structuredContent".into(), s.clone());
        }
        out.insert("isError".into(), Value::Bool(self.is_error));
        Value::Object(out)
    }
}

/// What a handler's `Ok` value becomes: structured content (any
/// `Serialize + JsonSchema` type) or raw [`Content`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tool's result",
    note = "return `ToolResult<T>` where `T` derives `serde::Serialize` and `schemars::JsonSchema` (structured content), or `ToolResult<mcpgen::Content>` (raw content blocks)"
)]
pub trait IntoCallResult: Send {
    /// The output schema advertised in `tools/list`, if any.
    fn output_schema() -> Option<Schema>;

    /// The result sent to the client.
    fn into_call_result(self) -> Result<CallToolResult, crate::ToolError>;
}

impl<T: Serialize + JsonSchema + Send> IntoCallResult for T {
    fn output_schema() -> Option<Schema> {
        Some(crate::__private::root_schema::<T>(false))
    }

    fn into_call_result(self) -> Result<CallToolResult, crate::ToolError> {
        let value = serde_json::to_value(&self).map_err(|_| {
            crate::ToolError::Internal("the tool's result could not be serialized".into())
        })?;
        Ok(CallToolResult {
            content: vec![ContentBlock::text(
                serde_json::to_string(&value).unwrap_or_default(),
            )],
            structured: Some(value),
            is_error: false,
        })
    }
}

impl IntoCallResult for Content {
    fn output_schema() -> Option<Schema> {
        None
    }

    fn into_call_result(self) -> Result<CallToolResult, crate::ToolError> {
        Ok(CallToolResult {
            content: self.0,
            structured: None,
            is_error: false,
        })
    }
}
