use std::time::{Duration, SystemTime};

use rand::Rng;

/// A receiver's `Retry-After` is obeyed, but never beyond this: a bogus
/// value must not stall delivery for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Exponential backoff with "equal jitter": half the delay is fixed, half
/// random, so many runtimes retrying one receiver spread out.
pub(crate) fn backoff(failures: u32, base: Duration, max: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(31);
    let delay = base.saturating_mul(1u32 << exp).min(max);
    let half = delay / 2;
    let jitter_ms = rand::thread_rng().gen_range(0..=half.as_millis().min(u64::MAX as u128) as u64);
    half + Duration::from_millis(jitter_ms)
}

/// `Retry-After` as seconds or an HTTP date; `None` if absent or unreadable.
pub(crate) fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for _ in 0..50 {
            let first = backoff(1, base, max);
            assert!(
                first >= Duration::from_millis(50) && first <= base,
                "{first:?}"
            );
            let third = backoff(3, base, max);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let huge = backoff(1000, base, max);
            assert!(huge >= max / 2 && huge <= max, "{huge:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("99999999"), Some(MAX_RETRY_AFTER));
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(retry_after(&past), Some(Duration::ZERO));
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let wait = retry_after(&future).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        assert_eq!(retry_after("soon"), None);
    }
}
