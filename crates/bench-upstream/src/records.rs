//! The benchmark's records: about 1 KB of JSON each, the shape of a CRM
//! contact, and the deterministic "1% changed" variants a full-scan
//! benchmark diffs against.

use bytes::Bytes;
use serde_json::{json, Value};

/// Records per page, as the issue asks (a realistic API page).
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// Which records differ from the original data set: `percent` of them,
/// picked by `seed`. `percent = 0` is the original data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Changes {
    pub percent: f64,
    pub seed: u64,
}

impl Changes {
    pub const NONE: Changes = Changes {
        percent: 0.0,
        seed: 0,
    };

    /// Whether record `i` is changed. A hash of (i, seed), so the changed
    /// records are spread over every page, as real edits would be.
    pub fn is_changed(&self, i: usize) -> bool {
        if self.percent <= 0.0 {
            return false;
        }
        let threshold = (self.percent.min(100.0) * 10_000.0) as u64;
        mix(i as u64 ^ self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % 1_000_000 < threshold
    }

    /// How many of the first `total` records are changed.
    pub fn count(&self, total: usize) -> usize {
        (0..total).filter(|&i| self.is_changed(i)).count()
    }
}

/// splitmix64's finalizer: a cheap, well-spread 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One record of about 1 KB of JSON, as originally served.
pub fn record(i: usize) -> Value {
    record_with(i, &Changes::NONE)
}

/// Record `i` of the data set with `changes` applied: a changed record has
/// another `status`, `score` and `updatedTime`, as an edit in the app would.
pub fn record_with(i: usize, changes: &Changes) -> Value {
    const WORDS: [&str; 8] = [
        "renewal",
        "pricing",
        "onboarding",
        "support",
        "migration",
        "billing",
        "contract",
        "review",
    ];
    let mut note = String::with_capacity(520);
    let mut w = i;
    while note.len() < 500 {
        note.push_str(WORDS[w % WORDS.len()]);
        note.push(' ');
        w = w.wrapping_mul(31).wrapping_add(7);
    }
    let changed = changes.is_changed(i);
    let (status, score, updated) = if changed {
        let s = changes.seed as usize;
        (
            "customer",
            (i * 13 + 1 + s) % 100,
            format!("2026-12-{:02}T08:{:02}:15Z", 1 + s % 28, i % 60),
        )
    } else {
        (
            if i.is_multiple_of(3) {
                "active"
            } else {
                "lead"
            },
            (i * 13) % 100,
            format!("2026-11-{:02}T12:{:02}:30Z", 1 + i % 26, i % 60),
        )
    };
    json!({
        "id": format!("item-{i:08}"),
        "name": format!("Contact Number {i}"),
        "email": format!("contact.{i}@example-company-{}.com", i % 97),
        "phone": format!("+1-555-{:04}-{:04}", i % 10_000, (i * 7) % 10_000),
        "company": format!("Example Company {} Ltd", i % 97),
        "title": "Head of Operations",
        "status": status,
        "score": score,
        "address": {
            "street": format!("{} Market Street", i % 1000),
            "city": "San Francisco",
            "zip": format!("94{:03}", i % 1000),
            "country": "US",
        },
        "tags": ["customer", WORDS[i % WORDS.len()], "2026"],
        "createdTime": format!("2026-01-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
        "updatedTime": updated,
        "notes": note.trim_end(),
    })
}

/// Every page of `total` records, serialized: `{"records": [...], "cursor": "N+1"}`
/// with no cursor on the last page. Zero records give one empty last page.
pub fn pages(total: usize, page_size: usize) -> Vec<Bytes> {
    (0..page_count(total, page_size))
        .map(|p| page(total, page_size, p, &Changes::NONE))
        .collect()
}

pub(crate) fn page_count(total: usize, page_size: usize) -> usize {
    total.div_ceil(page_size.max(1)).max(1)
}

/// Page `p` (0-based) of `total` records with `changes` applied.
pub(crate) fn page(total: usize, page_size: usize, p: usize, changes: &Changes) -> Bytes {
    let page_size = page_size.max(1);
    let count = page_count(total, page_size);
    let start = p * page_size;
    let end = (start + page_size).min(total);
    let records: Vec<Value> = (start..end).map(|i| record_with(i, changes)).collect();
    let mut body = json!({ "records": records });
    if p + 1 < count {
        body["cursor"] = json!((p + 1).to_string());
    }
    Bytes::from(body.to_string())
}

/// A small fixed page for `GET /latest`: `n` records, newest first, all
/// older than any benchmark run, so a pull-latest-records subscription reads
/// one page per cycle and finds nothing new after its baseline.
pub fn latest_page(n: usize) -> Bytes {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("latest-{i}"),
                "name": format!("Latest {i}"),
                "updatedTime": format!("2026-01-01T00:00:{:02}Z", 59 - i % 60),
            })
        })
        .collect();
    Bytes::from(json!({ "records": records }).to_string())
}
