//! What the audit trail says of a decision: `allowed`, `denied` or
//! `failed`, and why.

/// What happened to a call, as the audit trail records it: a decision
/// (`allowed`, `denied` before the handler ran, `failed` while or after it
/// ran) and its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The handler ran and succeeded.
    Allowed,
    /// Denied: no such tool.
    UnknownTool,
    /// Denied: `arguments` was not an object.
    ArgumentsNotObject,
    /// Denied: no credential for a tool that needs one.
    NoCredential,
    /// Denied: `[clients]` does not give the client this tool.
    ClientNotAllowed,
    /// Denied: a write tool where the environment does not allow writes.
    WritesDisabled,
    /// Denied: the credential lacks the tool's scopes.
    InsufficientScope,
    /// Denied: over a call budget.
    RateLimited,
    /// Denied: the arguments break the input schema.
    InvalidArguments,
    /// Failed: the handler found no such record (or another owner's).
    NotFound,
    /// Failed: a business rule in the handler refused.
    Rejected,
    /// Failed: the handler refused the arguments.
    HandlerInvalidArguments,
    /// Failed inside the server.
    InternalError,
    /// Failed: the handler panicked.
    Panicked,
    /// Failed: the handler overran its timeout.
    Timeout,
    /// Failed: the database could not be used; nothing was changed.
    DatabaseUnavailable,
    /// Failed: the commit failed in flight; its outcome is unknown.
    CommitFailed,
    /// Failed: the caller went away and the call was stopped.
    Cancelled,
    /// Denied before any tool: the credential was not accepted.
    InvalidCredential,
    /// Denied before any tool: the credential could not be checked.
    CredentialUnverifiable,
    /// Denied before any tool: a credential in the URL.
    CredentialInUrl,
    /// Denied before any tool: the peer spent its budget of requests
    /// without an accepted credential.
    PeerOverBudget,
    /// Asked: the tool's confirmation was put to the client.
    ConfirmationAsked,
    /// Asked: the handler's question was put to the client (2026-07-28).
    QuestionAsked,
    /// Accepted: the person confirmed; the call runs (its own record
    /// follows).
    ConfirmationAccepted,
    /// Allowed unconfirmed: the client cannot ask, and the manifest says
    /// `without_elicitation = "allow"` (the call's own record follows).
    Unconfirmed,
    /// Declined: the person said no; nothing ran.
    ConfirmationDeclined,
    /// Declined: the person dismissed the question (or nobody answered
    /// in time); nothing ran.
    ConfirmationCancelled,
    /// Denied: the tool needs a confirmation and the client cannot ask.
    CannotConfirm,
    /// Denied: the request state's seal does not hold.
    StateForged,
    /// Denied: the request state is for another call or caller.
    StateMismatch,
    /// Denied: the request state's time is up.
    StateExpired,
    /// Denied: the request state was answered already.
    StateReused,
    /// Denied: the client's answer is not an elicitation result.
    AnswerMalformed,
}

impl Verdict {
    /// `allowed`, `denied` or `failed`.
    pub(crate) fn decision(self) -> &'static str {
        use Verdict::*;
        match self {
            Allowed => "allowed",
            UnknownTool
            | ArgumentsNotObject
            | NoCredential
            | ClientNotAllowed
            | WritesDisabled
            | InsufficientScope
            | RateLimited
            | InvalidArguments
            | InvalidCredential
            | CredentialUnverifiable
            | CredentialInUrl
            | PeerOverBudget
            | CannotConfirm
            | StateForged
            | StateMismatch
            | StateExpired
            | StateReused
            | AnswerMalformed => "denied",
            ConfirmationAsked | QuestionAsked => "asked",
            ConfirmationAccepted => "accepted",
            Unconfirmed => "unconfirmed",
            ConfirmationDeclined | ConfirmationCancelled => "declined",
            NotFound
            | Rejected
            | HandlerInvalidArguments
            | InternalError
            | Panicked
            | Timeout
            | DatabaseUnavailable
            | CommitFailed
            | Cancelled => "failed",
        }
    }

    /// The reason, in words.
    pub(crate) fn reason(self) -> &'static str {
        use Verdict::*;
        match self {
            Allowed => "ok",
            UnknownTool => "unknown tool",
            ArgumentsNotObject => "arguments not an object",
            NoCredential => "no credential",
            ClientNotAllowed => "client not allowed",
            WritesDisabled => "writes disabled",
            InsufficientScope => "insufficient scope",
            RateLimited => "rate limited",
            InvalidArguments | HandlerInvalidArguments => "invalid arguments",
            NotFound => "not found",
            Rejected => "rejected",
            InternalError => "internal error",
            Panicked => "panicked",
            Timeout => "timeout",
            DatabaseUnavailable => "database unavailable",
            CommitFailed => "commit failed",
            Cancelled => "cancelled",
            InvalidCredential => "invalid credential",
            CredentialUnverifiable => "credential unverifiable",
            CredentialInUrl => "credential in url",
            PeerOverBudget => "peer over budget",
            ConfirmationAsked => "confirmation asked",
            QuestionAsked => "question asked",
            ConfirmationAccepted => "confirmation accepted",
            Unconfirmed => "client cannot confirm; allowed by the manifest",
            ConfirmationDeclined => "confirmation declined",
            ConfirmationCancelled => "confirmation cancelled",
            CannotConfirm => "client cannot confirm",
            StateForged => "request state forged",
            StateMismatch => "request state for another call",
            StateExpired => "request state expired",
            StateReused => "request state reused",
            AnswerMalformed => "answer malformed",
        }
    }

    /// Refused before any tool ran: counted with others like it rather
    /// than written one by one (`tally.rs`).
    pub(crate) fn is_refusal(self) -> bool {
        self.decision() == "denied"
    }
}
