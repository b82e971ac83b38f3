//! Peak mode: bounded admission by priority class.
//!
//! At most `max_in_flight` requests are with the sites at once. A class is
//! admitted only while the total in flight is under its ceiling: class 1
//! up to `max_in_flight`, class 2 up to `class2_share` of it, class 3 up to
//! `class3_share`. So as load grows class 3 stops first, then class 2, and
//! the top slice stays for class 1 whatever the other classes send: a
//! flood of one class cannot starve a higher one.
//!
//! A request over its ceiling waits in its class's queue (at most
//! `queue[class]` waiters) for up to `queue_timeout_ms`; a full queue or the
//! end of the wait sheds it: 503 `OVERLOADED` with `Retry-After`.

use crate::classes::Priority;
use crate::config::Admission as Config;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// Its class's queue was full.
    QueueFull,
    /// It waited `queue_timeout_ms` without a place.
    Waited,
}

/// The admission state shared by all requests.
#[derive(Debug)]
pub struct Admission {
    ceilings: [usize; 3],
    queue: [usize; 3],
    wait: Duration,
    total: AtomicUsize,
    per_class: [AtomicUsize; 3],
    waiting: [AtomicUsize; 3],
    freed: Notify,
}

/// A place with the sites; released when dropped.
#[derive(Debug)]
pub struct Permit {
    adm: Arc<Admission>,
    class: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.adm.total.fetch_sub(1, Ordering::AcqRel);
        self.adm.per_class[self.class].fetch_sub(1, Ordering::AcqRel);
        self.adm.freed.notify_waiters();
    }
}

/// A waiter in a class queue; leaves the queue when dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// The admission of `cfg`.
    pub fn new(cfg: &Config) -> Arc<Self> {
        let max = cfg.max_in_flight.max(1);
        let share = |s: f64| ((max as f64 * s).floor() as usize).clamp(1, max);
        Arc::new(Self {
            ceilings: [max, share(cfg.class2_share), share(cfg.class3_share)],
            queue: cfg.queue,
            wait: Duration::from_millis(cfg.queue_timeout_ms),
            total: AtomicUsize::new(0),
            per_class: Default::default(),
            waiting: Default::default(),
            freed: Notify::new(),
        })
    }

    /// Requests with the sites now.
    pub fn in_flight(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    /// Requests of class `p` with the sites now.
    pub fn in_flight_of(&self, p: Priority) -> usize {
        self.per_class[p.index()].load(Ordering::Acquire)
    }

    /// A place if one is free for `p` now.
    pub fn try_admit(self: &Arc<Self>, p: Priority) -> Option<Permit> {
        let c = p.index();
        let ceiling = self.ceilings[c];
        let mut cur = self.total.load(Ordering::Acquire);
        loop {
            if cur >= ceiling {
                return None;
            }
            match self
                .total
                .compare_exchange(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.per_class[c].fetch_add(1, Ordering::AcqRel);
                    return Some(Permit {
                        adm: self.clone(),
                        class: c,
                    });
                }
                Err(now) => cur = now,
            }
        }
    }

    /// A place for `p`, waiting in its queue if needed; [`Shed`] when the
    /// queue is full or the wait runs out.
    pub async fn admit(self: &Arc<Self>, p: Priority) -> Result<Permit, Shed> {
        if let Some(permit) = self.try_admit(p) {
            return Ok(permit);
        }
        let c = p.index();
        let waiting = &self.waiting[c];
        if waiting.fetch_add(1, Ordering::AcqRel) >= self.queue[c] {
            waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Shed::QueueFull);
        }
        let _in_queue = Waiting(waiting);
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(permit) = self.try_admit(p) {
                return Ok(permit);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return self.try_admit(p).ok_or(Shed::Waited);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adm(max: usize, queue: [usize; 3], wait_ms: u64) -> Arc<Admission> {
        Admission::new(&Config {
            max_in_flight: max,
            class2_share: 0.75,
            class3_share: 0.5,
            queue,
            queue_timeout_ms: wait_ms,
        })
    }

    #[test]
    fn class_three_stops_first_then_class_two_and_class_one_keeps_the_top() {
        let a = adm(4, [0, 0, 0], 0);
        let p1 = a.try_admit(Priority::Three).expect("3 under half");
        let _p2 = a.try_admit(Priority::Three).expect("3 at half");
        assert!(a.try_admit(Priority::Three).is_none(), "3 over its share");
        let _p3 = a.try_admit(Priority::Two).expect("2 under 3/4");
        assert!(a.try_admit(Priority::Two).is_none(), "2 over its share");
        let _p4 = a.try_admit(Priority::One).expect("1 has the top slice");
        assert!(a.try_admit(Priority::One).is_none(), "all taken");
        assert_eq!(a.in_flight(), 4);
        assert_eq!(a.in_flight_of(Priority::Three), 2);
        drop(p1);
        assert!(
            a.try_admit(Priority::Three).is_none(),
            "3 still over its share"
        );
        assert!(a.try_admit(Priority::One).is_some(), "a freed place");
    }

    #[tokio::test]
    async fn a_full_queue_sheds_at_once_and_a_waiter_gets_a_freed_place() {
        let a = adm(1, [1, 1, 0], 5_000);
        let held = a.try_admit(Priority::One).expect("first");
        assert_eq!(a.admit(Priority::Three).await.err(), Some(Shed::QueueFull));
        let a2 = a.clone();
        let waiter = tokio::spawn(async move { a2.admit(Priority::One).await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            a.admit(Priority::One).await.err(),
            Some(Shed::QueueFull),
            "class 1's one queue place is taken"
        );
        drop(held);
        assert_eq!(waiter.await.expect("join"), Ok(()));
    }

    #[tokio::test]
    async fn a_waiter_is_shed_when_its_wait_runs_out() {
        let a = adm(1, [0, 4, 0], 50);
        let _held = a.try_admit(Priority::One).expect("first");
        let t = std::time::Instant::now();
        assert_eq!(a.admit(Priority::Two).await.err(), Some(Shed::Waited));
        assert!(t.elapsed() >= Duration::from_millis(50));
    }
}
