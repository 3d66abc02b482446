//! Rate limiting of log lines: at most one line per key per interval, each
//! line admitted carrying how many were held back since the previous one.
//! The caller passes the time in, so tests need no clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Keys tracked at most; past this, keys idle for a whole interval are
/// forgotten (and, if all are busy, every key), so the map stays small.
const MAX_KEYS: usize = 1024;

pub(crate) struct LogLimiter<K> {
    interval: Duration,
    keys: HashMap<K, Seen>,
}

struct Seen {
    /// When the last line for this key was admitted.
    last: Instant,
    /// Lines held back since then.
    held: u64,
}

impl<K: Eq + Hash> LogLimiter<K> {
    pub(crate) fn new(interval: Duration) -> LogLimiter<K> {
        LogLimiter {
            interval,
            keys: HashMap::new(),
        }
    }

    /// `Some(held)` when a line for `key` may be written at `now`, `held`
    /// being the lines held back since the last one; `None` when this line
    /// is to be held back (it is counted for the next).
    pub(crate) fn admit(&mut self, key: K, now: Instant) -> Option<u64> {
        if let Some(seen) = self.keys.get_mut(&key) {
            if now.saturating_duration_since(seen.last) < self.interval {
                seen.held += 1;
                return None;
            }
            let held = seen.held;
            *seen = Seen { last: now, held: 0 };
            return Some(held);
        }
        if self.keys.len() >= MAX_KEYS {
            let interval = self.interval;
            self.keys
                .retain(|_, s| now.saturating_duration_since(s.last) < interval);
            if self.keys.len() >= MAX_KEYS {
                self.keys.clear();
            }
        }
        self.keys.insert(key, Seen { last: now, held: 0 });
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_per_interval_carrying_the_count_held_back() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut l = LogLimiter::new(Duration::from_secs(5));
        assert_eq!(l.admit("a", at(0)), Some(0));
        assert_eq!(l.admit("a", at(1)), None);
        assert_eq!(l.admit("a", at(4_999)), None);
        assert_eq!(l.admit("b", at(2_000)), Some(0), "keys are independent");
        assert_eq!(l.admit("a", at(5_000)), Some(2));
        assert_eq!(l.admit("a", at(5_001)), None);
        assert_eq!(l.admit("a", at(60_000)), Some(1));
        assert_eq!(l.admit("a", at(65_000)), Some(0));
        assert_eq!(
            l.admit("b", at(1_000)),
            None,
            "a clock going back holds back"
        );
    }

    #[test]
    fn the_key_map_stays_bounded() {
        let t0 = Instant::now();
        let mut l = LogLimiter::new(Duration::from_secs(5));
        for k in 0..MAX_KEYS {
            assert_eq!(l.admit(k, t0), Some(0));
        }
        assert_eq!(l.admit(MAX_KEYS, t0), Some(0));
        assert!(l.keys.len() <= MAX_KEYS);
        let later = t0 + Duration::from_secs(6);
        for k in 0..MAX_KEYS {
            l.admit(MAX_KEYS + 1 + k, later);
        }
        assert!(l.keys.len() <= MAX_KEYS, "{}", l.keys.len());
    }
}
