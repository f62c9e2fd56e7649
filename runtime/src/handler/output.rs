//! What a tool call returns: content blocks, and optionally structured
//! content that conforms to the tool's output schema.

use base64::Engine as _;
use schemars::{JsonSchema, Schema};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::error::ToolError;
use crate::schema::{Direction, root_schema};

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
#[derive(Debug, Clone)]
pub struct CallToolResult {
    /// Content blocks; for structured results, the JSON as text.
    pub content: Vec<ContentBlock>,
    /// Structured content, conforming to the output schema, serialized
    /// once (the text block carries the same JSON).
    pub structured: Option<Box<RawValue>>,
    /// Whether the call failed in a way the model should see.
    pub is_error: bool,
}

impl PartialEq for CallToolResult {
    fn eq(&self, other: &Self) -> bool {
        self.content == other.content
            && self.is_error == other.is_error
            && self.structured.as_deref().map(RawValue::get)
                == other.structured.as_deref().map(RawValue::get)
    }
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
        self.to_json()
    }

    /// The result as JSON, keeping `self`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.wire(None)).unwrap_or_default()
    }

    /// The result as it is serialized, with `extra` members (the era's
    /// `resultType` and `_meta`) beside its own.
    pub(crate) fn wire<'a>(&'a self, extra: Option<&'a Value>) -> WireResult<'a> {
        WireResult {
            extra,
            content: &self.content,
            is_error: self.is_error,
            structured: self.structured.as_deref(),
        }
    }
}

/// A [`CallToolResult`] as it goes on the wire: the structured content
/// written out as serialized, never parsed back into a `Value`.
#[derive(Serialize)]
pub(crate) struct WireResult<'a> {
    #[serde(flatten)]
    extra: Option<&'a Value>,
    content: &'a [ContentBlock],
    #[serde(rename = "isError")]
    is_error: bool,
    #[serde(rename = "structuredContent", skip_serializing_if = "Option::is_none")]
    structured: Option<&'a RawValue>,
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
    fn into_call_result(self) -> Result<CallToolResult, ToolError>;
}

impl<T: Serialize + JsonSchema + Send> IntoCallResult for T {
    fn output_schema() -> Option<Schema> {
        Some(root_schema::<T>(Direction::Output))
    }

    fn into_call_result(self) -> Result<CallToolResult, ToolError> {
        // Serialized once: the text block is a copy of the same JSON.
        let raw = serde_json::value::to_raw_value(&self)
            .map_err(|_| ToolError::Internal("the tool's result could not be serialized".into()))?;
        Ok(CallToolResult {
            content: vec![ContentBlock::text(raw.get())],
            structured: Some(raw),
            is_error: false,
        })
    }
}

impl IntoCallResult for Content {
    fn output_schema() -> Option<Schema> {
        None
    }

    fn into_call_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult {
            content: self.0,
            structured: None,
            is_error: false,
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize, JsonSchema)]
    struct Found {
        notes: Vec<String>,
        next: Option<u32>,
    }

    #[test]
    fn structured_content_is_serialized_once_and_sent_as_text_too() {
        let result = Found {
            notes: vec!["a \"quoted\" line\n".into(), "é".into()],
            next: None,
        }
        .into_call_result()
        .unwrap();
        let expected = json!({"notes": ["a \"quoted\" line\n", "é"], "next": null});
        let raw = result.structured.as_deref().expect("structured content");
        assert_eq!(serde_json::from_str::<Value>(raw.get()).unwrap(), expected);
        assert_eq!(result.content, vec![ContentBlock::text(raw.get())]);
        assert_eq!(
            result.to_json(),
            json!({
                "content": [{"type": "text", "text": raw.get()}],
                "structuredContent": expected,
                "isError": false,
            })
        );
    }

    #[test]
    fn the_wire_form_carries_the_eras_members_beside_the_results() {
        let result = Found {
            notes: vec![],
            next: Some(2),
        }
        .into_call_result()
        .unwrap();
        let extra = json!({"resultType": "complete", "_meta": {"k": "v"}});
        let text = serde_json::to_string(&result.wire(Some(&extra))).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({
                "resultType": "complete",
                "_meta": {"k": "v"},
                "content": [{"type": "text", "text": "{\"notes\":[],\"next\":2}"}],
                "structuredContent": {"notes": [], "next": 2},
                "isError": false,
            })
        );
        let error = CallToolResult::error("no such note");
        assert_eq!(
            serde_json::to_value(error.wire(None)).unwrap(),
            json!({"content": [{"type": "text", "text": "no such note"}], "isError": true})
        );
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
