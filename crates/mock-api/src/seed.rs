//! Deterministic, realistic-looking contact fields for seeding.

use serde_json::{json, Value};

const FIRST: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Linus",
    "Katherine",
    "Tim",
    "Hedy",
    "John",
];
const LAST: [&str; 13] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
    "Ritchie", "Perlman", "Torvalds", "Johnson",
];
const COMPANY: [(&str, &str); 7] = [
    ("Acme Corp", "acme.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella", "umbrella.example"),
    ("Hooli", "hooli.example"),
    ("Stark Industries", "stark.example"),
    ("Wayne Enterprises", "wayne.example"),
];
const TITLE: [&str; 5] = ["Engineer", "Manager", "Director", "Analyst", "Designer"];

/// Fields of the `n`-th seeded record: the array lengths are coprime, so
/// combinations repeat only after 16*13*7*5 records.
pub(crate) fn fields(n: u64) -> Value {
    let i = n as usize;
    let first = FIRST[i % FIRST.len()];
    let last = LAST[i % LAST.len()];
    let (company, domain) = COMPANY[i % COMPANY.len()];
    json!({
        "name": format!("{first} {last}"),
        "email": format!("{}.{}{}@{domain}", first.to_lowercase(), last.to_lowercase(), n),
        "company": company,
        "title": TITLE[i % TITLE.len()],
        "phone": format!("+1-555-{:04}", n % 10_000),
    })
}
