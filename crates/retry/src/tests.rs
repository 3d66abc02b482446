use std::collections::HashSet;

use super::*;

const MS: Duration = Duration::from_millis(1);

/// crates/sinks' policy: equal jitter.
fn sinks(base: Duration, max: Duration) -> Backoff {
    Backoff::new(base, max).with_jitter(Jitter::Equal)
}

// Moved from crates/sinks/src/retry.rs (its `backoff(failures, base, max)`).
#[test]
fn backoff_doubles_within_jitter_and_is_capped() {
    let base = Duration::from_millis(100);
    let max = Duration::from_secs(1);
    let backoff = sinks(base, max);
    for _ in 0..50 {
        let first = backoff.delay(1);
        assert!(
            first >= Duration::from_millis(50) && first <= base,
            "{first:?}"
        );
        let third = backoff.delay(3);
        assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
        let huge = backoff.delay(1000);
        assert!(huge >= max / 2 && huge <= max, "{huge:?}");
    }
}

// Moved from crates/api-client/src/retry.rs (its `backoff(config, failed)`
// with base_backoff 100 ms and max_backoff 350 ms).
#[test]
fn backoff_stays_under_doubling_ceiling() {
    let c = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
    for _ in 0..200 {
        assert!(c.delay(1) <= Duration::from_millis(100));
        assert!(c.delay(2) <= Duration::from_millis(200));
        assert!(c.delay(3) <= Duration::from_millis(350));
        assert!(c.delay(40) <= Duration::from_millis(350));
    }
    let spread: HashSet<_> = (0..50).map(|_| c.delay(3)).collect();
    assert!(spread.len() > 5, "jitter should vary the delay");
}

#[test]
fn ceiling_doubles_from_the_first_failure_up_to_the_cap_and_exponent() {
    let b = Backoff::new(100 * MS, Duration::from_secs(1));
    assert_eq!(b.ceiling(0), 100 * MS);
    assert_eq!(b.ceiling(1), 100 * MS);
    assert_eq!(b.ceiling(2), 200 * MS);
    assert_eq!(b.ceiling(4), 800 * MS);
    assert_eq!(b.ceiling(5), Duration::from_secs(1));
    assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
    let b = b.with_max_exponent(2);
    assert_eq!(b.ceiling(3), 400 * MS);
    assert_eq!(b.ceiling(9), 400 * MS);
    // Saturates instead of overflowing.
    let b = Backoff::new(Duration::MAX / 2, Duration::MAX);
    assert_eq!(b.ceiling(40), Duration::MAX);
}

#[test]
fn each_jitter_spans_its_range_given_the_random_factor() {
    let b = Backoff::new(100 * MS, Duration::from_secs(10));
    let none = b.with_jitter(Jitter::None);
    assert_eq!(none.delay_with(3, 0.0), 400 * MS);
    assert_eq!(none.delay_with(3, 0.99), 400 * MS);
    assert_eq!(none.delay(3), 400 * MS);

    assert_eq!(b.delay_with(3, 0.0), Duration::ZERO);
    assert_eq!(b.delay_with(3, 0.5), 200 * MS);
    assert_eq!(b.delay_with(3, 0.999_999), 400 * MS);
    assert_eq!(b.delay_with(3, 1.0), 400 * MS);

    let equal = b.with_jitter(Jitter::Equal);
    assert_eq!(equal.delay_with(3, 0.0), 200 * MS);
    assert_eq!(equal.delay_with(3, 0.999_999), 400 * MS);

    let ten = b.with_jitter(Jitter::Proportional(0.1));
    assert_eq!(ten.delay_with(1, 0.0), 90 * MS);
    assert_eq!(ten.delay_with(1, 0.5), 100 * MS);
    assert!(ten.delay_with(1, 0.999) < 110 * MS);
    assert!(ten.delay_with(1, 0.999) > 109 * MS);

    // Out-of-range factors are clamped.
    assert_eq!(b.delay_with(3, -1.0), Duration::ZERO);
    assert_eq!(b.delay_with(3, f64::NAN), Duration::ZERO);
    assert_eq!(b.delay_with(3, 7.0), 400 * MS);
}

#[test]
fn full_jitter_gives_every_millisecond_an_equal_share() {
    let b = Backoff::new(3 * MS, 3 * MS);
    let picks: Vec<Duration> = (0..8).map(|i| b.delay_with(1, i as f64 / 8.0)).collect();
    assert_eq!(
        picks,
        [0, 0, 1, 1, 2, 2, 3, 3].map(|ms| ms * MS).to_vec(),
        "4 values, 2 of the 8 factors each"
    );
}

// Moved from crates/sinks/src/retry.rs (its `retry_after(value)`, which
// read the clock itself).
#[test]
fn retry_after_reads_seconds_and_dates() {
    let retry_after = |v: &str| parse_retry_after(v, SystemTime::now());
    assert_eq!(retry_after(" 3 "), Some(Duration::from_secs(3)));
    assert_eq!(retry_after("99999999"), Some(MAX_RETRY_AFTER));
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
    assert_eq!(retry_after(&past), Some(Duration::ZERO));
    let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    let wait = retry_after(&future).unwrap();
    assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
    assert_eq!(retry_after("soon"), None);
}

// Moved from crates/api-client/src/retry.rs.
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
fn retry_after_is_capped_for_dates_too() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(parse_retry_after("3600", now), Some(MAX_RETRY_AFTER));
    assert_eq!(
        parse_retry_after("3599", now),
        Some(Duration::from_secs(3599))
    );
    let next_week = httpdate::fmt_http_date(now + Duration::from_secs(7 * 86_400));
    assert_eq!(parse_retry_after(&next_week, now), Some(MAX_RETRY_AFTER));
    assert_eq!(parse_retry_after("1.5", now), None);
    assert_eq!(parse_retry_after("", now), None);
    assert_eq!(parse_retry_after("99999999999999999999999", now), None);
}

// The two back-offs crates/host still computes itself, as Backoff values
// (for when it is switched): schedule.rs::next_delay, `base * 2^min(f, 4)`
// times a factor in [0.9, 1.1), and lib.rs::deliver_loop,
// `200 ms * 2^min(f, 8)` without jitter, for f failures so far.
#[test]
fn the_hosts_back_offs_are_expressible() {
    let interval = Duration::from_secs(10);
    let schedule = Backoff::new(interval, Duration::MAX)
        .with_max_exponent(4)
        .with_jitter(Jitter::Proportional(0.1));
    for failures in [0u32, 1, 3, 4, 9, u32::MAX] {
        let factor = 1u32 << failures.min(4);
        let n = failures.saturating_add(1);
        assert_eq!(schedule.ceiling(n), interval * factor);
        assert_eq!(
            schedule.delay_with(n, 0.0),
            (interval * factor).mul_f64(0.9)
        );
        assert_eq!(schedule.delay_with(n, 0.5), interval * factor);
    }
    let deliver = Backoff::new(200 * MS, Duration::MAX)
        .with_max_exponent(8)
        .with_jitter(Jitter::None);
    for failures in [1u32, 2, 8, 9, u32::MAX] {
        let old = Duration::from_millis(200u64.saturating_mul(1 << failures.min(8)));
        assert_eq!(deliver.delay(failures.saturating_add(1)), old);
    }
}
