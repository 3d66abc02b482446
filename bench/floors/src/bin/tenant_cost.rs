//! What keeping connections apart inside shared runtimes costs
//! (`Call::tenant`; docs/engine.md, "Isolation between connections"), side
//! by side in one process:
//!
//! - time: a warm call (same tenant, warm runtime); a call of another
//!   tenant already loaded in the runtime (its client is made again); the
//!   first call of a new tenant in a warm runtime (its module instances
//!   load); and the first call of a new tenant on a fresh runtime (what a
//!   runtime per connection, or a recycle, costs). Rounds interleave the
//!   four; medians and ratios to the warm call.
//! - memory: process RSS growth per additional tenant's module set in one
//!   runtime, against RSS growth per additional runtime (an engine with
//!   one runtime per connection), each measured in its own phase.
//! - the bound: new tenants that never come back, on a runtime bounded to
//!   16, 64, 128, 256 tenants: the cost per call with the replacements.
//!
//! `cargo run --release -p bench-floors --bin tenant_cost [ROUNDS] [TENANTS]`
//! (default 200 rounds, 1,000 tenants for the memory phase). The connector
//! is written to a temporary directory: five files (makeApiClient, a
//! CommonJS list function as tsc writes it, requiring two ES helper modules
//! and a CommonJS one), about 11 KB of JavaScript.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_api_client::HttpClient;
use runtime_engine::{Call, Engine, EngineConfig, FunctionFile, Limits};
use serde_json::json;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let tenants: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let dir = std::env::temp_dir().join(format!("tenant-cost-{}", std::process::id()));
    write_connector(&dir);
    let root = std::fs::canonicalize(&dir).expect("connector directory");
    let host = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let js: Vec<PathBuf> = walk(&root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .collect();
    let bytes: u64 = js
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    println!("connector: {} JavaScript files, {bytes} bytes", js.len());

    host.block_on(async {
        // Memory first, before the timing phase's runtimes churn the
        // allocator.
        memory_per_tenant(&root, tenants).await;
        memory_per_runtime(&root, 40).await;
        times(&root, rounds).await;
        for k in [16, 64, 128, 256] {
            rotation(&root, k).await;
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

async fn memory_per_tenant(root: &Path, tenants: usize) {
    // A heap limit no tenant count here reaches: the runtime is never
    // replaced in this phase.
    let engine = engine_with(root, usize::MAX, 4 << 30);
    // One tenant first: the runtime, runtime-js and the SDK are loaded.
    call(&engine, root, "t-0").await;
    let base = rss_kb();
    let step = (tenants / 5).max(1);
    let mut points = vec![(0usize, base)];
    let mut load = Vec::new();
    for i in 1..=tenants {
        load.push(call(&engine, root, &format!("t-{i}")).await);
        if i % step == 0 {
            points.push((i, rss_kb()));
        }
    }
    // A new tenant's call walks the heap once (worker.rs, `heap_used`):
    // does it cost more as the runtime fills?
    let k = (tenants / 10).max(1);
    let mut first = load[..k.min(load.len())].to_vec();
    let mut last = load[load.len().saturating_sub(k)..].to_vec();
    println!(
        "new tenant's call, median of the first {k} / the last {k} tenants of one runtime: {:.3} ms / {:.3} ms",
        ms(median(&mut first)),
        ms(median(&mut last)),
    );
    let (n, last) = points.last().copied().unwrap_or((0, base));
    println!(
        "memory per tenant (one runtime, {n} more tenants): RSS +{} KB in all, {:.1} KB per tenant; points (tenants, RSS KB): {points:?}",
        last.saturating_sub(base),
        last.saturating_sub(base) as f64 / n.max(1) as f64,
    );
}

async fn memory_per_runtime(root: &Path, runtimes: usize) {
    let base = rss_kb();
    let mut engines = Vec::new();
    for i in 0..runtimes {
        let e = engine(root, usize::MAX);
        call(&e, root, &format!("r-{i}")).await;
        engines.push(e);
    }
    let grown = rss_kb().saturating_sub(base);
    println!(
        "memory per runtime ({runtimes} engines of one runtime, one call each): RSS +{grown} KB in all, {:.0} KB per runtime",
        grown as f64 / runtimes as f64
    );
    drop(engines);
}

async fn times(root: &Path, rounds: usize) {
    let warm_engine = engine(root, usize::MAX);
    // K = 1: every new tenant replaces the runtime first.
    let fresh_engine = engine(root, 1);
    call(&warm_engine, root, "warm").await;
    call(&warm_engine, root, "other").await;
    call(&fresh_engine, root, "fresh-warmup").await;
    let (mut warm, mut switch, mut new_tenant, mut fresh) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        // Same tenant twice: the second is the warm call.
        call(&warm_engine, root, "warm").await;
        warm.push(call(&warm_engine, root, "warm").await);
        // Another loaded tenant: client made again, no module loads.
        switch.push(call(&warm_engine, root, "other").await);
        new_tenant.push(call(&warm_engine, root, &format!("new-{i}")).await);
        fresh.push(call(&fresh_engine, root, &format!("fresh-{i}")).await);
    }
    let w = median(&mut warm);
    for (what, times) in [
        ("warm call (same tenant)", &mut warm),
        ("another loaded tenant's call", &mut switch),
        ("new tenant, warm runtime", &mut new_tenant),
        ("new tenant, fresh runtime", &mut fresh),
    ] {
        let m = median(times);
        println!(
            "{what}: median {:.3} ms ({:.1}x the warm call), p90 {:.3} ms",
            ms(m),
            m.as_secs_f64() / w.as_secs_f64(),
            ms(p90(times)),
        );
    }
}

/// Tenants that never come back, on one runtime bounded to `k`: what a
/// new tenant's call costs with the runtime's replacement every `k` of
/// them shared out (a bigger `k` replaces less often, but loads into a
/// fuller heap).
async fn rotation(root: &Path, k: usize) {
    let engine = engine(root, k);
    call(&engine, root, &format!("k{k}-warmup")).await;
    let n = 4 * k;
    let t = Instant::now();
    for i in 0..n {
        call(&engine, root, &format!("k{k}-{i}")).await;
    }
    let each = t.elapsed() / n as u32;
    println!(
        "tenants_per_runtime {k}: {n} new tenants, {:.3} ms per call including the runtime's replacement every {k}",
        ms(each)
    );
}

fn engine(root: &Path, tenants_per_runtime: usize) -> Engine {
    engine_with(root, tenants_per_runtime, Limits::default().heap_bytes)
}

fn engine_with(root: &Path, tenants_per_runtime: usize, heap_bytes: usize) -> Engine {
    Engine::start(EngineConfig {
        name: "tenant-cost".into(),
        root: root.to_path_buf(),
        limits: Limits {
            runtimes: 1,
            tenants_per_runtime,
            heap_bytes,
            ..Limits::default()
        },
        http: Arc::new(Default::default()),
        client: HttpClient::new().expect("HTTP client"),
        spec_base_uri: None,
        allowed_hosts: Arc::new(vec![]),
        make_api_client: Some(FunctionFile {
            path: root.join("auth/make-api-client.js"),
            rel: "auth/make-api-client.js".into(),
            export: "makeApiClient".into(),
        }),
        refresh_credentials: None,
        oauth_config: None,
    })
    .expect("engine")
}

/// One call of the list function for `tenant`; its time.
async fn call(engine: &Engine, root: &Path, tenant: &str) -> Duration {
    let t = Instant::now();
    let out = engine
        .call(Call {
            function: FunctionFile {
                path: root.join("data/contacts/list.js"),
                rel: "data/contacts/list.js".into(),
                export: "list".into(),
            },
            collection: Some("contacts".into()),
            input: json!({"parameters": {}}),
            credentials: json!({"accessToken": format!("token-{tenant}")}),
            connector_parameters: json!({"region": "eu"}),
            records: Default::default(),
            tenant: Some(tenant.to_string()),
        })
        .await
        .expect("call");
    let d = t.elapsed();
    let count = out.value["records"].as_array().map_or(0, Vec::len);
    assert_eq!(count, 20, "the list function answered {}", out.value);
    d
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn p90(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times.get(times.len() * 9 / 10).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The benchmark's connector: five files, shaped like a compiled Membrane
/// connector (field tables, paging and mapping helpers, a CommonJS util).
fn write_connector(dir: &Path) {
    let fields: String = (0..60)
        .map(|i| {
            format!(
                "  {{ key: 'field{i}', apiName: 'Field_{i}__c', type: '{}', label: 'Field number {i}' }},\n",
                ["string", "number", "boolean", "date"][i % 4]
            )
        })
        .collect();
    let utils: String = (0..25)
        .map(|i| {
            format!(
                "exports.util{i} = function util{i}(value, options) {{\n  if (value === undefined || value === null) return options && options.fallback !== undefined ? options.fallback : null;\n  const text = String(value).trim();\n  return text.length > {i} ? text.slice(0, {i} + 40) : text;\n}};\n"
            )
        })
        .collect();
    let files = [
        (
            "spec.yml",
            "key: tenant-cost\nname: Tenant cost\n".to_string(),
        ),
        (
            "auth/make-api-client.js",
            "import { baseUri } from '../lib/api.js'\n\nexport default function makeApiClient({ credentials, parameters }) {\n  return {\n    baseUri: baseUri(parameters),\n    headers: { Authorization: `Bearer ${credentials.accessToken}`, 'X-Region': parameters.region },\n  }\n}\n".to_string(),
        ),
        (
            "data/contacts/list.js",
            "\"use strict\";\nconst api_1 = require(\"../../lib/api.js\");\nconst fields_1 = require(\"../../lib/fields.js\");\nconst util = require(\"../../lib/util.js\");\n\nexports.list = async function list({ parameters, cursor }) {\n  const raw = (0, api_1.page)(cursor, 20);\n  const records = raw.map((r) => (0, fields_1.toRecord)(r, util));\n  return { records, cursor: null };\n};\n".to_string(),
        ),
        (
            "lib/api.js",
            "export const PAGE_SIZE = 100\nconst REGIONS = { eu: 'https://eu.api.example.com/v2', us: 'https://api.example.com/v2', ap: 'https://ap.api.example.com/v2' }\n\nexport function baseUri(parameters) {\n  return REGIONS[parameters && parameters.region] || REGIONS.us\n}\n\nexport function page(cursor, size) {\n  const start = cursor ? Number(cursor) : 0\n  const out = []\n  for (let i = start; i < start + size; i++) {\n    out.push({ Id: String(i), Name: `Contact ${i}`, Email: `c${i}@example.com`, Field_1__c: i, Field_2__c: i % 2 === 0, LastModifiedDate: '2026-01-01T00:00:00Z' })\n  }\n  return out\n}\n\nexport function query(params) {\n  const parts = []\n  for (const [k, v] of Object.entries(params || {})) {\n    if (v === undefined || v === null) continue\n    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)\n  }\n  return parts.length ? `?${parts.join('&')}` : ''\n}\n\nexport async function paginate(apiClient, path, params) {\n  const items = []\n  let next = null\n  do {\n    const res = await apiClient.get(path + query({ ...params, cursor: next, limit: PAGE_SIZE }))\n    items.push(...(res.items || []))\n    next = res.nextCursor || null\n  } while (next)\n  return items\n}\n".to_string(),
        ),
        (
            "lib/fields.js",
            format!("export const FIELDS = [\n{fields}]\n\nconst BY_API_NAME = new Map(FIELDS.map((f) => [f.apiName, f]))\n\nfunction convert(field, value) {{\n  switch (field.type) {{\n    case 'number': return value === null || value === undefined ? null : Number(value)\n    case 'boolean': return Boolean(value)\n    case 'date': return value ? new Date(value).toISOString() : null\n    default: return value === undefined ? null : value\n  }}\n}}\n\nexport function toRecord(raw, util) {{\n  const fields = {{}}\n  for (const [name, value] of Object.entries(raw)) {{\n    const field = BY_API_NAME.get(name)\n    if (field) fields[field.key] = convert(field, value)\n  }}\n  return {{ id: raw.Id, name: util.util9(raw.Name), updatedTime: raw.LastModifiedDate, fields }}\n}}\n"),
        ),
        ("lib/util.js", utils),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("directory");
        std::fs::write(path, text).expect("write");
    }
}
