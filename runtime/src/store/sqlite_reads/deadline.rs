//! The inline read budget: when SQLite's progress handler stops a
//! statement running on the request's thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How much CPU time a read may use on the request's thread before it is
/// moved to the blocking pool (tokio asks for at most 10–100 µs between
/// awaits).
pub(crate) const INLINE_BUDGET: Duration = Duration::from_micros(100);

/// When the progress handler interrupts a statement: once it has run for
/// half the budget on the clock and then used the other half of the
/// thread's CPU time. The handler reads only the clock (the vDSO, no
/// system call: nearly every read ends there) until it passes `clock`;
/// then it reads the thread's CPU time (a system call) and sets `cpu` half
/// a budget later. A thread cannot use more CPU time than passes on the
/// clock, so after each CPU reading the next is due only when the clock
/// has moved by what is left of the CPU budget: a statement the kernel
/// keeps waiting (a preempted thread, a lock) reads the CPU clock once per
/// half budget of waiting at most, not at every check. So a statement
/// holds the runtime for at most the budget of its own work, and one that
/// waits is not interrupted for the wait. Nanoseconds; `clock` is
/// `u64::MAX` for no deadline, `cpu` is `u64::MAX` until the clock has
/// first passed.
pub(super) struct Deadline {
    clock: AtomicU64,
    cpu: AtomicU64,
    /// CPU clock readings so far (each one a system call).
    cpu_reads: AtomicU64,
}

/// Each of the two phases of the inline budget, in nanoseconds.
pub(super) const HALF_BUDGET: u64 = INLINE_BUDGET.as_nanos() as u64 / 2;

impl Deadline {
    pub(super) fn none() -> Self {
        Self {
            clock: AtomicU64::new(u64::MAX),
            cpu: AtomicU64::new(u64::MAX),
            cpu_reads: AtomicU64::new(0),
        }
    }

    /// Start the inline budget.
    pub(super) fn start(&self) {
        self.clock
            .store(clock_nanos().saturating_add(HALF_BUDGET), Ordering::Relaxed);
        self.cpu.store(u64::MAX, Ordering::Relaxed);
    }

    pub(super) fn clear(&self) {
        self.clock.store(u64::MAX, Ordering::Relaxed);
        self.cpu.store(u64::MAX, Ordering::Relaxed);
    }

    pub(super) fn passed(&self) -> bool {
        let now = clock_nanos();
        if now <= self.clock.load(Ordering::Relaxed) {
            return false;
        }
        let used = cpu_nanos();
        self.cpu_reads.fetch_add(1, Ordering::Relaxed);
        let cpu = match self.cpu.load(Ordering::Relaxed) {
            u64::MAX => {
                let cpu = used.saturating_add(HALF_BUDGET);
                self.cpu.store(cpu, Ordering::Relaxed);
                cpu
            }
            cpu if used > cpu => return true,
            cpu => cpu,
        };
        // No need to look again before the thread could have used the
        // rest of its CPU budget.
        self.clock
            .store(now.saturating_add(cpu - used), Ordering::Relaxed);
        false
    }

    /// How many times the CPU clock has been read.
    #[cfg(test)]
    fn cpu_reads(&self) -> u64 {
        self.cpu_reads.load(Ordering::Relaxed)
    }
}

/// Time on the monotonic clock since the first call, in nanoseconds (no
/// system call: the vDSO).
fn clock_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// CPU time used by the calling thread, in nanoseconds.
#[cfg(unix)]
fn cpu_nanos() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

/// Elsewhere, time on the clock.
#[cfg(not(unix))]
fn cpu_nanos() -> u64 {
    clock_nanos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Burn the calling thread's CPU for at least `nanos`.
    fn spin_cpu(nanos: u64) {
        let start = cpu_nanos();
        let mut x = 0u64;
        while cpu_nanos() < start + nanos {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }

    #[test]
    fn the_budget_counts_the_threads_own_work_not_time_asleep() {
        let deadline = Deadline::none();
        std::thread::sleep(Duration::from_millis(2));
        assert!(!deadline.passed(), "no deadline until one is started");

        // Four budgets asleep (as if preempted), twice: the clock half is
        // over, but the thread has done no work, so the statement goes on.
        // A sleep is not always free: a KVM guest charges a thread for the
        // time its virtual CPU was taken away by the host, so the asleep
        // part gets a few tries. A budget that counted time on the clock
        // would be over after the first sleep of every try.
        let asleep = |deadline: &Deadline| {
            deadline.start();
            let started = !deadline.passed();
            std::thread::sleep(INLINE_BUDGET * 4);
            let first = !deadline.passed();
            std::thread::sleep(INLINE_BUDGET * 4);
            started && first && !deadline.passed()
        };
        assert!(
            (0..5).any(|_| asleep(&deadline)),
            "a statement whose thread slept through the budget was interrupted in every try"
        );
        // Then the other half of the budget in work: interrupted.
        spin_cpu(HALF_BUDGET + 10_000);
        assert!(deadline.passed());

        // A statement that works throughout is interrupted after about
        // one budget of CPU time: half on the clock, half measured.
        deadline.start();
        let start = cpu_nanos();
        while !deadline.passed() {
            spin_cpu(1_000);
        }
        let used = cpu_nanos() - start;
        assert!(
            used >= HALF_BUDGET,
            "interrupted after {used} ns of work, before half the budget"
        );

        deadline.clear();
        spin_cpu(3 * HALF_BUDGET);
        assert!(!deadline.passed(), "a cleared deadline never passes");
    }

    #[test]
    fn a_waiting_statement_reads_the_cpu_clock_once_per_half_budget_at_most() {
        // A statement whose thread was kept waiting far past the clock half
        // of the budget, then checked back to back (as SQLite's progress
        // handler checks): each CPU reading is a system call, and after
        // the first none is due before the thread could have used the rest
        // of its budget, which a hundred checks do not come near.
        //
        // One wait, before the first reading: CPU time the thread spends
        // before then does not count against the budget, and a sleep is
        // not free (on a KVM guest here, a 100 µs sleep charged the thread
        // 12-20 µs of CPU time, so waits between checks made the test
        // measure the sleeps rather than the checks).
        let deadline = Deadline::none();
        deadline.start();
        std::thread::sleep(INLINE_BUDGET * 4);
        let checking = Instant::now();
        for _ in 0..100 {
            assert!(!deadline.passed(), "interrupted before using its budget");
        }
        // Another reading is due only once the clock has moved by what is
        // left of the CPU budget (at least half of the half budget, since
        // the checks use far less): a thread preempted during the checks
        // may see one more per quarter budget on the clock, no more.
        let quarters = checking.elapsed().as_nanos() as u64 / (HALF_BUDGET / 2);
        let reads = deadline.cpu_reads();
        assert!(
            (1..=1 + quarters).contains(&reads),
            "{reads} CPU clock readings in 100 back-to-back checks after a wait, \
             {quarters} quarter budgets on the clock"
        );
        // The budget still holds for work.
        let start = cpu_nanos();
        while !deadline.passed() {
            spin_cpu(1_000);
        }
        let used = cpu_nanos() - start;
        assert!(
            (HALF_BUDGET / 2..=INLINE_BUDGET.as_nanos() as u64).contains(&used),
            "interrupted after {used} ns of work"
        );
    }
}
