//! The policy: may this caller see and call this tool? One decision for
//! `tools/list` and `tools/call` alike, from the manifest alone: the
//! credential and its scopes, the `[clients]` allowlist, the environment's
//! write switch, and the call budgets. Every refusal is a [`Rejection`].

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::caller::{AuthMethod, Caller};
use mcpgen_spec::{Access, EntryKind, EnvironmentSpec, Guarded, ManifestSpec, Text, ToolSpec};

mod peers;
mod rejection;

pub(crate) use peers::PeerBudget;
pub(crate) use rejection::{HeaderMismatch, InvalidParams, Rejection};

/// The manifest's policy, in force for one running server.
pub(crate) struct Policy {
    manifest: &'static ManifestSpec,
    environment: EnvironmentSpec,
    /// `[limits] calls_per_minute`, per subject across all tools.
    global: Option<Limiter>,
    /// `[tools.*] calls_per_minute`, by the tool's registry index.
    per_tool: Vec<Option<Limiter>>,
    /// `[resources.*]` and `[prompts.*] calls_per_minute`, by `kind:name`.
    per_entry: std::collections::BTreeMap<String, Limiter>,
    /// Each peer's budget of requests without an accepted credential.
    pub(crate) peers: PeerBudget,
}

type Limiter = DefaultKeyedRateLimiter<String>;

/// The `[clients]` entry for every client the manifest does not name.
pub(crate) const ANY_CLIENT: &str = "*";

impl Policy {
    /// The policy of `manifest` in `environment`, for `tools` (in registry
    /// order).
    pub(crate) fn new<'t>(
        manifest: &'static ManifestSpec,
        environment: EnvironmentSpec,
        tools: impl IntoIterator<Item = &'t ToolSpec>,
        peer_budget_per_minute: u32,
    ) -> Self {
        Self {
            peers: PeerBudget::new(peer_budget_per_minute),
            manifest,
            global: manifest.limits.calls_per_minute.and_then(per_minute),
            per_tool: tools
                .into_iter()
                .map(|t| t.calls_per_minute.and_then(per_minute))
                .collect(),
            per_entry: std::collections::BTreeMap::new(),
            environment,
        }
    }

    /// The budgets of `entries` (resources and prompts) as well.
    pub(crate) fn with_entry_budgets<'t, G: Guarded + 't>(
        mut self,
        entries: impl IntoIterator<Item = &'t G>,
    ) -> Self {
        for e in entries {
            if let Some(l) = e.calls_per_minute().and_then(per_minute) {
                self.per_entry
                    .insert(format!("{}:{}", G::KIND, e.name()), l);
            }
        }
        self
    }

    /// The environment in force.
    pub(crate) fn environment(&self) -> &EnvironmentSpec {
        &self.environment
    }

    /// Whether `caller` (`None`: no credential) may see and use `entry` (a
    /// tool, resource or prompt): public, or every scope granted; its
    /// client allowed by `[clients]`; not a write where the environment
    /// forbids writes.
    pub(crate) fn permits<G: Guarded>(
        &self,
        entry: &G,
        caller: Option<&Caller>,
    ) -> Result<(), Rejection> {
        if !entry.public() {
            let Some(caller) = caller else {
                return Err(self.unauthenticated());
            };
            // An entry with no scopes that is not public (the built-ins)
            // needs only an authenticated caller.
            if !granted(caller, entry.scopes()) {
                return Err(Rejection::InsufficientScope {
                    kind: G::KIND,
                    tool: entry.name().clone(),
                    scopes: entry.scopes().to_vec(),
                });
            }
        }
        // Built-ins only describe the caller and the server: every
        // authenticated client may use them.
        if !entry.is_builtin()
            && let Some(caller) = caller
            && !self.client_allows(caller, G::KIND, entry.name())
        {
            return Err(Rejection::ClientNotAllowed {
                kind: G::KIND,
                client: caller.client_id().unwrap_or("(none)").to_owned(),
                tool: entry.name().clone(),
            });
        }
        if entry.access() == Access::Write && !self.environment.writes {
            return Err(Rejection::WritesDisabled {
                tool: entry.name().clone(),
                environment: self.environment.name.clone(),
                production_data: self.environment.shares_production_data(),
            });
        }
        Ok(())
    }

    /// The answer to a caller without a credential, whatever it asked for:
    /// the same whether the tool exists or not (nothing to enumerate), its
    /// challenge naming every scope the server declares (its metadata
    /// publishes them anyway).
    pub(crate) fn unauthenticated(&self) -> Rejection {
        Rejection::Unauthenticated {
            scopes: self
                .manifest
                .scopes
                .iter()
                .map(|s| s.name.clone())
                .collect(),
        }
    }

    /// `[clients]`: when the manifest declares clients, an OAuth client
    /// (a token's `client_id`, or none) must be named there, or fall under
    /// the `"*"` entry; without either it gets nothing. An access key
    /// answers to its own scopes, and to the entry of its client label
    /// when `[clients]` names it.
    fn client_allows(&self, caller: &Caller, kind: EntryKind, name: &str) -> bool {
        if self.manifest.clients.is_empty() {
            return true;
        }
        let named = caller.client_id().and_then(|c| self.manifest.client(c));
        let entry = match (named, caller.method()) {
            (Some(entry), _) => Some(entry),
            (None, AuthMethod::AccessKey) => return true,
            (None, _) => self.manifest.client(ANY_CLIENT),
        };
        entry.is_some_and(|e| e.allows_entry(kind, name))
    }

    /// Whether an anonymous caller may list the tools at all: only when
    /// some tool is public (otherwise the answer is the 401 challenge that
    /// starts OAuth).
    pub(crate) fn may_list_anonymously<'t, G: Guarded + 't>(
        &self,
        entries: impl IntoIterator<Item = &'t G>,
    ) -> Result<(), Rejection> {
        if entries.into_iter().any(|t| t.public()) {
            Ok(())
        } else {
            Err(self.unauthenticated())
        }
    }

    /// Count a use of a resource or prompt against the caller's budgets
    /// (its own `calls_per_minute` and `[limits]`); refuse it when one is
    /// spent.
    pub(crate) fn within_entry_budget<G: Guarded>(
        &self,
        entry: &G,
        caller: Option<&Caller>,
    ) -> Result<(), Rejection> {
        let subject = caller.map_or_else(String::new, |c| c.subject().to_owned());
        let spent = |limiter: Option<&Limiter>| limiter.and_then(|l| l.check_key(&subject).err());
        let over_global = spent(self.global.as_ref());
        let over_entry = spent(self.per_entry.get(&format!("{}:{}", G::KIND, entry.name())));
        match over_global.or(over_entry) {
            None => Ok(()),
            Some(not_until) => {
                let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
                Err(Rejection::RateLimited {
                    tool: entry.name().clone(),
                    retry_after: not_until.wait_time_from(now).as_secs() + 1,
                })
            }
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

#[cfg(test)]
mod tests;
