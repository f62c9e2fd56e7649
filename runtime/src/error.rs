use std::borrow::Cow;

/// What a tool handler returns.
pub type ToolResult<T> = Result<T, ToolError>;

/// Why a tool call did not produce a result.
///
/// Every variant is safe to show to the calling model: messages are written
/// by the handler or the framework, never taken from a database driver or an
/// upstream error (which may carry connection strings or credentials).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The arguments were well-formed JSON but not acceptable to the tool;
    /// the message says what to change.
    #[error("invalid arguments: {0}")]
    InvalidArguments(Cow<'static, str>),
    /// The record does not exist, or exists and belongs to someone else: the
    /// two are deliberately indistinguishable.
    #[error("{kind} not found")]
    NotFound {
        /// The record kind from the manifest, e.g. `note`.
        kind: &'static str,
    },
    /// A business rule refused the call; the message is shown to the model.
    #[error("{0}")]
    Rejected(Cow<'static, str>),
    /// A dependency (the database) is unavailable; nothing was changed.
    #[error("the service is temporarily unavailable; nothing was changed, retry shortly")]
    Unavailable,
    /// The client must first answer a question the handler asked with
    /// `elicit` (2026-07-28): return it with `?`, and the call ends with
    /// `input_required` and runs again, from the start, with the answer.
    #[error("the client must answer a question first")]
    InputRequired,
    /// Something failed inside the server. The message is generic on
    /// purpose; details go to the operator's log, not to the caller.
    #[error("internal error: {0}")]
    Internal(Cow<'static, str>),
}

impl ToolError {
    /// A business-rule refusal with a message the model can act on.
    pub fn rejected(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Rejected(message.into())
    }

    /// Arguments that parse but are not acceptable.
    pub fn invalid_arguments(message: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidArguments(message.into())
    }
}
