//! Refusals counted instead of written one by one: requests refused before
//! any tool ran (no credential, a credential that failed, a peer over its
//! budget, a scope, a client, a budget, an unknown tool) are grouped by
//! peer, reason and (for accepted credentials) credential. The first of a
//! group in a window is written at once; the rest of the window become one
//! record carrying their count when the window ends. So a flood of
//! refusals costs the audit table and the log a few rows a minute, and
//! every refusal is still counted. Calls that reach a tool are never
//! grouped: each is a record of its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use super::record::AuditRecord;

/// How long a group collects its refusals before they are written.
pub const TALLY_WINDOW: Duration = Duration::from_secs(60);

/// Groups open at once, at most: beyond, every group is written early.
const MAX_GROUPS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Group {
    peer: String,
    reason: &'static str,
    credential: String,
}

#[derive(Debug)]
struct Counted {
    /// The group's first refusal of the window, already written.
    first: AuditRecord,
    /// Refusals since, not yet written.
    more: u64,
}

/// The open groups.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    groups: Mutex<HashMap<Group, Counted>>,
    ticking: AtomicBool,
}

impl Tally {
    /// Count `record`. Returns it when it opens a group (write it now),
    /// and any groups written early because there were too many.
    pub(crate) fn count(
        &self,
        record: AuditRecord,
        grouped_by_credential: bool,
    ) -> (Option<AuditRecord>, Vec<AuditRecord>) {
        let group = Group {
            peer: record.peer.clone(),
            reason: record.reason,
            credential: if grouped_by_credential {
                record.credential.clone()
            } else {
                String::new()
            },
        };
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = groups.get_mut(&group) {
            c.more += 1;
            return (None, Vec::new());
        }
        let spilled = if groups.len() >= MAX_GROUPS {
            drain(&mut groups)
        } else {
            Vec::new()
        };
        groups.insert(
            group,
            Counted {
                first: record.clone(),
                more: 0,
            },
        );
        (Some(record), spilled)
    }

    /// Close every group: the records of the refusals counted since each
    /// group's first.
    pub(crate) fn close_all(&self) -> Vec<AuditRecord> {
        drain(&mut self.groups.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Start closing the groups every window, once, on the current tokio
    /// runtime (none outside one: then [`Tally::close_all`] at flush does).
    pub(crate) fn tick(self: &Arc<Self>, write: impl Fn(AuditRecord) + Send + Sync + 'static) {
        if self.ticking.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.ticking.store(false, Ordering::Release);
            return;
        };
        let tally: Weak<Self> = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut every = tokio::time::interval(TALLY_WINDOW);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(tally) = tally.upgrade() else { break };
                for r in tally.close_all() {
                    write(r);
                }
            }
        });
    }
}

fn drain(groups: &mut HashMap<Group, Counted>) -> Vec<AuditRecord> {
    groups
        .drain()
        .filter(|(_, c)| c.more > 0)
        .map(|(_, c)| c.first.repeated(c.more))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(peer: &str, reason: &'static str, credential: &str, tool: &str) -> AuditRecord {
        AuditRecord {
            request_id: "r".into(),
            at: 1,
            transport: "http",
            peer: peer.into(),
            credential: credential.into(),
            subject: String::new(),
            client: String::new(),
            tool: tool.into(),
            scopes: String::new(),
            decision: "denied",
            reason,
            count: 1,
            duration_us: 0,
        }
    }

    #[test]
    fn the_first_refusal_is_written_and_the_rest_counted_once() {
        let tally = Tally::default();
        let (first, spilled) =
            tally.count(refusal("198.51.100.7", "no credential", "", "a"), false);
        assert!(first.is_some() && spilled.is_empty());
        for i in 0..999 {
            let tool = format!("look-alike-{i}");
            let (again, _) =
                tally.count(refusal("198.51.100.7", "no credential", "", &tool), false);
            assert!(again.is_none(), "counted, not written");
        }
        // Another peer, another reason: groups of their own.
        assert!(
            tally
                .count(refusal("198.51.100.8", "no credential", "", "a"), false)
                .0
                .is_some()
        );
        assert!(
            tally
                .count(
                    refusal("198.51.100.7", "invalid credential", "jwt:1", "a"),
                    false
                )
                .0
                .is_some()
        );
        let closed = tally.close_all();
        assert_eq!(
            closed.len(),
            1,
            "only the group with refusals since its first"
        );
        assert_eq!(closed[0].count, 999);
        assert_eq!(closed[0].peer, "198.51.100.7");
        assert!(
            tally.close_all().is_empty(),
            "a window's groups are closed once"
        );
    }

    #[test]
    fn accepted_credentials_group_apart_failed_ones_do_not() {
        let tally = Tally::default();
        assert!(
            tally
                .count(refusal("p", "insufficient scope", "key:a", "t"), true)
                .0
                .is_some()
        );
        assert!(
            tally
                .count(refusal("p", "insufficient scope", "key:b", "t"), true)
                .0
                .is_some()
        );
        assert!(
            tally
                .count(refusal("p", "invalid credential", "jwt:1", "t"), false)
                .0
                .is_some()
        );
        assert!(
            tally
                .count(refusal("p", "invalid credential", "jwt:2", "t"), false)
                .0
                .is_none(),
            "a flood of different bad tokens is one group"
        );
    }
}
