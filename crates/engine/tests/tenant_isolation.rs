//! Connections kept apart inside one engine (`Call::tenant`, for `runtime
//! serve`): a connector written to leak (module-scope arrays, a cached
//! token, a CommonJS `module.exports` cache, `globalThis`, prototypes, SDK
//! classes, a made client, a request left running) is called for tenant A
//! and tenant B in turn on one runtime, and B never sees anything of A's.
//! A still sees its own module scope while its instances live; calls
//! without a tenant keep `runtime run`'s behaviour; and a runtime holding
//! the modules of `Limits::tenants_per_runtime` tenants is replaced before
//! the next one's call.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

mod common;

use runtime_engine::{Call, CallError, Engine, Limits};
use serde_json::{json, Value};

const A: &str = "token-of-tenant-A-1111";
const B: &str = "token-of-tenant-B-2222";

/// Every way this connector knows to keep a value between calls: each
/// channel reports what it held when the call began (`before`), then the
/// call stores its own token in it and reports which stores were refused.
const LEAK: &str = r#"
import { remember, recall } from "../lib/cache.js";
import cjs from "../lib/cjs-cache.js";
import { NotFoundError, DataCollectionEventType } from "@integration-app/sdk";

let seen = [];
let token = null;

const tryIt = (f) => { try { f(); return "stored"; } catch (e) { return `${e.name}: ${e.message}`; } };

export default async function leak({ credentials }) {
  const mine = credentials.token;
  const before = {
    seen: [...seen],
    token,
    cache: recall(),
    cjs: cjs.get(),
    stash: typeof stash === "undefined" ? null : stash,
    viaGlobalThis: globalThis.stash ?? null,
    rebound: globalThis.leaked ?? null,
    objectProto: ({}).leaked ?? null,
    sdkProto: new NotFoundError("x").leaked ?? null,
    sdkClass: NotFoundError.leaked ?? null,
    sdkEnum: DataCollectionEventType.leaked ?? null,
    dynamic: (await import("../lib/cache.js")).recall(),
  };
  seen.push(mine);
  if (token === null) token = mine;
  remember(mine);
  cjs.set(mine);
  const refused = {
    globalAssign: tryIt(() => { globalThis.stash = mine; }),
    globalDefine: tryIt(() => { Object.defineProperty(globalThis, "stash", { value: mine }); }),
    globalRebind: tryIt(() => { globalThis.globalThis = { leaked: mine }; }),
    globalProto: tryIt(() => { Object.setPrototypeOf(globalThis, { leaked: mine }); }),
    objectProto: tryIt(() => { Object.prototype.leaked = mine; }),
    sdkProto: tryIt(() => { NotFoundError.prototype.leaked = mine; }),
    sdkClass: tryIt(() => { NotFoundError.leaked = mine; }),
    sdkEnum: tryIt(() => { DataCollectionEventType.leaked = mine; }),
    finalization: typeof FinalizationRegistry,
  };
  return { before, refused, url: import.meta.url };
}
"#;

const CACHE: &str = r#"
let last = null;
export const remember = (v) => { last = v; };
export const recall = () => last;
"#;

/// CommonJS: a module-scope value and a `module.exports` cache.
const CJS_CACHE: &str = r#"
let last = null;
module.exports = { get: () => last, set: (v) => { last = v; } };
module.exports.memo = module.exports.memo || {};
"#;

/// A CommonJS function requiring the connector's own CommonJS file.
const CJS_FUNCTION: &str = r#"
const cache = require("../lib/cjs-cache.js");
exports.cjs = function cjs({ credentials }) {
  const before = { cjs: cache.get(), memo: { ...cache.memo } };
  cache.set(credentials.token);
  cache.memo[credentials.token] = true;
  return { before };
};
"#;

/// Tries to import the other tenant's instance by writing its specifier.
const FORGE: &str = r#"
export default async function forge({ other }) {
  const direct = await import(`../lib/cache.js?tenant=${encodeURIComponent(other)}`);
  const url = new URL(`../lib/cache.js?tenant=${encodeURIComponent(other)}`, import.meta.url).href;
  const absolute = await import(url);
  // Code made at run time imports with no module of its own as referrer.
  const made = await new Function("u", "return import(u)")(url);
  const evaluated = await (0, eval)(`import(${JSON.stringify(url)})`);
  return {
    direct: direct.recall(), absolute: absolute.recall(),
    made: made.recall(), evaluated: evaluated.recall(),
  };
}
"#;

/// makeApiClient keeps every token it was given at module scope and sends
/// them along: a second tenant's requests must carry none of the first's.
const MAKE_API_CLIENT: &str = r#"
const made = [];
export default function makeApiClient({ credentials, parameters }) {
  made.push(credentials.token);
  return {
    baseUri: parameters.baseUri,
    headers: { Authorization: `Bearer ${credentials.token}`, "X-Made": made.join(",") },
  };
}
"#;

const ECHO: &str = r#"
export default async function echo({ apiClient }) {
  return await apiClient.get("/echo");
}
"#;

/// Leaves a request running when it returns; when it answers, the code
/// that resumes asks the API again and keeps the answer at module scope.
/// Were it to resume inside another tenant's call, that answer would be
/// made with the other tenant's client.
const LEAVE: &str = r#"
const stolen = [];
export default function leave({ apiClient }) {
  apiClient.get("/slow").then(() => apiClient.get("/echo")).then((r) => stolen.push(r), () => {});
  return { stolen: [...stolen] };
}
"#;

const SLOW: &str = r#"
export default async function slow({ apiClient }) {
  return await apiClient.get("/slower");
}
"#;

const THROW: &str = r#"
export default function fails() {
  throw new TypeError("no such record");
}
"#;

const SDK_WALK: &str = r#"
import * as sdk from "@integration-app/sdk";
import * as connectorSdk from "@integration-app/connector-sdk";
import * as membrane from "@membranehq/sdk";
export default function walk() {
  const unfrozen = [];
  const seen = new Set();
  const visit = (v, path) => {
    if (v === null || (typeof v !== "object" && typeof v !== "function") || seen.has(v)) return;
    seen.add(v);
    if (!Object.isFrozen(v)) unfrozen.push(path);
    for (const k of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, k);
      visit(d.value, `${path}.${String(k)}`);
      visit(d.get, `${path}.get ${String(k)}`);
      visit(d.set, `${path}.set ${String(k)}`);
    }
    visit(Object.getPrototypeOf(v), `${path}.__proto__`);
  };
  for (const [name, ns] of [["sdk", sdk], ["connector-sdk", connectorSdk], ["membrane", membrane]]) {
    for (const k of Object.keys(ns)) visit(ns[k], `${name}.${k}`);
  }
  return { unfrozen, visited: seen.size };
}
"#;

const COUNT: &str = r#"
let calls = 0;
export default function count() {
  calls += 1;
  globalThis.counted = (globalThis.counted ?? 0) + 1;
  return { calls, counted: globalThis.counted };
}
"#;

fn connector() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in [
        ("data/leak.js", LEAK),
        ("data/cjs.js", CJS_FUNCTION),
        ("data/forge.js", FORGE),
        ("data/echo.js", ECHO),
        ("data/leave.js", LEAVE),
        ("data/slow.js", SLOW),
        ("data/fails.js", THROW),
        ("data/walk.js", SDK_WALK),
        ("data/count.js", COUNT),
        ("lib/cache.js", CACHE),
        ("lib/cjs-cache.js", CJS_CACHE),
        ("auth/make-api-client.js", MAKE_API_CLIENT),
    ] {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn engine(root: &Path, limits: Limits) -> Engine {
    common::engine(root, "tenants", limits, true)
}

/// One runtime, so every call below meets the others' leftovers.
fn one_runtime() -> Limits {
    Limits {
        runtimes: 1,
        ..Limits::default()
    }
}

/// A call of `data/<name>.js` for `tenant`, whose token is `token`.
fn call(root: &Path, name: &str, tenant: Option<&str>, token: &str, base: &str) -> Call {
    let mut c = common::call(root, name, json!({}));
    c.credentials = json!({ "token": token });
    c.connector_parameters = json!({ "baseUri": base });
    c.tenant = tenant.map(str::to_string);
    c
}

async fn value(e: &Engine, c: Call) -> Value {
    e.call(c).await.unwrap().value
}

/// A loopback API: `/echo` answers with the request's Authorization and
/// X-Made headers, `/slow` answers `{"slow": true}` after 300 ms and
/// `/slower` after 800 ms. Each
/// connection is served on its own thread.
fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                let text = String::from_utf8_lossy(&got).to_string();
                let header = |name: &str| {
                    text.lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                        })
                        .unwrap_or_default()
                };
                let body = if text.starts_with("GET /slower") {
                    std::thread::sleep(Duration::from_millis(800));
                    json!({"slow": true})
                } else if text.starts_with("GET /slow") {
                    std::thread::sleep(Duration::from_millis(300));
                    json!({"slow": true})
                } else {
                    json!({"authorization": header("authorization"), "made": header("x-made")})
                }
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_b_never_sees_what_tenant_a_kept_and_a_keeps_its_own() {
    let dir = connector();
    let root = dir.path();
    let e = engine(root, one_runtime());
    let leak = |tenant: &str, token: &str| call(root, "leak", Some(tenant), token, "http://x.test");

    let a1 = value(&e, leak("A", A)).await;
    let nothing = json!({
        "seen": [], "token": null, "cache": null, "cjs": null, "stash": null,
        "viaGlobalThis": null, "rebound": null, "objectProto": null,
        "sdkProto": null, "sdkClass": null, "sdkEnum": null, "dynamic": null,
    });
    assert_eq!(a1["before"], nothing, "{a1}");
    let b1 = value(&e, leak("B", B)).await;
    assert_eq!(b1["before"], nothing, "{b1}");
    assert!(!b1.to_string().contains(A), "B saw A's token: {b1}");

    // A's module scope is still A's; B's writes reached none of it.
    let a2 = value(&e, leak("A", A)).await;
    assert_eq!(a2["before"]["seen"], json!([A]), "{a2}");
    for key in ["token", "cache", "cjs", "dynamic"] {
        assert_eq!(a2["before"][key], A, "{key}: {a2}");
    }
    assert!(!a2.to_string().contains(B), "A saw B's token: {a2}");
    let b2 = value(&e, leak("B", B)).await;
    assert_eq!(b2["before"]["seen"], json!([B]), "{b2}");
    assert!(!b2.to_string().contains(A), "B saw A's token: {b2}");

    // Every shared place refused the write, naming what was written.
    let refused = &b2["refused"];
    assert_eq!(
        refused["globalAssign"], "TypeError: Cannot add property stash, object is not extensible",
        "{refused}"
    );
    for key in [
        "globalDefine",
        "globalRebind",
        "globalProto",
        "objectProto",
        "sdkProto",
        "sdkClass",
        "sdkEnum",
    ] {
        let r = refused[key].as_str().unwrap();
        assert!(r.starts_with("TypeError"), "{key}: {refused}");
    }
    assert_eq!(refused["finalization"], "undefined");
    // Each tenant's modules are its own instances.
    assert!(
        b2["url"]
            .as_str()
            .unwrap()
            .ends_with("data/leak.js?tenant=B"),
        "{b2}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commonjs_module_exports_cache_is_per_tenant() {
    let dir = connector();
    let root = dir.path();
    let e = engine(root, one_runtime());
    let cjs = |tenant: &str, token: &str| call(root, "cjs", Some(tenant), token, "http://x.test");
    assert_eq!(
        value(&e, cjs("A", A)).await["before"],
        json!({"cjs": null, "memo": {}})
    );
    assert_eq!(
        value(&e, cjs("B", B)).await["before"],
        json!({"cjs": null, "memo": {}})
    );
    assert_eq!(
        value(&e, cjs("A", A)).await["before"],
        json!({"cjs": A, "memo": {A: true}})
    );
    assert_eq!(
        value(&e, cjs("B", B)).await["before"],
        json!({"cjs": B, "memo": {B: true}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_naming_another_tenant_gets_the_importers_own_instance() {
    let dir = connector();
    let root = dir.path();
    let e = engine(root, one_runtime());
    value(&e, call(root, "leak", Some("A"), A, "http://x.test")).await;
    let mut forge = call(root, "forge", Some("B"), B, "http://x.test");
    forge.input = json!({"other": "A"});
    let out = value(&e, forge).await;
    assert_eq!(
        out,
        json!({"direct": null, "absolute": null, "made": null, "evaluated": null})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_gets_its_own_client_even_with_the_same_credentials() {
    let dir = connector();
    let root = dir.path();
    let base = server();
    let e = engine(root, one_runtime());
    let echo = |tenant: &str, token: &str| call(root, "echo", Some(tenant), token, &base);
    let a = value(&e, echo("A", A)).await;
    assert_eq!(
        a,
        json!({"authorization": format!("Bearer {A}"), "made": A})
    );
    let b = value(&e, echo("B", B)).await;
    assert_eq!(
        b,
        json!({"authorization": format!("Bearer {B}"), "made": B})
    );
    // Same credentials as A, another tenant: its own makeApiClient
    // instance makes its own client.
    let c = value(&e, echo("C", A)).await;
    assert_eq!(
        c,
        json!({"authorization": format!("Bearer {A}"), "made": A})
    );
    // A's client is made again (it was replaced), by A's instance.
    let a = value(&e, echo("A", A)).await;
    assert_eq!(a["made"], format!("{A},{A}"), "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_a_call_left_running_never_resumes_in_another_tenants_call() {
    let dir = connector();
    let root = dir.path();
    let base = server();
    let e = engine(root, one_runtime());
    // A leaves a request running; B's call lasts longer than that request.
    let left = value(&e, call(root, "leave", Some("A"), A, &base)).await;
    assert_eq!(left, json!({"stolen": []}));
    let slow = value(&e, call(root, "slow", Some("B"), B, &base)).await;
    assert_eq!(slow, json!({"slow": true}));
    // Had A's code resumed during B's call, it would hold B's answer.
    let again = value(&e, call(root, "leave", Some("A"), A, &base)).await;
    assert!(!again.to_string().contains(B), "{again}");

    // The same tenant's leftover work resumes in its next call, as today.
    let e = engine(root, one_runtime());
    value(&e, call(root, "leave", Some("A"), A, &base)).await;
    value(&e, call(root, "slow", Some("A"), A, &base)).await;
    let again = value(&e, call(root, "leave", Some("A"), A, &base)).await;
    assert_eq!(
        again["stolen"][0]["authorization"],
        format!("Bearer {A}"),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tenant_module_scope_and_globals_persist_as_before() {
    let dir = connector();
    let root = dir.path();
    let e = engine(root, one_runtime());
    let count = || call(root, "count", None, A, "http://x.test");
    assert_eq!(value(&e, count()).await, json!({"calls": 1, "counted": 1}));
    assert_eq!(value(&e, count()).await, json!({"calls": 2, "counted": 2}));
    let leak = value(&e, call(root, "leak", None, A, "http://x.test")).await;
    assert_eq!(leak["refused"]["globalAssign"], "stored", "{leak}");
    let leak = value(&e, call(root, "leak", None, A, "http://x.test")).await;
    assert_eq!(leak["before"]["seen"], json!([A]), "{leak}");
    assert_eq!(leak["before"]["stash"], A, "{leak}");

    // A tenant's call after those gets a runtime of its own: no global, no
    // module scope of theirs.
    let t = value(&e, call(root, "leak", Some("T"), B, "http://x.test")).await;
    assert_eq!(t["before"]["stash"], Value::Null, "{t}");
    assert_eq!(t["before"]["seen"], json!([]), "{t}");
    assert!(!t.to_string().contains(A), "{t}");
    // And its globals are sealed.
    let sealed = e
        .call(call(root, "count", Some("T"), B, "http://x.test"))
        .await;
    assert!(sealed.is_err(), "{sealed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_globals_are_refused_not_silently_dropped() {
    let dir = connector();
    let root = dir.path();
    let e = engine(root, one_runtime());
    let err = e
        .call(call(root, "count", Some("A"), A, "http://x.test"))
        .await
        .unwrap_err();
    let info = err.js().expect("a JavaScript error");
    assert_eq!(info.class, "TypeError", "{err}");
    assert!(
        info.message.contains("Cannot add property counted"),
        "{err}"
    );
    assert_eq!(
        info.location.as_ref().map(|l| l.file.as_str()),
        Some("data/count.js"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_bound_the_runtime_is_replaced_and_calls_still_succeed() {
    let dir = connector();
    let root = dir.path();
    let e = engine(
        root,
        Limits {
            runtimes: 1,
            tenants_per_runtime: 2,
            ..Limits::default()
        },
    );
    let leak = |tenant: &str| call(root, "leak", Some(tenant), tenant, "http://x.test");
    assert_eq!(value(&e, leak("A")).await["before"]["seen"], json!([]));
    assert_eq!(value(&e, leak("B")).await["before"]["seen"], json!([]));
    // Two tenants: A's instances live.
    assert_eq!(value(&e, leak("A")).await["before"]["seen"], json!(["A"]));
    // The third tenant replaces the runtime: A's module scope is gone.
    assert_eq!(value(&e, leak("C")).await["before"]["seen"], json!([]));
    assert_eq!(value(&e, leak("A")).await["before"]["seen"], json!([]));
    assert_eq!(value(&e, leak("A")).await["before"]["seen"], json!(["A"]));
    // C and A now: B is the third again.
    assert_eq!(value(&e, leak("C")).await["before"]["seen"], json!(["C"]));
    assert_eq!(value(&e, leak("B")).await["before"]["seen"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_file_not_the_tenant() {
    let dir = connector();
    let root = dir.path();
    std::fs::write(root.join("data/broken.js"), "export default function (\n").unwrap();
    let e = engine(root, one_runtime());
    for name in ["fails", "broken"] {
        let err = e
            .call(call(root, name, Some("secret-tenant"), A, "http://x.test"))
            .await
            .unwrap_err();
        let CallError::Js(info) = &err else {
            panic!("{err:?}")
        };
        let text = format!("{err} {info:?}");
        assert!(!text.contains("tenant"), "{text}");
        assert_eq!(
            info.location.as_ref().map(|l| l.file.clone()),
            Some(format!("data/{name}.js")),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sdk_export_is_frozen() {
    let dir = connector();
    let root = dir.path();
    let e = engine(root, one_runtime());
    let out = value(&e, call(root, "walk", Some("A"), A, "http://x.test")).await;
    assert_eq!(out["unfrozen"], json!([]), "{out}");
    assert!(out["visited"].as_u64().unwrap() > 20, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_modules_replace_the_runtime_before_the_heap_limit_does() {
    let dir = connector();
    let root = dir.path();
    // About 4 MB of module-scope data per tenant, a 32 MiB heap.
    std::fs::write(
        root.join("data/big.js"),
        "const ballast = Array.from({ length: 250000 }, (_, i) => i)\nlet calls = 0\nexport default function big() { calls += 1; return { calls, size: ballast.length } }\n",
    )
    .unwrap();
    let e = engine(
        root,
        Limits {
            runtimes: 1,
            heap_bytes: 32 << 20,
            ..Limits::default()
        },
    );
    let big = |tenant: &str| call(root, "big", Some(tenant), tenant, "http://x.test");
    for i in 0..12 {
        let out = e.call(big(&format!("t{i}"))).await;
        assert_eq!(out.unwrap().value["calls"], 1, "tenant {i}");
    }
    // t0's instances went with an earlier runtime.
    assert_eq!(value(&e, big("t0")).await["calls"], 1);
    assert_eq!(value(&e, big("t0")).await["calls"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_outlives_hundreds_of_replaced_runtimes() {
    // The backend cannot start more than about 220 runtimes on one thread
    // (worker.rs: one runtime per thread): with one tenant per runtime every
    // call below replaces it.
    let dir = connector();
    let root = dir.path();
    let e = engine(
        root,
        Limits {
            runtimes: 1,
            tenants_per_runtime: 1,
            ..Limits::default()
        },
    );
    for i in 0..250 {
        let tenant = format!("t{i}");
        let out = e
            .call(call(root, "cjs", Some(&tenant), &tenant, "http://x.test"))
            .await;
        assert_eq!(
            out.map(|o| o.value["before"]["cjs"].clone()).ok(),
            Some(Value::Null),
            "call {i}"
        );
    }
}
