//! Measures the two ways a page of records can cross between Rust and
//! JavaScript: JSON text (`JSON.parse` / `JSON.stringify` in JS, serde_json in
//! Rust) against serde_v8 (Rust values converted to JS objects directly).
//! Run: `cargo run --release -p bench-floors --bin json_path`.

use std::time::Instant;

use deno_core::{v8, JsRuntime, RuntimeOptions};
use serde_json::{json, Value};

fn page(n: usize) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("{i:08}"), "name": format!("Person {i}"), "email": format!("p{i}@example.com"),
                "company": "Example Industries", "title": "Engineer", "phone": "+1-555-0100",
                "createdTime": "2026-01-01T00:00:00.000Z", "updatedTime": "2026-01-02T00:00:00.000Z",
                "address": {"street": "1 Main St", "city": "Springfield", "zip": "12345", "country": "US"},
                "tags": ["a", "b", "c"], "score": i as f64 * 1.5, "active": i % 2 == 0,
                "notes": "x".repeat(500),
            })
        })
        .collect();
    json!({"records": records, "cursor": "next"})
}

fn main() {
    let mut rt = JsRuntime::new(RuntimeOptions::default());
    let fns = rt
        .execute_script(
            "<bench>",
            "({ text: (s) => JSON.stringify(JSON.parse(s)), value: (v) => v })",
        )
        .expect("bench script");
    let (text_fn, value_fn) = {
        deno_core::scope!(scope, &mut rt);
        let obj = v8::Local::<v8::Object>::try_from(v8::Local::new(scope, fns)).expect("object");
        let get = |scope: &mut v8::PinScope, name: &str| {
            let k = v8::String::new(scope, name).expect("key");
            let f = v8::Local::<v8::Function>::try_from(obj.get(scope, k.into()).expect("fn"))
                .expect("fn");
            v8::Global::new(scope, f)
        };
        (get(scope, "text"), get(scope, "value"))
    };
    let input = page(100);
    println!(
        "page: 100 records, {} bytes of JSON",
        input.to_string().len()
    );
    let rounds = 200;
    for round in 0..2 {
        let t = Instant::now();
        for _ in 0..rounds {
            deno_core::scope!(scope, &mut rt);
            let s = v8::String::new(scope, &input.to_string()).expect("string");
            let f = v8::Local::new(scope, &text_fn);
            let undefined = v8::undefined(scope).into();
            let out = f.call(scope, undefined, &[s.into()]).expect("call");
            let back: Value = serde_json::from_str(&out.to_rust_string_lossy(scope)).expect("json");
            assert_eq!(back["records"][99]["id"], "00000099");
        }
        let text = t.elapsed() / rounds;
        let t = Instant::now();
        for _ in 0..rounds {
            deno_core::scope!(scope, &mut rt);
            let v = serde_v8::to_v8(scope, &input).expect("to_v8");
            let f = v8::Local::new(scope, &value_fn);
            let undefined = v8::undefined(scope).into();
            let out = f.call(scope, undefined, &[v]).expect("call");
            let back: Value = serde_v8::from_v8(scope, out).expect("from_v8");
            assert_eq!(back["records"][99]["id"], "00000099");
        }
        let value = t.elapsed() / rounds;
        if round == 1 {
            println!("JSON text round trip: {text:?} per page");
            println!("serde_v8 round trip:  {value:?} per page");
            println!(
                "ratio serde_v8 / text: {:.2}",
                value.as_secs_f64() / text.as_secs_f64()
            );
        }
    }
}
