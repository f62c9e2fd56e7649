//! The policy: may this caller see and call this tool? One decision for
//! `tools/list` and `tools/call` alike, from the manifest alone: the
//! credential and its scopes, the `[clients]` allowlist, the environment's
//! write switch, and the call budgets. Every refusal is a [`Rejection`].

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::caller::Caller;
use mcpgen_spec::{Access, EnvironmentSpec, ManifestSpec, Text, ToolSpec};

mod rejection;

pub(crate) use rejection::{HeaderMismatch, InvalidParams, Rejection};

/// The manifest's policy, in force for one running server.
pub(crate) struct Policy {
    manifest: &'static ManifestSpec,
    environment: EnvironmentSpec,
    /// `[limits] calls_per_minute`, per subject across all tools.
    global: Option<Limiter>,
    /// `[tools.*] calls_per_minute`, by the tool's registry index.
    per_tool: Vec<Option<Limiter>>,
}

type Limiter = DefaultKeyedRateLimiter<String>;

impl Policy {
    /// The policy of `manifest` in `environment`, for `tools` (in registry
    /// order).
    pub(crate) fn new<'t>(
        manifest: &'static ManifestSpec,
        environment: EnvironmentSpec,
        tools: impl IntoIterator<Item = &'t ToolSpec>,
    ) -> Self {
        Self {
            manifest,
            global: manifest.limits.calls_per_minute.and_then(per_minute),
            per_tool: tools
                .into_iter()
                .map(|t| t.calls_per_minute.and_then(per_minute))
                .collect(),
            environment,
        }
    }

    /// The environment in force.
    pub(crate) fn environment(&self) -> &EnvironmentSpec {
        &self.environment
    }

    /// Whether `caller` (`None`: no credential) may see and call `tool`:
    /// public, or every scope granted; a client `[clients]` allows it; not
    /// a write tool where the environment forbids writes.
    pub(crate) fn permits(
        &self,
        tool: &ToolSpec,
        caller: Option<&Caller>,
    ) -> Result<(), Rejection> {
        if !tool.public {
            let Some(caller) = caller else {
                return Err(Rejection::Unauthenticated {
                    scopes: tool.scopes.to_vec(),
                });
            };
            // A tool with no scopes that is not public (the built-ins)
            // needs only an authenticated caller.
            if !granted(caller, &tool.scopes) {
                return Err(Rejection::InsufficientScope {
                    tool: tool.name.clone(),
                    scopes: tool.scopes.to_vec(),
                });
            }
        }
        // Built-ins only describe the caller and the server: every
        // authenticated client may use them.
        if !tool.is_builtin()
            && let Some(client) = caller.and_then(Caller::client_id)
            && let Some(entry) = self.manifest.client(client)
            && !entry.allows(&tool.name)
        {
            return Err(Rejection::ClientNotAllowed {
                client: client.to_owned(),
                tool: tool.name.clone(),
            });
        }
        if tool.access == Access::Write && !self.environment.writes {
            return Err(Rejection::WritesDisabled {
                tool: tool.name.clone(),
                environment: self.environment.name.clone(),
                production_data: self.environment.shares_production_data(),
            });
        }
        Ok(())
    }

    /// Whether an anonymous caller may list the tools at all: only when
    /// some tool is public (otherwise the answer is the 401 challenge that
    /// starts OAuth).
    pub(crate) fn may_list_anonymously<'t>(
        &self,
        tools: impl IntoIterator<Item = &'t ToolSpec>,
    ) -> Result<(), Rejection> {
        if tools.into_iter().any(|t| t.public) {
            Ok(())
        } else {
            Err(Rejection::Unauthenticated { scopes: Vec::new() })
        }
    }

    /// Count a call of tool `index` against the caller's budgets; refuse
    /// it when a budget is spent.
    pub(crate) fn within_budget(
        &self,
        index: usize,
        tool: &ToolSpec,
        caller: Option<&Caller>,
    ) -> Result<(), Rejection> {
        let subject = caller.map_or_else(String::new, |c| c.subject().to_owned());
        // Both budgets count the call, whichever refuses it.
        let spent = |limiter: Option<&Limiter>| limiter.and_then(|l| l.check_key(&subject).err());
        let over_global = spent(self.global.as_ref());
        let over_tool = spent(self.per_tool.get(index).and_then(Option::as_ref));
        let not_until = over_global.or(over_tool);
        match not_until {
            None => Ok(()),
            Some(not_until) => {
                let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
                Err(Rejection::RateLimited {
                    tool: tool.name.clone(),
                    retry_after: not_until.wait_time_from(now).as_secs() + 1,
                })
            }
        }
    }
}

/// Whether `caller` was granted every scope in `required` (its scopes are
/// sorted, see [`Caller::scopes`]).
fn granted(caller: &Caller, required: &[Text]) -> bool {
    required.iter().all(|s| {
        caller
            .scopes()
            .binary_search_by(|g| g.as_str().cmp(s))
            .is_ok()
    })
}

fn per_minute(n: u64) -> Option<Limiter> {
    let n = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX))?;
    Some(RateLimiter::keyed(Quota::per_minute(n)))
}
