//! The budget of each peer address for requests that carry no accepted
//! credential: anonymous requests, and credentials that fail. It is
//! checked before a credential is verified, so a flood of bad tokens costs
//! the server a map lookup each, not a signature check; a peer over its
//! budget is answered 429 until the budget refills. Requests whose
//! credential is accepted are not counted (their subject has its own
//! `[limits]`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Peers remembered as over their budget, at most (the oldest are
/// forgotten first; a forgotten peer is counted again from its limiter).
const BLOCKED_CAPACITY: usize = 10_000;

/// Charges between two sweeps of the peers whose budget has refilled.
const SWEEP_EVERY: u64 = 4096;

/// Per-peer budgets.
pub(crate) struct PeerBudget {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    charges: AtomicU64,
    /// Peers over their budget, and until when: checked before any
    /// credential is verified.
    blocked: quick_cache::sync::Cache<IpAddr, Instant>,
}

impl PeerBudget {
    /// `per_minute` requests without an accepted credential per peer
    /// address and minute; 0 turns the budget off.
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            blocked: quick_cache::sync::Cache::new(BLOCKED_CAPACITY),
            charges: AtomicU64::new(0),
        }
    }

    /// Seconds until `peer` may be heard again, if it is over its budget.
    pub(crate) fn blocked(&self, peer: IpAddr) -> Option<u64> {
        let peer = network(peer);
        let until = self.blocked.get(&peer)?;
        let now = Instant::now();
        if now < until {
            Some(seconds(until - now))
        } else {
            self.blocked.remove(&peer);
            None
        }
    }

    /// Count one request of `peer` that carried no accepted credential.
    /// Returns the seconds to wait when this spent the budget.
    pub(crate) fn charge(&self, peer: IpAddr) -> Option<u64> {
        let limiter = self.limiter.as_ref()?;
        let peer = network(peer);
        if self.charges.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // The limiter keeps a state per peer it has seen: forget the
            // ones whose budget is whole again.
            limiter.retain_recent();
        }
        let not_until = limiter.check_key(&peer).err()?;
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        self.blocked.insert(peer, Instant::now() + wait);
        Some(seconds(wait))
    }
}

/// The budget's unit: an IPv4 address, or an IPv6 /64 (one host holds a
/// whole /64, and would otherwise have 2^64 budgets).
fn network(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn seconds(d: Duration) -> u64 {
    d.as_secs() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_over_its_budget_is_refused_before_anything_else_and_others_are_not() {
        let budget = PeerBudget::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(budget.blocked(a), None);
            assert_eq!(budget.charge(a), None);
        }
        let wait = budget.charge(a).expect("the fourth spends the budget");
        assert!((1..=61).contains(&wait), "{wait}");
        assert!(budget.blocked(a).is_some(), "refused before verification");
        assert_eq!(budget.blocked(b), None);
        assert_eq!(budget.charge(b), None);
        let off = PeerBudget::new(0);
        assert!((0..100).all(|_| off.charge(a).is_none()));
    }

    #[test]
    fn one_ipv6_host_has_one_budget() {
        let budget = PeerBudget::new(2);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_host: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(budget.charge(one), None);
        assert_eq!(budget.charge(same_host), None);
        assert!(
            budget
                .charge("2001:db8:1:2:abcd::1".parse().unwrap())
                .is_some()
        );
        assert_eq!(
            budget.charge("2001:db8:1:3::1".parse().unwrap()),
            None,
            "another /64"
        );
    }
}
