//! ISO-8601 formatting for the logical clock (no date crate needed).

/// 2026-01-01T00:00:00Z, where the logical clock starts.
pub(crate) const CLOCK_START_UNIX: u64 = 1_767_225_600;

/// `"2026-01-01T00:00:05.000Z"` for unix seconds.
pub(crate) fn iso_millis(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (proleptic calendar,
/// eras of 400 years so leap rules are exact).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso_millis(CLOCK_START_UNIX), "2026-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(CLOCK_START_UNIX + 5), "2026-01-01T00:00:05.000Z");
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        // 2028 is a leap year: Feb 29 exists.
        assert_eq!(iso_millis(1_835_481_599), "2028-02-29T23:59:59.000Z");
        assert_eq!(
            iso_millis(CLOCK_START_UNIX + 86_400 * 59),
            "2026-03-01T00:00:00.000Z"
        );
    }
}
