use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error::ToolError;
use crate::spec::Access;

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// No credential (public tools only).
    None,
    /// An mcpgen access key.
    AccessKey,
    /// An OAuth access token (JWT) from the authorization server.
    OAuth,
    /// A development token minted locally by `token mint`.
    DevToken,
}

/// Who is calling: the authenticated subject and what it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    subject: String,
    scopes: Vec<String>,
    client_id: Option<String>,
    method: AuthMethod,
    credential_id: Option<String>,
    expires_at: Option<i64>,
}

static ANONYMOUS: Caller = Caller::anonymous();

impl Caller {
    /// Nobody: the caller of a public tool that presented no credential.
    pub const fn anonymous() -> Self {
        Self {
            subject: String::new(),
            scopes: Vec::new(),
            client_id: None,
            method: AuthMethod::None,
            credential_id: None,
            expires_at: None,
        }
    }

    /// Whether this is the anonymous caller of a public tool.
    pub fn is_anonymous(&self) -> bool {
        self.subject.is_empty()
    }

    /// A caller with a subject, its granted scopes and an optional client id.
    pub fn new(
        subject: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
        client_id: Option<String>,
    ) -> Self {
        let mut scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        scopes.sort();
        scopes.dedup();
        Self {
            subject: subject.into(),
            scopes,
            client_id,
            method: AuthMethod::OAuth,
            credential_id: None,
            expires_at: None,
        }
    }

    /// Record how the caller authenticated, which credential it used (an
    /// access key's id, a token's `jti`) and when that credential expires
    /// (Unix seconds).
    pub fn with_credential(
        mut self,
        method: AuthMethod,
        credential_id: Option<String>,
        expires_at: Option<i64>,
    ) -> Self {
        self.method = method;
        self.credential_id = credential_id;
        self.expires_at = expires_at;
        self
    }

    /// How the caller authenticated.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// The credential's id: an access key's id or a token's `jti`. Never a secret.
    pub fn credential_id(&self) -> Option<&str> {
        self.credential_id.as_deref()
    }

    /// When the credential expires, in Unix seconds.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// The authenticated subject (the token's `sub`, or an access key's owner).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Granted scopes, sorted.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The OAuth client that presented the credential, if known.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// Whether every scope in `required` was granted.
    pub fn has_scopes(&self, required: &[&str]) -> bool {
        required
            .iter()
            .all(|s| self.scopes.binary_search_by(|g| g.as_str().cmp(s)).is_ok())
    }
}

/// Everything the runtime knows about one tool call, before it is handed to
/// the handler as a [`ReadCx`] or a [`WriteCx`].
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    caller: Option<&'a Caller>,
    access: Access,
    notifier: Option<&'a Notifier>,
    facts: Option<&'a crate::builtin::ServerFacts>,
    tx: Option<&'a crate::store::Tx>,
}

impl<'a> Invocation<'a> {
    /// A call by `caller` (`None`: anonymous, public tools only) of a tool
    /// declared with `access`, streaming notifications to `notifier`.
    pub fn new(caller: Option<&'a Caller>, access: Access, notifier: Option<&'a Notifier>) -> Self {
        Self {
            caller,
            access,
            notifier,
            facts: None,
            tx: None,
        }
    }

    /// Run inside `tx`.
    pub(crate) fn with_tx(mut self, tx: &'a crate::store::Tx) -> Self {
        self.tx = Some(tx);
        self
    }

    pub(crate) fn tx(&self) -> Result<&'a crate::store::Tx, ToolError> {
        self.tx
            .ok_or_else(|| ToolError::Internal("this server has no database attached".into()))
    }

    /// The ownership rule of record kind `kind`.
    pub(crate) fn record_spec(&self, kind: &str) -> Result<crate::spec::RecordSpec, ToolError> {
        self.facts
            .and_then(|f| f.records.iter().find(|r| r.kind == kind).copied())
            .ok_or_else(|| ToolError::Internal("unknown record kind".into()))
    }

    /// Attach what the running server knows about itself (for built-ins).
    pub fn with_facts(mut self, facts: &'a crate::builtin::ServerFacts) -> Self {
        self.facts = Some(facts);
        self
    }

    /// What the running server knows about itself, when it is serving.
    pub fn facts(&self) -> Option<&'a crate::builtin::ServerFacts> {
        self.facts
    }

    /// The authenticated caller, or the anonymous one.
    pub fn caller(&self) -> &'a Caller {
        self.caller.unwrap_or(&ANONYMOUS)
    }

    /// The access the called tool was declared with.
    pub fn access(&self) -> Access {
        self.access
    }
}

/// Log levels of `notifications/message` (RFC 5424 severities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Debug detail.
    Debug,
    /// Informational.
    Info,
    /// Normal but significant.
    Notice,
    /// Warning.
    Warning,
    /// Error.
    Error,
    /// Critical.
    Critical,
    /// Action must be taken immediately.
    Alert,
    /// System is unusable.
    Emergency,
}

impl LogLevel {
    /// Parse the MCP spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "debug" => Self::Debug,
            "info" => Self::Info,
            "notice" => Self::Notice,
            "warning" => Self::Warning,
            "error" => Self::Error,
            "critical" => Self::Critical,
            "alert" => Self::Alert,
            "emergency" => Self::Emergency,
            _ => return None,
        })
    }
}

/// Where a handler's progress and log notifications go while its request
/// is open. Present only when the transport can deliver them (an SSE
/// response, stdio) and the client asked for them.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Value>,
    progress_token: Option<Value>,
    log_level: Option<LogLevel>,
    logger: &'static str,
}

impl Notifier {
    /// Notifications for one request.
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Value>,
        progress_token: Option<Value>,
        log_level: Option<LogLevel>,
        logger: &'static str,
    ) -> Self {
        Self {
            tx,
            progress_token,
            log_level,
            logger,
        }
    }

    fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = &self.progress_token else {
            return;
        };
        let mut params = json!({"progressToken": token, "progress": progress});
        if let Some(total) = total {
            params["total"] = json!(total);
        }
        if let Some(message) = message {
            params["message"] = json!(message);
        }
        // A closed receiver means the client went away: nothing to do.
        let _ = self.tx.send(json!({
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": params,
        }));
    }

    fn log(&self, level: LogLevel, data: Value) {
        match self.log_level {
            Some(min) if level >= min => {
                let _ = self.tx.send(json!({
                    "jsonrpc": "2.0",
                    "method": "notifications/message",
                    "params": {"level": level, "logger": self.logger, "data": data},
                }));
            }
            _ => {}
        }
    }
}

/// What both contexts offer: the caller, progress and logging.
macro_rules! common_context_methods {
    () => {
        /// The authenticated caller (the anonymous one for public tools).
        pub fn caller(&self) -> &'a Caller {
            self.inv.caller()
        }

        /// Report progress to the client, if it asked for progress
        /// (`_meta.progressToken`). `progress` must increase from call to call.
        pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
            if let Some(n) = self.inv.notifier {
                n.progress(progress, total, message);
            }
        }

        /// A connection inside this call's transaction (read-only for read
        /// tools), for sqlx queries: `sqlx::query(..).fetch_all(&mut *conn)`.
        pub async fn conn(&self) -> Result<crate::store::Conn<'a>, ToolError> {
            self.inv.tx()?.conn().await
        }

        /// A query over the caller's own records of kind `R`: the owner
        /// condition is built in (as `$1`), so other subjects' records never
        /// come back.
        pub fn select_owned<R>(&self) -> Result<crate::store::OwnedQuery<'a, R>, ToolError>
        where
            R: crate::record::Record,
        {
            let spec = self.inv.record_spec(R::KIND)?;
            Ok(crate::store::OwnedQuery::new(
                self.inv.tx()?,
                spec,
                self.inv.caller().subject(),
            ))
        }

        /// Send a log message to the client, if it asked for logs at this
        /// level or above.
        pub fn log(&self, level: LogLevel, data: impl Serialize) {
            if let Some(n) = self.inv.notifier {
                n.log(level, serde_json::to_value(data).unwrap_or(Value::Null));
            }
        }
    };
}

/// The context a `read` tool's handler receives. It hands out read-only
/// access only: a read tool has no way to write through the framework.
#[derive(Debug, Clone, Copy)]
pub struct ReadCx<'a> {
    inv: Invocation<'a>,
}

impl<'a> ReadCx<'a> {
    common_context_methods!();
}

/// The context a `write` tool's handler receives. It exists only for tools
/// declared `access = "write"`.
#[derive(Debug)]
pub struct WriteCx<'a> {
    inv: Invocation<'a>,
}

impl<'a> WriteCx<'a> {
    common_context_methods!();
}

/// The contexts a tool handler may take as its first argument after `&self`.
///
/// Implemented by [`ReadCx`] and [`WriteCx`] only. The generated code checks
/// at compile time that the context a handler takes matches the access its
/// manifest entry declares.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an mcpgen tool context",
    label = "expected `ReadCx<'_>` or `WriteCx<'_>` here",
    note = "the first argument after `&self` is `cx: ReadCx<'_>` for a tool declared `access = \"read\"`, or `cx: WriteCx<'_>` for one declared `access = \"write\"`"
)]
pub trait ToolContext<'a>: Sized + Send + 'a {
    /// The access this context grants.
    const ACCESS: Access;

    /// Build the context for one call. Fails if the call's declared access
    /// does not match (the registry never lets that happen).
    fn from_invocation(inv: Invocation<'a>) -> Result<Self, ToolError>;
}

impl<'a> ToolContext<'a> for ReadCx<'a> {
    const ACCESS: Access = Access::Read;

    fn from_invocation(inv: Invocation<'a>) -> Result<Self, ToolError> {
        match inv.access {
            Access::Read => Ok(Self { inv }),
            Access::Write => Err(ToolError::Internal(
                "read context requested for a write tool".into(),
            )),
        }
    }
}

impl<'a> ToolContext<'a> for WriteCx<'a> {
    const ACCESS: Access = Access::Write;

    fn from_invocation(inv: Invocation<'a>) -> Result<Self, ToolError> {
        match inv.access {
            Access::Write => Ok(Self { inv }),
            Access::Read => Err(ToolError::Internal(
                "write context requested for a read tool".into(),
            )),
        }
    }
}
