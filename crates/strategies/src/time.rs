//! Record time fields: ISO-8601 strings or epoch numbers, as APIs send them.

use serde_json::Value;

/// Milliseconds since the Unix epoch. Numbers (or numeric strings) below
/// 10^11 are taken as seconds, above as milliseconds: 10^11 s is the year
/// 5138, 10^11 ms is 1973, so real values are never ambiguous.
pub fn parse_time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(epoch_number),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<f64>() {
                return Some(epoch_number(n));
            }
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                return Some(t.timestamp_millis());
            }
            // No offset: UTC, as most APIs that omit it mean.
            for fmt in [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
            ] {
                if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
                    return Some(t.and_utc().timestamp_millis());
                }
            }
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp_millis())
        }
        _ => None,
    }
}

fn epoch_number(n: f64) -> i64 {
    if n.abs() < 1e11 {
        (n * 1000.0) as i64
    } else {
        n as i64
    }
}

/// Reads a possibly dotted field (`meta.updatedAt`).
pub fn field<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(record, |v, k| v.get(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_forms_apis_use() {
        let t = 1_767_225_605_000; // 2026-01-01T00:00:05Z
        assert_eq!(parse_time(&json!("2026-01-01T00:00:05.000Z")), Some(t));
        assert_eq!(parse_time(&json!("2026-01-01T01:00:05+01:00")), Some(t));
        assert_eq!(parse_time(&json!("2026-01-01T00:00:05")), Some(t));
        assert_eq!(parse_time(&json!(1_767_225_605)), Some(t));
        assert_eq!(parse_time(&json!(1_767_225_605_000i64)), Some(t));
        assert_eq!(parse_time(&json!("1767225605")), Some(t));
        assert_eq!(parse_time(&json!("yesterday")), None);
        assert_eq!(parse_time(&json!(null)), None);
    }

    #[test]
    fn dotted_fields() {
        let r = json!({"meta": {"updatedAt": 5}});
        assert_eq!(field(&r, "meta.updatedAt"), Some(&json!(5)));
        assert_eq!(field(&r, "meta.nope"), None);
    }
}
