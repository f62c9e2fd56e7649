use crate::error::ToolError;
use crate::spec::Access;

/// Who is calling: the authenticated subject and what it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    subject: String,
    scopes: Vec<String>,
    client_id: Option<String>,
}

impl Caller {
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
        }
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
    caller: &'a Caller,
    access: Access,
}

impl<'a> Invocation<'a> {
    /// A call by `caller` of a tool declared with `access`.
    pub fn new(caller: &'a Caller, access: Access) -> Self {
        Self { caller, access }
    }

    /// The authenticated caller.
    pub fn caller(&self) -> &'a Caller {
        self.caller
    }

    /// The access the called tool was declared with.
    pub fn access(&self) -> Access {
        self.access
    }
}

/// The context a `read` tool's handler receives. It hands out read-only
/// access only: a read tool has no way to write through the framework.
#[derive(Debug, Clone, Copy)]
pub struct ReadCx<'a> {
    inv: Invocation<'a>,
}

impl<'a> ReadCx<'a> {
    /// The authenticated caller.
    pub fn caller(&self) -> &'a Caller {
        self.inv.caller
    }
}

/// The context a `write` tool's handler receives. It exists only for tools
/// declared `access = "write"`.
#[derive(Debug)]
pub struct WriteCx<'a> {
    inv: Invocation<'a>,
}

impl<'a> WriteCx<'a> {
    /// The authenticated caller.
    pub fn caller(&self) -> &'a Caller {
        self.inv.caller
    }
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
