//! What a handler sees and returns: its context ([`ReadCx`], [`WriteCx`]),
//! its input (a `Deserialize + JsonSchema` type, or an [`Owned`] record),
//! its output (structured content, or [`Content`]), and the traits that
//! join them to the generated code. The common ones are re-exported at the
//! crate root; the traits appear here so compiler errors name them.

pub(crate) mod context;
pub(crate) mod def;
pub(crate) mod elicit;
pub(crate) mod entries;
pub(crate) mod input;
pub(crate) mod output;
pub(crate) mod record;

pub use crate::store::Record;
pub use context::{LogLevel, Notifier, ReadCx, ToolContext, WriteCx};
pub use elicit::{Answer, Elicitation};
pub use entries::{PromptArguments, TemplateArg};
pub use input::{NoArguments, ToolInput};
pub use output::{
    CallToolResult, Content, ContentBlock, EmbeddedResource, IntoCallResult, PromptMessage,
    ResourceContents, Role, ToolOutput,
};
pub use record::Owned;
