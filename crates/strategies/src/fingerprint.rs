//! Full-scan fingerprints: a 128-bit hash of a record without its ignored
//! fields, independent of key order (APIs do not promise a stable order).

use serde_json::Value;
use xxhash_rust::xxh3::Xxh3;

/// Fingerprint of `record` with every dotted path in `ignored` removed.
pub fn fingerprint(record: &Value, ignored: &[Vec<String>]) -> [u8; 16] {
    let mut h = Xxh3::new();
    feed(&mut h, record, ignored, 0);
    h.digest128().to_le_bytes()
}

/// Splits `ignoredFields` once, not per record.
pub fn split_paths(fields: &[String]) -> Vec<Vec<String>> {
    fields
        .iter()
        .map(|f| f.split('.').map(str::to_string).collect())
        .collect()
}

fn feed(h: &mut Xxh3, v: &Value, ignored: &[Vec<String>], depth: usize) {
    match v {
        Value::Null => h.update(b"n"),
        Value::Bool(b) => h.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            h.update(b"#");
            // Formatted on the stack: this runs for every number of every
            // record of a full scan.
            let mut buf = [0u8; 40];
            let mut w = &mut buf[..];
            let len = match std::io::Write::write_fmt(&mut w, format_args!("{n}")) {
                Ok(()) => 40 - w.len(),
                Err(_) => 0,
            };
            if len > 0 {
                h.update(&buf[..len]);
            } else {
                h.update(n.to_string().as_bytes());
            }
            h.update(b";");
        }
        Value::String(s) => {
            h.update(b"s");
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        Value::Array(items) => {
            h.update(b"[");
            for item in items {
                // Ignored paths address object keys, not array elements.
                feed(h, item, &[], depth + 1);
            }
            h.update(b"]");
        }
        Value::Object(map) => {
            let mut keys: Vec<(&String, &Value)> = map.iter().collect();
            keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
            h.update(b"{");
            for (k, child) in keys {
                // Most scans ignore nothing: skip the path bookkeeping.
                let below: Vec<Vec<String>> = if ignored.is_empty() {
                    Vec::new()
                } else {
                    let below: Vec<Vec<String>> = ignored
                        .iter()
                        .filter(|p| p.get(depth).is_some_and(|s| s == k))
                        .cloned()
                        .collect();
                    if below.iter().any(|p| p.len() == depth + 1) {
                        continue;
                    }
                    below
                };
                h.update(b"k");
                h.update(&(k.len() as u64).to_le_bytes());
                h.update(k.as_bytes());
                feed(h, child, &below, depth + 1);
            }
            h.update(b"}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"id":1,"a":2,"b":{"x":1,"y":2}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"y":2,"x":1},"a":2,"id":1}"#).unwrap();
        assert_eq!(fingerprint(&a, &[]), fingerprint(&b, &[]));
    }

    #[test]
    fn ignored_fields_are_ignored_even_nested() {
        let ignored = split_paths(&["downloadUrl".into(), "meta.lastViewedAt".into()]);
        let a = json!({"id": 1, "downloadUrl": "u1", "meta": {"lastViewedAt": 1, "v": 1}});
        let b = json!({"id": 1, "downloadUrl": "u2", "meta": {"lastViewedAt": 2, "v": 1}});
        let c = json!({"id": 1, "downloadUrl": "u2", "meta": {"lastViewedAt": 2, "v": 2}});
        assert_eq!(fingerprint(&a, &ignored), fingerprint(&b, &ignored));
        assert_ne!(fingerprint(&a, &ignored), fingerprint(&c, &ignored));
        assert_ne!(fingerprint(&a, &[]), fingerprint(&b, &[]));
    }

    #[test]
    fn types_are_distinguished() {
        assert_ne!(
            fingerprint(&json!({"a": "1"}), &[]),
            fingerprint(&json!({"a": 1}), &[])
        );
        assert_ne!(
            fingerprint(&json!({"a": ["x", "y"]}), &[]),
            fingerprint(&json!({"a": ["xy"]}), &[])
        );
    }
}
