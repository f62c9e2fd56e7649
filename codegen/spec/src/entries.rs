//! What the manifest says of the entries a caller may use besides the
//! server itself: their kind, the one view the policy takes of them
//! ([`Guarded`]), and the resources and prompts (tools are in the crate
//! root, with their annotations).

use serde::{Deserialize, Serialize};

use super::{Access, List, Text, ToolSpec, UnknownWord};
use std::fmt;

spelled! {
    /// What a manifest entry guards: a tool, a resource or a prompt.
    pub enum EntryKind {
        /// `[tools.<name>]`.
        Tool = "tool",
        /// `[resources.<name>]`.
        Resource = "resource",
        /// `[prompts.<name>]`.
        Prompt = "prompt",
    }
}

/// What the policy needs to know of any entry a caller may use: the same
/// decision (scopes, public, `[clients]`, environment) for tools,
/// resources and prompts.
pub trait Guarded {
    /// Which kind of entry.
    const KIND: EntryKind;
    /// Its name.
    fn name(&self) -> &Text;
    /// Scopes a caller needs, all of them.
    fn scopes(&self) -> &[Text];
    /// Usable without credentials.
    fn public(&self) -> bool;
    /// Whether using it reads or writes.
    fn access(&self) -> Access;
    /// Whether the runtime provides it (every authenticated caller may).
    fn is_builtin(&self) -> bool;
    /// Uses per minute per subject, if limited.
    fn calls_per_minute(&self) -> Option<u64>;
    /// The timeout in milliseconds, if set.
    fn timeout_ms(&self) -> Option<u64>;
}

/// One entry of `[resources]`: data a client reads by URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McpResourceSpec {
    /// The resource's name, as listed.
    pub name: Text,
    /// Human title.
    pub title: Option<Text>,
    /// What it holds, for the model.
    pub description: Text,
    /// The MIME type of its contents.
    pub mime_type: Option<Text>,
    /// The fixed URI, or the RFC 6570 template when `templated`.
    pub uri: Text,
    /// Whether `uri` is a template (`uri_template` in the manifest).
    pub templated: bool,
    /// Scopes a caller needs, all of them; empty only when public.
    pub scopes: List<Text>,
    /// Readable without credentials.
    pub public: bool,
    /// The record kind whose ownership rule applies to the template's
    /// variable, if any.
    pub record: Option<Text>,
    /// Where it is declared, e.g. `mcp-manifest.toml:60:12`.
    pub declared_at: Text,
    /// Reads per minute per subject, if limited.
    pub calls_per_minute: Option<u64>,
    /// The read timeout in milliseconds, if set.
    pub timeout_ms: Option<u64>,
}

/// One entry of `[prompts]`: a message template a client gets by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromptSpec {
    /// The prompt's name.
    pub name: Text,
    /// Human title.
    pub title: Option<Text>,
    /// What it is for.
    pub description: Text,
    /// Scopes a caller needs, all of them; empty only when public.
    pub scopes: List<Text>,
    /// Usable without credentials.
    pub public: bool,
    /// Where it is declared.
    pub declared_at: Text,
    /// Gets per minute per subject, if limited.
    pub calls_per_minute: Option<u64>,
    /// The get timeout in milliseconds, if set.
    pub timeout_ms: Option<u64>,
}

impl Guarded for ToolSpec {
    const KIND: EntryKind = EntryKind::Tool;
    fn name(&self) -> &Text {
        &self.name
    }
    fn scopes(&self) -> &[Text] {
        &self.scopes
    }
    fn public(&self) -> bool {
        self.public
    }
    fn access(&self) -> Access {
        self.access
    }
    fn is_builtin(&self) -> bool {
        ToolSpec::is_builtin(self)
    }
    fn calls_per_minute(&self) -> Option<u64> {
        self.calls_per_minute
    }
    fn timeout_ms(&self) -> Option<u64> {
        self.timeout_ms
    }
}

/// Resources and prompts only read, and none is built in.
macro_rules! read_only_entry {
    ($spec:ty, $kind:expr) => {
        impl Guarded for $spec {
            const KIND: EntryKind = $kind;
            fn name(&self) -> &Text {
                &self.name
            }
            fn scopes(&self) -> &[Text] {
                &self.scopes
            }
            fn public(&self) -> bool {
                self.public
            }
            fn access(&self) -> Access {
                Access::Read
            }
            fn is_builtin(&self) -> bool {
                false
            }
            fn calls_per_minute(&self) -> Option<u64> {
                self.calls_per_minute
            }
            fn timeout_ms(&self) -> Option<u64> {
                self.timeout_ms
            }
        }
    };
}

read_only_entry!(McpResourceSpec, EntryKind::Resource);
read_only_entry!(PromptSpec, EntryKind::Prompt);
