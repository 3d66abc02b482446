use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::config::HttpConfig;

/// Reads `Retry-After`: delta-seconds or an HTTP date (a past date means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Full-jitter exponential backoff before attempt `failed + 1`: uniform in
/// `[0, min(max_backoff, base_backoff * 2^(failed-1))]`.
pub(crate) fn backoff(config: &HttpConfig, failed: u32) -> Duration {
    let exp = failed.saturating_sub(1).min(32);
    let ceiling = config
        .base_backoff
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(config.max_backoff)
        .min(config.max_backoff);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::thread_rng().gen_range(0..=ms))
}

/// GET, HEAD, OPTIONS, PUT and DELETE may be sent twice without harm.
pub(crate) fn is_idempotent(method: &reqwest::Method) -> bool {
    use reqwest::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn backoff_stays_under_doubling_ceiling() {
        let c = HttpConfig {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            ..Default::default()
        };
        for _ in 0..200 {
            assert!(backoff(&c, 1) <= Duration::from_millis(100));
            assert!(backoff(&c, 2) <= Duration::from_millis(200));
            assert!(backoff(&c, 3) <= Duration::from_millis(350));
            assert!(backoff(&c, 40) <= Duration::from_millis(350));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| backoff(&c, 3)).collect();
        assert!(spread.len() > 5, "jitter should vary the delay");
    }
}
