//! What a handler receives: [`ReadCx`] or [`WriteCx`], built from the
//! runtime's [`Invocation`] of one call. A read context hands out only
//! read-only database access; a write context exists only for write tools.

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::caller::Caller;
use crate::environment::ServerFacts;
use crate::error::ToolError;
use crate::handler::elicit::{Answer, Asker, Elicitation, Unanswered};
use crate::store::{Conn, OwnedQuery, Record, Tx};
use mcpgen_spec::{Access, RecordSpec};

/// Everything the runtime knows about one tool call, before it is handed to
/// the handler as a [`ReadCx`] or a [`WriteCx`].
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    caller: Option<&'a Caller>,
    access: Access,
    notifier: Option<&'a Notifier>,
    facts: Option<&'a ServerFacts>,
    tx: Option<&'a Tx>,
    asker: Option<&'a Asker>,
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
            asker: None,
        }
    }

    /// Questions go to the client through `asker`.
    pub(crate) fn with_asker(mut self, asker: &'a Asker) -> Self {
        self.asker = Some(asker);
        self
    }

    /// Ask the person using the client.
    async fn elicit(&self, question: &Elicitation) -> Result<Answer, ToolError> {
        let Some(asker) = self.asker else {
            return Err(cannot_ask());
        };
        asker.ask(None, question).await.map_err(|why| match why {
            Unanswered::InputRequired => ToolError::InputRequired,
            Unanswered::Unable => cannot_ask(),
            Unanswered::Malformed => ToolError::invalid_arguments(
                "the client's answer to the question is not an elicitation result \
                     (`{\"action\": \"accept\" | \"decline\" | \"cancel\", \"content\": {...}}`)",
            ),
        })
    }

    /// Run inside `tx`.
    pub(crate) fn with_tx(mut self, tx: &'a Tx) -> Self {
        self.tx = Some(tx);
        self
    }

    fn tx(&self) -> Result<&'a Tx, ToolError> {
        self.tx
            .ok_or_else(|| ToolError::Internal("this server has no database attached".into()))
    }

    /// The ownership rule of record kind `kind`.
    fn record_spec(&self, kind: &str) -> Result<&'a RecordSpec, ToolError> {
        self.facts
            .and_then(|f| f.manifest.record(kind))
            .ok_or_else(|| ToolError::Internal("unknown record kind".into()))
    }

    /// A query over the caller's own records of kind `R`.
    pub(crate) fn owned<R: Record>(&self) -> Result<OwnedQuery<'a, R>, ToolError> {
        Ok(OwnedQuery::new(
            self.tx()?,
            self.record_spec(R::KIND)?,
            self.caller().subject(),
        ))
    }

    /// A connection inside the call's transaction.
    async fn conn(&self) -> Result<Conn<'a>, ToolError> {
        self.tx()?.conn().await
    }

    /// Attach what the running server knows about itself (for built-ins).
    pub(crate) fn with_facts(mut self, facts: &'a ServerFacts) -> Self {
        self.facts = Some(facts);
        self
    }

    /// What the running server knows about itself, when it is serving.
    pub(crate) fn facts(&self) -> Option<&'a ServerFacts> {
        self.facts
    }

    /// The authenticated caller, or the anonymous one.
    pub fn caller(&self) -> &'a Caller {
        self.caller.unwrap_or(Caller::anonymous_ref())
    }

    /// The access the called tool was declared with.
    pub fn access(&self) -> Access {
        self.access
    }
}

/// The refusal of a question the client cannot put to a person.
fn cannot_ask() -> ToolError {
    ToolError::rejected(
        "this tool asks the person using the client a question, and this client cannot ask one \
         (it did not declare the elicitation capability); use a client that supports elicitation",
    )
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
        pub async fn conn(&self) -> Result<Conn<'a>, ToolError> {
            self.inv.conn().await
        }

        /// A query over the caller's own records of kind `R`: the owner
        /// condition is built in (as `$1`), so other subjects' records never
        /// come back.
        pub fn select_owned<R: Record>(&self) -> Result<OwnedQuery<'a, R>, ToolError> {
            self.inv.owned::<R>()
        }

        /// Ask the person using the client (elicitation) and wait for the
        /// answer. Return the error with `?`: with a 2026-07-28 client the
        /// first run ends there ([`ToolError::InputRequired`]) and the call
        /// runs again, from the start, once the client has the answer; with
        /// a client that cannot ask, the call fails with a message saying so.
        pub async fn elicit(&self, question: Elicitation) -> Result<Answer, ToolError> {
            self.inv.elicit(&question).await
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
