//! How long to wait before trying again. This crate owns the one
//! implementation of each of the runtime's retry-delay computations:
//!
//! - [`Backoff`]: exponential back-off (a base doubled per failure, a
//!   maximum exponent, a cap) with a [`Jitter`] so that many runtimes
//!   retrying one server spread out;
//! - [`parse_retry_after`]: an HTTP `Retry-After` value (delta-seconds or an
//!   HTTP date) as a wait, capped at [`MAX_RETRY_AFTER`].
//!
//! It computes durations only: no sleeping, no clocks other than the `now`
//! its callers pass, no I/O. The random part of a delay is a factor its
//! callers may pass ([`Backoff::delay_with`]), so every rule here is tested
//! without flakiness; [`Backoff::delay`] draws the factor from
//! `rand::thread_rng`.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// How the random part of a [`Backoff`] delay is chosen, for a capped
/// ceiling `d` (see [`Backoff::ceiling`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    /// Exactly `d`.
    None,
    /// "Full jitter": uniform over whole milliseconds in `[0, d]`.
    Full,
    /// "Equal jitter": half of `d` fixed, the other half uniform over whole
    /// milliseconds, so in `[d/2, d]`.
    Equal,
    /// `d` times a factor uniform in `[1 - f, 1 + f)`: `Proportional(0.1)`
    /// is ±10 %. The result may exceed the cap by that share.
    Proportional(f64),
}

/// Exponential back-off: after the `n`-th consecutive failure the ceiling
/// is `base × 2^min(n - 1, max_exponent)`, never above `max`; the delay is
/// that ceiling with [`Jitter`] applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The ceiling after the first failure.
    pub base: Duration,
    /// The largest ceiling (before [`Jitter::Proportional`]).
    pub max: Duration,
    /// The largest power of two `base` is multiplied by.
    pub max_exponent: u32,
    pub jitter: Jitter,
}

impl Backoff {
    /// `base` doubling up to `max`, with full jitter and a maximum
    /// exponent of 31.
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            max_exponent: 31,
            jitter: Jitter::Full,
        }
    }

    pub const fn with_jitter(self, jitter: Jitter) -> Backoff {
        Backoff { jitter, ..self }
    }

    pub const fn with_max_exponent(self, max_exponent: u32) -> Backoff {
        Backoff {
            max_exponent,
            ..self
        }
    }

    /// The delay after `failures` consecutive failures, before jitter:
    /// `min(max, base × 2^min(failures - 1, max_exponent))`; `failures` 0
    /// counts as 1. Saturates instead of overflowing.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(self.max_exponent);
        self.base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max)
    }

    /// The delay after `failures` consecutive failures, the random part
    /// given as `unit` in `[0, 1)` (values outside are clamped): 0 gives the
    /// shortest delay the jitter allows, values near 1 the longest.
    pub fn delay_with(&self, failures: u32, unit: f64) -> Duration {
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        let ceiling = self.ceiling(failures);
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => uniform_ms(ceiling, unit),
            Jitter::Equal => {
                let half = ceiling / 2;
                half + uniform_ms(half, unit)
            }
            Jitter::Proportional(f) => ceiling.mul_f64((1.0 - f + 2.0 * f * unit).max(0.0)),
        }
    }

    /// The delay after `failures` consecutive failures, with a random
    /// factor from `rand::thread_rng`.
    pub fn delay(&self, failures: u32) -> Duration {
        let unit = match self.jitter {
            Jitter::None => 0.0,
            _ => rand::thread_rng().gen::<f64>(),
        };
        self.delay_with(failures, unit)
    }
}

/// A whole number of milliseconds in `[0, span]`, each equally likely for
/// `unit` uniform in `[0, 1)`.
fn uniform_ms(span: Duration, unit: f64) -> Duration {
    let ms = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
    let pick = (unit * (ms as f64 + 1.0)).floor();
    // `as` saturates; the `min` keeps `unit` = 1 (and rounding) inside.
    Duration::from_millis((pick as u64).min(ms))
}

/// A `Retry-After` is obeyed, but never beyond this: a bogus value must not
/// stall a caller for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Reads a `Retry-After` value: delta-seconds (surrounding whitespace
/// allowed) or an HTTP date, as the wait from `now` (a past date means no
/// wait), at most [`MAX_RETRY_AFTER`]. `None` if it is neither (a negative
/// or fractional number, a word, a number too large for `u64`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests;
