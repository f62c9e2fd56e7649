//! Every refusal the runtime gives, in one enum: each variant knows its
//! message for the caller (its `Display`), its HTTP status, its JSON-RPC
//! code, its `WWW-Authenticate` challenge, its `Retry-After`, and the
//! reason the audit trail records. Transports and dispatch only choose the
//! variant; this file is where an error becomes a status.

use serde_json::{Value, json};

use crate::audit::Verdict;
use crate::auth::AuthError;
use crate::protocol::{self, Malformed, code};
use mcpgen_spec::{EntryKind, Text};

/// Why a request, or a tool call, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Rejection {
    // The HTTP request itself.
    /// A `Host` outside loopback, the resource's host and the allowlist.
    #[error("forbidden: the Host header is not an allowed host of this server")]
    HostNotAllowed,
    /// An `Origin` outside loopback, the resource's origin and the allowlist.
    #[error("forbidden: the Origin header is not an allowed origin of this server")]
    OriginNotAllowed,
    /// GET or DELETE on the endpoint.
    #[error(
        "method not allowed: this stateless server answers POST only (no GET stream, no sessions to DELETE)"
    )]
    MethodNotAllowed,
    /// A body that is not `application/json`.
    #[error(
        "unsupported media type: send the JSON-RPC message with Content-Type: application/json"
    )]
    UnsupportedMediaType,
    /// An `Accept` without both JSON and SSE.
    #[error("not acceptable: the client must accept both application/json and text/event-stream")]
    NotAcceptable,
    /// An HTTP body over the limit.
    #[error("payload too large: the body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A stdio line over the limit.
    #[error("message too large: a line exceeds {limit} bytes")]
    LineTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A body that did not arrive within the body timeout.
    #[error("request timeout: the request body did not arrive in time; send it whole, at once")]
    BodyTimeout,
    /// A header that may appear once appears more than once.
    #[error("bad request: more than one {0} header")]
    DuplicateHeader(&'static str),
    /// An absolute-form request target naming another host than `Host`.
    #[error("bad request: the request target names another host than the Host header")]
    TargetHostMismatch,
    /// A peer over its budget of requests without an accepted credential.
    #[error(
        "too many requests without an accepted credential from this address: retry in {retry_after} s"
    )]
    PeerOverBudget {
        /// Seconds until the budget allows another request.
        retry_after: u64,
    },

    // The JSON-RPC message and its protocol revision.
    /// Not a JSON-RPC message this server accepts.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// A legacy request naming a revision this server does not speak.
    #[error("bad request: unsupported MCP-Protocol-Version {requested:?}")]
    UnsupportedVersionHeader {
        /// The header's value.
        requested: String,
    },
    /// A 2026-07-28 request whose `_meta` lacks a required member.
    #[error(
        "invalid params: `_meta` must carry `{missing}` (protocol revision {})",
        protocol::MODERN
    )]
    MetaIncomplete {
        /// The missing `_meta` key.
        missing: &'static str,
    },
    /// A 2026-07-28-style request naming a revision this server does not speak.
    #[error("Unsupported protocol version")]
    UnsupportedVersion {
        /// What `_meta` asked for.
        requested: String,
    },
    /// A protocol header missing, or disagreeing with the body.
    #[error("Header mismatch: {0}")]
    HeaderMismatch(HeaderMismatch),
    /// A method this server does not have.
    #[error("method not found: {method}")]
    MethodNotFound {
        /// The method asked for.
        method: String,
        /// Whether the request was 2026-07-28 (answered 404 over HTTP).
        modern: bool,
    },
    /// Params that break the method's shape.
    #[error("invalid params: {0}")]
    InvalidParams(InvalidParams),
    /// `tools/call` of a tool that does not exist.
    #[error("Unknown tool: {name}")]
    UnknownTool {
        /// The name asked for.
        name: String,
    },

    /// `resources/read` of a URI no resource answers, or of a record that
    /// does not exist or belongs to someone else (indistinguishable).
    #[error("Resource not found")]
    ResourceNotFound {
        /// The URI asked for.
        uri: String,
        /// Whether the request was 2026-07-28 (-32602; earlier: -32002).
        modern: bool,
    },
    /// `prompts/get` of a prompt that does not exist.
    #[error("Unknown prompt: {name}")]
    UnknownPrompt {
        /// The name asked for.
        name: String,
    },
    /// A resource or prompt whose handler refused the request.
    #[error("{kind} `{name}`: {message}")]
    EntryFailed {
        /// Resource or prompt.
        kind: EntryKind,
        /// Its name.
        name: Text,
        /// What went wrong, for the caller.
        message: String,
        /// Whether the request's arguments were at fault (-32602).
        invalid_params: bool,
    },

    // Credentials.
    /// A credential in the URL's query.
    #[error("credentials in the URL are refused: send `Authorization: Bearer <token>`")]
    CredentialInUrl,
    /// No credential, where one is needed.
    #[error("authentication required: present an OAuth bearer token or an access key")]
    Unauthenticated {
        /// The scopes of what was asked for (none for a whole list).
        scopes: Vec<Text>,
    },
    /// A credential that was not accepted.
    #[error("invalid credential: the bearer token or access key was not accepted")]
    InvalidCredential,
    /// Credentials cannot be checked (the key store or the JWKS is down).
    #[error("service unavailable: credentials cannot be verified right now; retry shortly")]
    CredentialsUnavailable,

    // The manifest's policy.
    /// The credential lacks some of the entry's scopes.
    #[error("insufficient scope: {kind} `{tool}` requires {}", scopes.join(" "))]
    InsufficientScope {
        /// Tool, resource or prompt.
        kind: EntryKind,
        /// Its name.
        tool: Text,
        /// Every scope it requires.
        scopes: Vec<Text>,
    },
    /// `[clients]` does not give the caller's client this entry.
    #[error(
        "forbidden: client `{client}` may not {} {kind} `{tool}` ([clients] in the manifest)",
        if *kind == EntryKind::Tool { "call" } else { "use" }
    )]
    ClientNotAllowed {
        /// Tool, resource or prompt.
        kind: EntryKind,
        /// The OAuth client.
        client: String,
        /// The tool.
        tool: Text,
    },
    /// A write tool in an environment that does not allow writes.
    #[error(
        "tool `{tool}` writes, and environment `{environment}` does not allow writes{}; nothing was changed",
        if *production_data { " (it runs on production data)" } else { "" }
    )]
    WritesDisabled {
        /// The tool.
        tool: Text,
        /// The environment.
        environment: Text,
        /// Whether the environment runs on production data.
        production_data: bool,
    },
    /// Over a `calls_per_minute` budget.
    #[error("too many calls: retry `{tool}` in {retry_after} s (limits in the manifest)")]
    RateLimited {
        /// The tool.
        tool: Text,
        /// Seconds until the budget allows another call.
        retry_after: u64,
    },
    /// Arguments that break the tool's advertised input schema.
    #[error(
        "invalid arguments for tool `{tool}`: {}. The input schema is in tools/list.",
        problems.join("; ")
    )]
    InvalidArguments {
        /// The tool.
        tool: Text,
        /// Every violation, each with its location in the arguments.
        problems: Vec<String>,
    },

    // The database.
    /// The database cannot be reached; nothing was changed.
    #[error(
        "service unavailable: the database cannot be reached; nothing was changed, retry shortly"
    )]
    Unavailable,
    /// The commit of a write failed in flight: its outcome is unknown.
    #[error(
        "service unavailable: the database failed while saving; whether the change was saved is unknown, check before retrying"
    )]
    CommitUnknown,
    /// The answer could not be produced.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// How a protocol header disagrees with the body (2026-07-28).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderMismatch {
    /// `MCP-Protocol-Version` differs from `_meta`.
    #[error("MCP-Protocol-Version header value '{header}' does not match body value '{body}'")]
    Version {
        /// The header's value.
        header: String,
        /// The body's value.
        body: String,
    },
    /// A required header is absent.
    #[error("{0} header is missing")]
    Missing(&'static str),
    /// `Mcp-Method` differs from the body's method.
    #[error("Mcp-Method header value '{header}' does not match body value '{body}'")]
    Method {
        /// The header's value.
        header: String,
        /// The body's value.
        body: String,
    },
    /// `Mcp-Name` differs from the body's name or URI.
    #[error("Mcp-Name header value '{header}' does not match body value '{body}'")]
    Name {
        /// The header's value, decoded.
        header: String,
        /// The body's value.
        body: String,
    },
    /// `Mcp-Name` in the base64 form, but not valid base64 UTF-8.
    #[error("Mcp-Name header is not valid base64 UTF-8")]
    NameNotBase64,
}

/// Params that break a method's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InvalidParams {
    /// `tools/call` without a string `name`.
    #[error("`name` (the tool to call) must be a string")]
    ToolName,
    /// `resources/read` without a string `uri`.
    #[error("`uri` (the resource to read) must be a string")]
    ResourceUri,
    /// `completion/complete` without a `ref` (`ref/resource` with a `uri`,
    /// or `ref/prompt` with a `name`) and an `argument` with `name` and
    /// `value`.
    #[error(
        "`ref` must be {{\"type\": \"ref/resource\", \"uri\": ...}} or {{\"type\": \"ref/prompt\", \"name\": ...}}, and `argument` {{\"name\": ..., \"value\": ...}}"
    )]
    CompletionReference,
    /// `prompts/get` without a string `name`.
    #[error("`name` (the prompt to get) must be a string")]
    PromptName,
    /// `tools/call` `arguments` that are not an object.
    #[error("`arguments` must be an object")]
    ArgumentsNotObject,
    /// A `cursor` this server did not issue.
    #[error("unknown `cursor`")]
    UnknownCursor,
    /// A `cursor` that is not a string.
    #[error("`cursor` must be a string")]
    CursorNotString,
    /// `logging/setLevel` with an unknown level.
    #[error(
        "`level` must be one of debug, info, notice, warning, error, critical, alert, emergency"
    )]
    LogLevel,
}

impl From<AuthError> for Rejection {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidToken => Rejection::InvalidCredential,
            AuthError::Unavailable => Rejection::CredentialsUnavailable,
        }
    }
}

impl Rejection {
    /// The HTTP status (over stdio, only the JSON-RPC body is sent).
    pub(crate) fn status(&self) -> u16 {
        use Rejection::*;
        match self {
            HostNotAllowed | OriginNotAllowed => 403,
            MethodNotAllowed => 405,
            UnsupportedMediaType => 415,
            NotAcceptable => 406,
            BodyTooLarge { .. } | LineTooLarge { .. } => 413,
            BodyTimeout => 408,
            DuplicateHeader(_) | TargetHostMismatch => 400,
            PeerOverBudget { .. } => 429,
            Malformed(_)
            | UnsupportedVersionHeader { .. }
            | MetaIncomplete { .. }
            | UnsupportedVersion { .. }
            | HeaderMismatch(_) => 400,
            MethodNotFound { modern: true, .. } => 404,
            MethodNotFound { modern: false, .. } | InvalidParams(_) | UnknownTool { .. } => 200,
            ResourceNotFound { .. } | UnknownPrompt { .. } | EntryFailed { .. } => 200,
            CredentialInUrl | Unauthenticated { .. } | InvalidCredential => 401,
            InsufficientScope { .. } | ClientNotAllowed { .. } => 403,
            RateLimited { .. } => 429,
            // Answered as tool results with `isError`.
            WritesDisabled { .. } | InvalidArguments { .. } => 200,
            CredentialsUnavailable | Unavailable | CommitUnknown => 503,
            Internal(_) => 500,
        }
    }

    /// The JSON-RPC error code.
    pub(crate) fn code(&self) -> i64 {
        use Rejection::*;
        match self {
            HostNotAllowed
            | OriginNotAllowed
            | MethodNotAllowed
            | UnsupportedMediaType
            | NotAcceptable
            | BodyTooLarge { .. }
            | LineTooLarge { .. }
            | BodyTimeout
            | DuplicateHeader(_)
            | TargetHostMismatch
            | UnsupportedVersionHeader { .. } => code::INVALID_REQUEST,
            Malformed(crate::protocol::Malformed::NotJson(_)) => code::PARSE_ERROR,
            Malformed(
                crate::protocol::Malformed::ParamsNotObject
                | crate::protocol::Malformed::MetaNotObject,
            ) => code::INVALID_PARAMS,
            Malformed(_) => code::INVALID_REQUEST,
            MetaIncomplete { .. } | InvalidParams(_) | UnknownTool { .. } => code::INVALID_PARAMS,
            ResourceNotFound { modern: false, .. } => code::RESOURCE_NOT_FOUND,
            ResourceNotFound { modern: true, .. } | UnknownPrompt { .. } => code::INVALID_PARAMS,
            EntryFailed {
                invalid_params: true,
                ..
            } => code::INVALID_PARAMS,
            EntryFailed { .. } => code::INTERNAL_ERROR,
            UnsupportedVersion { .. } => code::UNSUPPORTED_VERSION,
            HeaderMismatch(_) => code::HEADER_MISMATCH,
            MethodNotFound { .. } => code::METHOD_NOT_FOUND,
            CredentialInUrl | Unauthenticated { .. } | InvalidCredential => code::UNAUTHORIZED,
            InsufficientScope { .. } | ClientNotAllowed { .. } => code::FORBIDDEN,
            RateLimited { .. } | PeerOverBudget { .. } => code::RATE_LIMITED,
            CredentialsUnavailable | Unavailable | CommitUnknown => code::UNAVAILABLE,
            // Tool results carry no code; internal errors keep JSON-RPC's.
            WritesDisabled { .. } | InvalidArguments { .. } | Internal(_) => code::INTERNAL_ERROR,
        }
    }

    /// Structured detail for the error's `data`.
    pub(crate) fn data(&self) -> Option<Value> {
        match self {
            Rejection::UnsupportedVersionHeader { requested }
            | Rejection::UnsupportedVersion { requested } => {
                Some(json!({"supported": protocol::supported_versions(), "requested": requested}))
            }
            Rejection::InsufficientScope { scopes, .. } => Some(json!({"requiredScopes": scopes})),
            Rejection::ResourceNotFound { uri, .. } => Some(json!({"uri": uri})),
            _ => None,
        }
    }

    /// The `WWW-Authenticate` challenge, naming the protected-resource
    /// metadata at `resource_metadata` (RFC 9728 §5.1).
    pub(crate) fn challenge(&self, resource_metadata: &str) -> Option<String> {
        match self {
            Rejection::CredentialInUrl => Some(format!(
                "Bearer error=\"invalid_request\", error_description=\"send the token in the Authorization header\", resource_metadata=\"{resource_metadata}\""
            )),
            Rejection::Unauthenticated { scopes } => {
                let mut c = format!("Bearer resource_metadata=\"{resource_metadata}\"");
                if !scopes.is_empty() {
                    c.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
                }
                Some(c)
            }
            Rejection::InvalidCredential => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"the access token is invalid\", resource_metadata=\"{resource_metadata}\""
            )),
            Rejection::InsufficientScope { kind, tool, scopes } => {
                let scopes = scopes.join(" ");
                Some(format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{scopes}\", resource_metadata=\"{resource_metadata}\", error_description=\"{kind} {tool} requires {scopes}\""
                ))
            }
            _ => None,
        }
    }

    /// Seconds for `Retry-After`.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        match self {
            Rejection::RateLimited { retry_after, .. }
            | Rejection::PeerOverBudget { retry_after } => Some(*retry_after),
            Rejection::CredentialsUnavailable
            | Rejection::Unavailable
            | Rejection::CommitUnknown => Some(1),
            _ => None,
        }
    }

    /// Whether the refusal is answered as a tool result with `isError`
    /// (so the model can correct itself) rather than a JSON-RPC error.
    pub(crate) fn is_tool_result(&self) -> bool {
        matches!(
            self,
            Rejection::WritesDisabled { .. } | Rejection::InvalidArguments { .. }
        )
    }

    /// What the audit trail records for a tool call refused this way.
    pub(crate) fn verdict(&self) -> Verdict {
        use Rejection::*;
        match self {
            UnknownTool { .. } | UnknownPrompt { .. } => Verdict::UnknownTool,
            ResourceNotFound { .. } => Verdict::NotFound,
            InvalidParams(self::InvalidParams::ArgumentsNotObject) => Verdict::ArgumentsNotObject,
            Unauthenticated { .. } => Verdict::NoCredential,
            ClientNotAllowed { .. } => Verdict::ClientNotAllowed,
            WritesDisabled { .. } => Verdict::WritesDisabled,
            InsufficientScope { .. } => Verdict::InsufficientScope,
            RateLimited { .. } => Verdict::RateLimited,
            InvalidArguments { .. } => Verdict::InvalidArguments,
            Unavailable => Verdict::DatabaseUnavailable,
            CommitUnknown => Verdict::CommitFailed,
            _ => Verdict::InternalError,
        }
    }

    /// The whole JSON-RPC error response for request `id`.
    pub(crate) fn response(&self, id: &Value) -> Value {
        protocol::error_response(id, self.code(), &self.to_string(), self.data())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusals a client acts on must keep their exact shape.
    #[test]
    fn each_refusal_knows_its_status_code_and_challenge() {
        let meta = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
        let cases: Vec<(Rejection, u16, i64, Option<&str>)> = vec![
            (
                Rejection::Unauthenticated {
                    scopes: vec!["a:read".into(), "a:write".into()],
                },
                401,
                -31401,
                Some(
                    "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"a:read a:write\"",
                ),
            ),
            (
                Rejection::Unauthenticated { scopes: vec![] },
                401,
                -31401,
                Some(
                    "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\"",
                ),
            ),
            (
                Rejection::InsufficientScope {
                    kind: EntryKind::Tool,
                    tool: "t".into(),
                    scopes: vec!["a:write".into()],
                },
                403,
                -31403,
                Some(
                    "Bearer error=\"insufficient_scope\", scope=\"a:write\", resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", error_description=\"tool t requires a:write\"",
                ),
            ),
            (Rejection::CredentialsUnavailable, 503, -31503, None),
            (
                Rejection::MethodNotFound {
                    method: "x".into(),
                    modern: true,
                },
                404,
                -32601,
                None,
            ),
            (
                Rejection::MethodNotFound {
                    method: "x".into(),
                    modern: false,
                },
                200,
                -32601,
                None,
            ),
            (
                Rejection::Malformed(Malformed::NotJson("eof".into())),
                400,
                -32700,
                None,
            ),
            (
                Rejection::Malformed(Malformed::MetaNotObject),
                400,
                -32602,
                None,
            ),
        ];
        for (r, status, code, challenge) in cases {
            assert_eq!(r.status(), status, "{r:?}");
            assert_eq!(r.code(), code, "{r:?}");
            assert_eq!(r.challenge(meta).as_deref(), challenge, "{r:?}");
        }
    }

    #[test]
    fn tool_results_and_audit_reasons() {
        let writes = Rejection::WritesDisabled {
            tool: "create".into(),
            environment: "preview".into(),
            production_data: true,
        };
        assert!(writes.is_tool_result());
        assert_eq!(
            writes.to_string(),
            "tool `create` writes, and environment `preview` does not allow writes (it runs on production data); nothing was changed"
        );
        assert_eq!(writes.verdict(), Verdict::WritesDisabled);
        assert_eq!(
            Rejection::RateLimited {
                tool: "t".into(),
                retry_after: 7
            }
            .retry_after(),
            Some(7)
        );
        assert_eq!(
            Rejection::InvalidParams(InvalidParams::ArgumentsNotObject).verdict(),
            Verdict::ArgumentsNotObject
        );
    }
}
