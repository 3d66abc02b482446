//! Per-host rate limits: the connector's declared budget (`rateLimit:
//! {requests, perSeconds}`), spent by requests that wait for their turn,
//! shrunk by the API's 429s and grown back when they stop.
//!
//! Owns one bucket per (scope, host) (the scope is the caller's
//! [`crate::ClientSettings::limit_scope`]: the connection id in serve), the
//! rule that spaces requests, the halving on a 429 and the additive
//! recovery, and the bound on how many buckets are kept. It must not sleep
//! for Retry-After on a request's behalf (the retry loop in `client.rs`
//! does, and the retried attempt then takes a turn here like any other),
//! decide what is retried, or know anything but a host's name.
//!
//! Why spacing and not bursts: requests of a bucket go out one every
//! `1 / rate` seconds, measured from when the previous one really went (a
//! timer that fires late does not let the next one go early). That is a
//! token bucket holding one token, and it is the one shape that never puts
//! more than `requests` requests in any window of `perSeconds`, whatever
//! window the API counts in (fixed or sliding); a bucket holding
//! `requests` tokens lets a burst at the end of one window be followed by
//! a full refill in the next and draws 429s from a sliding-window API.
//! Waiting takes turns in order (a fair async mutex per bucket), so the
//! waiting callers sleep on the lock and only the head one on a timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// Without a 429 for this long (or `perSeconds`, when longer), a shrunk
/// rate grows by [`RECOVERY_STEP`] of the declared one.
const QUIET: Duration = Duration::from_secs(10);

/// Share of the declared rate added back after each quiet period.
const RECOVERY_STEP: f64 = 0.1;

/// A 429 halves the rate, down to the declared rate divided by this...
const FLOOR_DIVISOR: f64 = 64.0;

/// ...but never below one request a minute (unless declared slower).
const FLOOR_MIN_RATE: f64 = 1.0 / 60.0;

/// Buckets kept at most (beyond them, only buckets in use).
const MAX_BUCKETS: usize = 10_000;

/// A bucket unused this long, back at its declared rate, may be dropped.
const IDLE: Duration = Duration::from_secs(600);

/// Idle buckets are swept every this many new buckets.
const SWEEP_EVERY: u64 = 1024;

/// The state of one (scope, host) budget, as pure functions of `now`.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    declared: RateLimit,
    /// Requests per second now: the declared rate, or less after 429s.
    rate: f64,
    /// When the last request was let through.
    last_grant: Option<Instant>,
    /// No request before this (the API's Retry-After).
    paused_until: Option<Instant>,
    /// When the rate was last halved.
    last_decrease: Option<Instant>,
    /// Since when the rate has not changed (recovery counts from here).
    steady_since: Instant,
    last_used: Instant,
}

impl Bucket {
    pub(crate) fn new(declared: RateLimit, now: Instant) -> Bucket {
        Bucket {
            declared,
            rate: declared.rate(),
            last_grant: None,
            paused_until: None,
            last_decrease: None,
            steady_since: now,
            last_used: now,
        }
    }

    /// Requests per second now.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    fn floor(&self) -> f64 {
        let declared = self.declared.rate();
        (declared / FLOOR_DIVISOR).max(FLOOR_MIN_RATE).min(declared)
    }

    fn quiet(&self) -> Duration {
        QUIET.max(self.declared.per())
    }

    fn interval(&self) -> Duration {
        Duration::try_from_secs_f64(1.0 / self.rate).unwrap_or(self.declared.per())
    }

    /// A new declared budget (the spec changed): the current rate is kept
    /// if it is below the new one.
    fn redeclare(&mut self, declared: RateLimit) {
        if declared != self.declared {
            self.declared = declared;
            self.rate = self.rate.min(declared.rate());
        }
    }

    /// Grows a shrunk rate by one step per quiet period passed.
    fn recover(&mut self, now: Instant) {
        let declared = self.declared.rate();
        let quiet = self.quiet();
        while self.rate < declared && now.saturating_duration_since(self.steady_since) >= quiet {
            self.rate = (self.rate + declared * RECOVERY_STEP).min(declared);
            self.steady_since += quiet;
        }
    }

    /// Lets a request through at `now` (`Ok(now)`, the grant's time), or
    /// says until when to wait (`Err`).
    pub(crate) fn try_take(&mut self, now: Instant) -> Result<Instant, Instant> {
        self.recover(now);
        self.last_used = now;
        let spaced = self.last_grant.map(|t| t + self.interval());
        let next = match (spaced, self.paused_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        match next {
            Some(at) if at > now => Err(at),
            _ => {
                self.last_grant = Some(now);
                Ok(now)
            }
        }
    }

    /// A request let through at `granted` drew a 429 (or a 503 with
    /// Retry-After) at `now`: nothing goes out before `retry_after` has
    /// passed, and the rate halves, unless the request went out before the
    /// last halving (its answer says nothing about the new rate: a burst
    /// in flight halves the rate once, not once per request). Returns
    /// whether it halved.
    pub(crate) fn throttled(
        &mut self,
        now: Instant,
        granted: Instant,
        retry_after: Option<Duration>,
    ) -> bool {
        if let Some(ra) = retry_after {
            let until = now + ra;
            self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        }
        self.last_used = now;
        if self.last_decrease.is_some_and(|d| granted < d) {
            return false;
        }
        self.rate = (self.rate / 2.0).max(self.floor());
        self.last_decrease = Some(now);
        self.steady_since = now;
        true
    }

    /// Unused for [`IDLE`] and back at the declared rate: nothing is lost
    /// by forgetting it.
    fn forgettable(&mut self, now: Instant) -> bool {
        self.recover(now);
        now.saturating_duration_since(self.last_used) >= IDLE && self.rate >= self.declared.rate()
    }
}

/// One bucket and the turnstile its waiters queue at.
struct Slot {
    /// Held by the caller whose turn it is; tokio's mutex is fair (FIFO).
    turn: tokio::sync::Mutex<()>,
    state: Mutex<Bucket>,
}

impl Slot {
    fn state(&self) -> MutexGuard<'_, Bucket> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request let through: report a 429 on it with [`Permit::throttled`].
pub(crate) struct Permit {
    slot: Arc<Slot>,
    granted: Instant,
    scope: String,
    host: String,
}

impl Permit {
    /// The host answered 429 (or 503 with Retry-After).
    pub(crate) fn throttled(&self, status: u16, retry_after: Option<Duration>) {
        let mut b = self.slot.state();
        let was = b.rate();
        if b.throttled(Instant::now(), self.granted, retry_after) {
            tracing::info!(
                host = %self.host,
                scope = %self.scope,
                status,
                rate = b.rate(),
                declared_requests = b.declared.requests(),
                declared_seconds = b.declared.per().as_secs_f64(),
                "{} answered {status}: rate limit for it lowered from {was:.3} to {:.3} requests/s (declared {} per {} s); it grows back after {} s without one",
                self.host,
                b.rate(),
                b.declared.requests(),
                b.declared.per().as_secs_f64(),
                b.quiet().as_secs(),
            );
        }
    }
}

/// The buckets of one [`crate::HttpClient`], shared by all its calls.
#[derive(Default)]
pub(crate) struct RateLimiter {
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    map: HashMap<(String, String), Arc<Slot>>,
    created: u64,
}

impl RateLimiter {
    /// Waits (asleep, in order of arrival) until the (scope, host) budget
    /// lets a request through.
    pub(crate) async fn acquire(&self, scope: &str, host: &str, limit: RateLimit) -> Permit {
        let slot = self.slot(scope, host, limit);
        let _turn = slot.turn.lock().await;
        let started = Instant::now();
        loop {
            let taken = slot.state().try_take(Instant::now());
            match taken {
                Ok(granted) => {
                    let waited = granted.saturating_duration_since(started);
                    if waited >= Duration::from_secs(1) {
                        tracing::debug!(
                            host,
                            scope,
                            waited_ms = waited.as_millis() as u64,
                            "waited for the rate limit"
                        );
                    }
                    return Permit {
                        slot: Arc::clone(&slot),
                        granted,
                        scope: scope.to_string(),
                        host: host.to_string(),
                    };
                }
                // A 429 meanwhile may move the time on: look again then.
                Err(until) => tokio::time::sleep_until(until.into()).await,
            }
        }
    }

    fn slot(&self, scope: &str, host: &str, limit: RateLimit) -> Arc<Slot> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let key = (scope.to_string(), host.to_string());
        if let Some(slot) = buckets.map.get(&key) {
            slot.state().redeclare(limit);
            return Arc::clone(slot);
        }
        buckets.created += 1;
        if buckets.map.len() >= MAX_BUCKETS || buckets.created.is_multiple_of(SWEEP_EVERY) {
            buckets.sweep(now);
        }
        let slot = Arc::new(Slot {
            turn: tokio::sync::Mutex::new(()),
            state: Mutex::new(Bucket::new(limit, now)),
        });
        buckets.map.insert(key, Arc::clone(&slot));
        slot
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }
}

impl Buckets {
    /// Drops forgettable buckets no one holds; when still full, also the
    /// least recently used of those no one holds.
    fn sweep(&mut self, now: Instant) {
        let unused = |s: &Arc<Slot>| Arc::strong_count(s) == 1;
        self.map
            .retain(|_, s| !(unused(s) && s.state().forgettable(now)));
        while self.map.len() >= MAX_BUCKETS {
            let oldest = self
                .map
                .iter()
                .filter(|(_, s)| unused(s))
                .min_by_key(|(_, s)| s.state().last_used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    self.map.remove(&k);
                }
                // All in use: they are bounded by the requests in flight.
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u64, per_seconds: f64) -> RateLimit {
        RateLimit::new(requests, per_seconds).unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn requests_are_spaced_from_when_the_last_one_went() {
        let t0 = Instant::now();
        let mut b = Bucket::new(limit(10, 1.0), t0);
        assert_eq!(b.try_take(t0), Ok(t0));
        assert_eq!(b.try_take(t0 + ms(50)), Err(t0 + ms(100)));
        // Late by 30 ms: the next is spaced from the late one.
        assert_eq!(b.try_take(t0 + ms(130)), Ok(t0 + ms(130)));
        assert_eq!(b.try_take(t0 + ms(131)), Err(t0 + ms(230)));
        // Idle for a while: the next goes at once, but only one.
        assert_eq!(b.try_take(t0 + ms(5000)), Ok(t0 + ms(5000)));
        assert_eq!(b.try_take(t0 + ms(5000)), Err(t0 + ms(5100)));
    }

    #[test]
    fn a_429_halves_once_per_burst_and_pauses_for_retry_after() {
        let t0 = Instant::now();
        let mut b = Bucket::new(limit(8, 1.0), t0);
        let g1 = b.try_take(t0).unwrap();
        let g2 = b.try_take(t0 + ms(125)).unwrap();
        assert!(b.throttled(t0 + ms(200), g2, Some(Duration::from_secs(1))));
        assert_eq!(b.rate(), 4.0);
        // The first request's 429 arrives later but it went out before
        // the halving: no second halving.
        assert!(!b.throttled(t0 + ms(210), g1, None));
        assert_eq!(b.rate(), 4.0);
        assert_eq!(b.try_take(t0 + ms(400)), Err(t0 + ms(1200)));
        let g3 = b.try_take(t0 + ms(1200)).unwrap();
        assert_eq!(
            b.try_take(t0 + ms(1300)),
            Err(t0 + ms(1450)),
            "1/4 s apart now"
        );
        assert!(b.throttled(t0 + ms(1210), g3, None));
        assert_eq!(b.rate(), 2.0);
    }

    #[test]
    fn the_rate_has_a_floor() {
        let t0 = Instant::now();
        let mut b = Bucket::new(limit(640, 10.0), t0);
        for i in 0..20 {
            let now = t0 + Duration::from_secs(i);
            let g = now;
            b.last_grant = Some(g);
            b.throttled(now, g, None);
        }
        assert_eq!(b.rate(), 1.0, "64/s divided by 64");
        let mut slow = Bucket::new(limit(1, 30.0), t0);
        slow.throttled(t0, t0, None);
        slow.throttled(t0 + ms(1), t0 + ms(1), None);
        assert_eq!(slow.rate(), 1.0 / 60.0, "one a minute");
        let mut slower = Bucket::new(limit(1, 3600.0), t0);
        slower.throttled(t0, t0, None);
        assert_eq!(
            slower.rate(),
            1.0 / 3600.0,
            "never below the floor of a slower declaration"
        );
    }

    #[test]
    fn the_rate_recovers_additively_after_quiet_periods() {
        let t0 = Instant::now();
        let mut b = Bucket::new(limit(10, 1.0), t0);
        b.throttled(t0, t0, None);
        b.throttled(t0 + ms(1), t0 + ms(1), None);
        assert_eq!(b.rate(), 2.5);
        let _ = b.try_take(t0 + Duration::from_secs(9));
        assert_eq!(b.rate(), 2.5, "not quiet long enough");
        let _ = b.try_take(t0 + Duration::from_secs(11));
        assert_eq!(b.rate(), 3.5, "one step of a tenth of 10/s");
        let _ = b.try_take(t0 + Duration::from_secs(200));
        assert_eq!(b.rate(), 10.0, "never above the declared rate");
        // A long declared window makes the quiet period longer.
        let mut hourly = Bucket::new(limit(100, 60.0), t0);
        hourly.throttled(t0, t0, None);
        let _ = hourly.try_take(t0 + Duration::from_secs(30));
        assert!(hourly.rate() < 100.0 / 60.0);
        let _ = hourly.try_take(t0 + Duration::from_secs(61));
        assert!(hourly.rate() > 50.0 / 60.0);
    }

    #[tokio::test]
    async fn waiters_take_turns_and_scopes_do_not_share() {
        let l = Arc::new(RateLimiter::default());
        let lim = limit(20, 1.0);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let l = Arc::clone(&l);
            tasks.push(tokio::spawn(async move {
                l.acquire("a", "h:80", lim).await.granted
            }));
        }
        let mut grants = Vec::new();
        for t in tasks {
            grants.push(t.await.unwrap());
        }
        grants.sort();
        for w in grants.windows(2) {
            assert!(w[1] - w[0] >= ms(50), "{:?}", w[1] - w[0]);
        }
        assert!(start.elapsed() >= ms(200));
        // Another scope, and another host, start at once.
        let t = Instant::now();
        l.acquire("b", "h:80", lim).await;
        l.acquire("a", "other:80", lim).await;
        assert!(t.elapsed() < ms(40), "{:?}", t.elapsed());
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn buckets_are_bounded() {
        let l = RateLimiter::default();
        let lim = limit(1, 1.0);
        let held = l.slot("held", "h", lim);
        for i in 0..MAX_BUCKETS + 50 {
            l.slot(&format!("s{i}"), "h", lim);
        }
        assert!(l.len() <= MAX_BUCKETS, "{}", l.len());
        let key = ("held".to_string(), "h".to_string());
        assert!(
            l.buckets.lock().unwrap().map.contains_key(&key),
            "a bucket in use is kept"
        );
        drop(held);
    }
}
