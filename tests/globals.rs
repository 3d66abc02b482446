//! The web-platform globals connector code gets: URL and URLSearchParams,
//! TextEncoder/Decoder, atob/btoa, structuredClone, crypto (checked against
//! Rust's hmac/sha2), timers, and console going to stderr with tags.

mod support;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use support::{fixtures_dir, invoke};

fn probe(f: &str, input: Value) -> Value {
    invoke(
        &fixtures_dir().join("globals"),
        &format!("data/probe/{f}"),
        &input,
    )
    .json()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn url_and_url_search_params() {
    let out = probe("url", json!({}));
    assert_eq!(
        out["parts"],
        json!({
            "href": "https://user:pw@example.com:8443/a/c?x=1&y=a+b#frag",
            "origin": "https://example.com:8443",
            "protocol": "https:",
            "username": "user",
            "password": "pw",
            "host": "example.com:8443",
            "hostname": "example.com",
            "port": "8443",
            "pathname": "/a/c",
            "search": "?x=1&y=a+b",
            "hash": "#frag",
            "y": "a b",
        })
    );
    assert_eq!(out["relative"], "https://example.com/a/d?e=1");
    assert_eq!(out["edited"], "https://example.com/items?page=2&q=a+b%26c");
    assert_eq!(out["params"], "a=x+y&a=z&b=2&c=%C3%A9");
    assert_eq!(out["all"], json!(["x y", "z"]));
    assert_eq!(out["entries"], json!([["k", "1"], ["k", "2"], ["m", " "]]));
    assert_eq!(out["invalid"], "TypeError");
    assert_eq!(out["canParse"], json!([true, false]));
    assert_eq!(out["json"], r#"{"u":"https://x.test/p"}"#);
}

#[test]
fn text_encoder_and_decoder_round_trip_utf8() {
    let out = probe("text", json!({}));
    assert_eq!(out["length"], "héllo € 😀".len());
    assert_eq!(out["first"], json!([104, 195, 169]));
    assert_eq!(out["same"], true);
    assert_eq!(out["part"], "héllo");
    assert_eq!(out["isU8"], true);
}

#[test]
fn atob_and_btoa() {
    let out = probe("base64", json!({}));
    assert_eq!(
        out,
        json!({
            "hello": "aGVsbG8=", "one": "YQ==", "two": "YWI=", "back": "hello",
            "spaced": "hello", "roundTrip": true,
            "nonLatin1": "InvalidCharacterError", "bad": "InvalidCharacterError",
        })
    );
}

#[test]
fn structured_clone_keeps_cycles_maps_sets_and_dates() {
    let out = probe("clone", json!({}));
    assert_eq!(
        out,
        json!({
            "distinct": true, "cycle": true, "innerCycle": true, "listCopied": true,
            "date": "2024-01-02T03:04:05.000Z", "mapKeyCopied": true, "set": [1, 2],
            "fn": "DataCloneError",
        })
    );
}

#[test]
fn crypto_digest_and_hmac_match_rust() {
    let (key, message) = ("webhook-secret", "{\"id\":1,\"type\":\"created\"}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    let expected = mac.finalize().into_bytes();

    let out = probe("crypto", json!({"key": key, "message": message}));
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(out["sha256"], abc);
    assert_eq!(out["nodeHash"], abc);
    assert_eq!(out["hmac"], hex(&expected));
    assert_eq!(out["nodeHmac"], hex(&expected));
    assert_eq!(out["good"], true);
    assert_eq!(out["bad"], false);
    assert_eq!(out["otherMessage"], false);
    let b64 = out["nodeHmacBase64"].as_str().unwrap();
    assert_eq!(b64.len(), 44);
    assert!(b64.ends_with('='));
}

#[test]
fn timers_fire_in_order_and_clear_timeout_cancels() {
    let out = probe("timers", json!({}));
    assert_eq!(
        out["order"],
        json!(["sync", "microtask", "t0:xy", "t10", "t30"])
    );
    assert_eq!(out["waited"], true);
}

#[test]
fn console_goes_to_stderr_with_tags_never_to_stdout() {
    let r = invoke(
        &fixtures_dir().join("globals"),
        "data/probe/console",
        &json!({}),
    );
    assert_eq!(
        r.json(),
        json!({"done": true}),
        "stdout holds only the result"
    );
    for marker in ["log-marker", "info-marker", "warn-marker", "error-marker"] {
        assert!(!r.stdout.contains(marker), "{marker} on stdout: {r}");
        let line = r
            .stderr
            .lines()
            .find(|l| l.contains(marker))
            .unwrap_or_else(|| panic!("{marker} not on stderr: {r}"));
        assert!(line.contains("connector=globals"), "{line}");
        assert!(
            line.contains("collection=") && line.contains("probe"),
            "{line}"
        );
        assert!(line.contains("function=data/probe/console.js"), "{line}");
    }
    assert!(r.stderr.contains(r#"log-marker {"a":1} [2]"#), "{r}");
    assert!(
        r.stderr.contains("WARN") && r.stderr.contains("ERROR"),
        "{r}"
    );
    assert!(r.stderr.contains("Error: boom"), "{r}");
}
