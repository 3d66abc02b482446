//! The rate-limit mode: like a real API with a budget, the mock answers
//! 429 (`Retry-After: 1`) to a request that would be the (N+1)-th accepted
//! one within the last second, and remembers when it did, so a test can
//! count the 429s a client caused and see when they happened.
//!
//! The window slides (any one second, not calendar seconds): the strictest
//! reading of "N per second", so a client that passes it passes a
//! fixed-window API too. Refused requests do not count against the budget.
//! It must not touch the store or the request log (the server records
//! every request, refused or not, as before).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

/// At most this many 429 times are kept (the count goes on).
const MAX_KEPT: usize = 100_000;

#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    /// Requests accepted per second; `None`: the mode is off.
    limit: Option<usize>,
    /// When each request of the last second was accepted, oldest first.
    accepted: VecDeque<Instant>,
    /// When each 429 was given, oldest first (at most `MAX_KEPT`).
    refused_at: Vec<Instant>,
    refused: usize,
}

impl RateWindow {
    pub(crate) fn new(limit: Option<usize>) -> RateWindow {
        RateWindow {
            limit,
            ..RateWindow::default()
        }
    }

    /// Turns the mode on with a new budget, or off; forgets the window.
    pub(crate) fn set_limit(&mut self, limit: Option<usize>) {
        self.limit = limit;
        self.accepted.clear();
    }

    /// Whether a request arriving at `now` is within the budget; a refused
    /// one is counted.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        while self
            .accepted
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.accepted.pop_front();
        }
        if self.accepted.len() >= limit {
            self.refused += 1;
            if self.refused_at.len() < MAX_KEPT {
                self.refused_at.push(now);
            }
            return false;
        }
        self.accepted.push_back(now);
        true
    }

    pub(crate) fn refused(&self) -> usize {
        self.refused
    }

    pub(crate) fn refused_at(&self) -> Vec<Instant> {
        self.refused_at.clone()
    }

    /// Forgets the 429s counted so far (the window stays).
    pub(crate) fn reset_count(&mut self) {
        self.refused = 0;
        self.refused_at.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_the_request_over_budget_in_any_one_second() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = RateWindow::new(Some(2));
        assert!(w.admit(at(0)));
        assert!(w.admit(at(500)));
        assert!(!w.admit(at(900)), "third within one second");
        assert!(w.admit(at(1000)), "the first left the window");
        assert!(!w.admit(at(1400)));
        assert!(w.admit(at(1500)));
        assert_eq!(w.refused(), 2);
        assert_eq!(w.refused_at(), vec![at(900), at(1400)]);
        w.reset_count();
        assert_eq!(w.refused(), 0);
        let mut off = RateWindow::new(None);
        assert!((0..100).all(|_| off.admit(t0)));
    }
}
