//! Connector files as Membrane connectors really are: TypeScript (types
//! stripped, errors at the `.ts` file's own lines), CommonJS, and the
//! built-in SDK modules, through a real engine.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use runtime_api_client::HttpClient;
use runtime_engine::{Call, CallError, Engine, EngineConfig, FunctionFile, Limits};
use serde_json::{json, Value};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
}

fn file(root: &Path, rel: &str, export: &str) -> FunctionFile {
    FunctionFile {
        path: root.join(rel),
        rel: rel.into(),
        export: export.into(),
    }
}

fn engine(root: &Path, make_api_client: Option<&str>) -> Engine {
    let root = std::fs::canonicalize(root).unwrap();
    Engine::start(EngineConfig {
        name: "ts".into(),
        make_api_client: make_api_client.map(|rel| file(&root, rel, "makeApiClient")),
        root,
        limits: Limits::default(),
        http: Arc::new(Default::default()),
        client: HttpClient::new().unwrap(),
        spec_base_uri: None,
        allowed_hosts: Arc::new(vec![]),
        refresh_credentials: None,
        oauth_config: None,
    })
    .unwrap()
}

async fn run(
    engine: &Engine,
    root: &Path,
    rel: &str,
    export: &str,
    input: Value,
) -> Result<Value, CallError> {
    let root = std::fs::canonicalize(root).unwrap();
    engine
        .call(Call {
            function: file(&root, rel, export),
            collection: None,
            input,
            credentials: json!({"key": "K-1"}),
            connector_parameters: json!({}),
            records: Default::default(),
            tenant: None,
        })
        .await
        .map(|o| o.value)
}

fn js_error(result: Result<Value, CallError>) -> runtime_engine::JsErrorInfo {
    match result {
        Err(CallError::Js(info)) => info,
        other => panic!("expected a JavaScript error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_loads_with_its_types_and_type_only_imports_gone() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "data/contacts/find.ts",
                r#"import type { DataRecord } from '@integration-app/sdk'
import { FindArgs, DataCollectionFindResponse } from '@integration-app/sdk'
import { fullName, Kind } from '../../api/names'

interface Raw { id: number; first: string; last: string }
type Page = { records: DataRecord[]; cursor?: string }

export default async function find({ parameters }: FindArgs): Promise<DataCollectionFindResponse> {
  const raw: Raw[] = [{ id: 1, first: 'Ada', last: 'Lovelace' }]
  const page: Page = { records: raw.map((r) => ({ id: String(r.id), name: fullName(r), fields: { kind: Kind.Person } })) }
  return page as DataCollectionFindResponse
}
"#,
            ),
            (
                "api/names.ts",
                "export enum Kind { Person = 'person', Company = 'company' }\nexport function fullName<T extends { first: string; last: string }>(r: T): string {\n  return `${r.first} ${r.last}`\n}\n",
            ),
        ],
    );
    let engine = engine(dir.path(), None);
    let value = run(
        &engine,
        dir.path(),
        "data/contacts/find.ts",
        "find",
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(
        value,
        json!({"records": [{"id": "1", "name": "Ada Lovelace", "fields": {"kind": "person"}}]})
    );
    // Loaded again from the engine's cache: the same answer.
    let again = run(
        &engine,
        dir.path(),
        "data/contacts/find.ts",
        "find",
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(again, value);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throw_in_typescript_names_the_ts_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    // Types before the throw on its line and above it: the transpiled
    // JavaScript has other columns and fewer lines.
    write(
        dir.path(),
        &[(
            "data/fail.ts",
            "interface Input {\n  n: number\n}\n\ntype Out = { ok: boolean }\n\nexport default function fail({ n }: Input): Out {\n  const limit: number = 3; if (n > limit) { throw new RangeError(`too big: ${n}`) }\n  return { ok: true }\n}\n",
        )],
    );
    let engine = engine(dir.path(), None);
    let info = js_error(run(&engine, dir.path(), "data/fail.ts", "fail", json!({"n": 5})).await);
    assert_eq!(info.class, "RangeError");
    assert_eq!(info.message, "too big: 5");
    let at = info.location.expect("a location");
    assert_eq!(at.file, "data/fail.ts");
    assert_eq!(at.line, 8, "{at}");
    // `throw` starts at column 45 of line 8; the engine reports the throw
    // or its `new` (column 51).
    assert!([45, 51].contains(&at.column), "{at}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_typescript_syntax_error_names_the_ts_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[(
            "data/bad.ts",
            "// fine\nexport default function bad(): number {\n  const x: = 1\n  return x\n}\n",
        )],
    );
    let engine = engine(dir.path(), None);
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let err = engine
        .check(file(&root, "data/bad.ts", "bad"))
        .await
        .unwrap_err();
    let info = js_error(Err(err));
    assert_eq!(info.class, "SyntaxError", "{info}");
    let at = info.location.clone().expect("a location");
    assert_eq!(
        (at.file.as_str(), at.line, at.column),
        ("data/bad.ts", 3, 12),
        "{info}"
    );
    assert!(!info.message.contains("file://"), "{info}");
}

#[tokio::test(flavor = "multi_thread")]
async fn commonjs_files_load_and_require_the_sdk_and_their_own_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            // By its name on `exports`, as the platform's docs write it.
            (
                "data/named.js",
                "const { BadRequestError } = require('@integration-app/sdk/errors')\nconst { double } = require('./lib/math')\nexports.named = function ({ n }) {\n  return { n: double(n), sdk: new BadRequestError('x').data.type }\n}\n",
            ),
            ("data/lib/math.js", "module.exports = { double: (n) => n * 2 }\n"),
            // module.exports itself.
            (
                "data/whole.js",
                "const esm = require('./lib/esm.js')\nmodule.exports = async function ({ n }) { return esm.triple(n) }\n",
            ),
            ("data/lib/esm.js", "export const triple = (n) => n * 3\n"),
            // What tsc makes of `export default` with module: commonjs.
            (
                "data/compiled.js",
                "\"use strict\";\nObject.defineProperty(exports, \"__esModule\", { value: true });\nexports.default = function compiled() { return 'tsc' };\n",
            ),
            // CommonJS TypeScript, with a throw whose line is kept.
            (
                "data/cjs-ts.ts",
                "const limit: number = 1\nmodule.exports = function (input: { n: number }): number {\n  if (input.n > limit) throw new Error('over')\n  return input.n\n}\n",
            ),
            (
                "data/unknown.js",
                "exports.unknown = () => require('l' + 'odash')\n",
            ),
        ],
    );
    let engine = engine(dir.path(), None);
    let r = |rel: &'static str, export: &'static str, input: Value| {
        let engine = engine.clone();
        let root = dir.path().to_path_buf();
        async move { run(&engine, &root, rel, export, input).await }
    };
    assert_eq!(
        r("data/named.js", "named", json!({"n": 2})).await.unwrap(),
        json!({"n": 4, "sdk": "bad_request"})
    );
    assert_eq!(
        r("data/whole.js", "whole", json!({"n": 2})).await.unwrap(),
        json!(6)
    );
    assert_eq!(
        r("data/compiled.js", "compiled", json!({})).await.unwrap(),
        json!("tsc")
    );
    assert_eq!(
        r("data/cjs-ts.ts", "cjsTs", json!({"n": 1})).await.unwrap(),
        json!(1)
    );
    let info = js_error(r("data/cjs-ts.ts", "cjsTs", json!({"n": 2})).await);
    let at = info.location.expect("a location");
    assert_eq!((at.file.as_str(), at.line), ("data/cjs-ts.ts", 3), "{at}");
    let info = js_error(r("data/unknown.js", "unknown", json!({})).await);
    assert!(
        info.message
            .contains("require(\"lodash\") is not supported"),
        "{info}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sdk_module_provides_its_values() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[(
            "data/sdk.ts",
            r#"import { DataCollectionEventType } from '@integration-app/sdk/data-collections'
import { DataLocationType } from '@integration-app/sdk/data-locations'
import * as errors from '@integration-app/sdk/errors'
import { BadRequestError as Root, DataLocationType as RootLocation } from '@integration-app/sdk'
import { BadRequestError as Membrane, DataCollectionEventType as MembraneEvents } from '@membranehq/sdk'
import { RestApiClient, NotFoundError as Cs } from '@integration-app/connector-sdk'

export default function sdk() {
  const classes = ['IntegrationAppError', 'BadRequestError', 'NotFoundError', 'NotAuthenticatedError',
    'AccessDeniedError', 'ConnectionError', 'InternalError']
  const made: Record<string, unknown> = {}
  for (const name of classes) {
    const e = new (errors as any)[name]({ message: `a ${name}`, data: { id: 7 } })
    made[name] = { isError: e instanceof Error, isBase: e instanceof errors.IntegrationAppError,
      name: e.name, message: e.message, type: e.data.type, id: e.data.data?.id }
  }
  const fromString = new errors.NotFoundError('no such deal')
  return {
    events: { ...DataCollectionEventType },
    locations: { ...DataLocationType },
    made,
    fromString: { message: fromString.message, data: fromString.data },
    sameClass: Root === errors.BadRequestError && Membrane === Root && Cs === errors.NotFoundError,
    sameEnums: RootLocation === DataLocationType && MembraneEvents === DataCollectionEventType,
    client: { ...new RestApiClient({ baseUri: 'https://x.example', headers: { A: '1' } }) },
  }
}
"#,
        )],
    );
    let engine = engine(dir.path(), None);
    let v = run(&engine, dir.path(), "data/sdk.ts", "sdk", json!({}))
        .await
        .unwrap();
    assert_eq!(
        v["events"],
        json!({"CREATED": "created", "UPDATED": "updated", "DELETED": "deleted"})
    );
    assert_eq!(
        v["locations"],
        json!({"directory": "directory", "collection": "collection"})
    );
    assert_eq!(v["sameClass"], json!(true));
    assert_eq!(v["sameEnums"], json!(true));
    assert_eq!(
        v["client"],
        json!({"baseUri": "https://x.example", "headers": {"A": "1"}})
    );
    assert_eq!(
        v["fromString"],
        json!({"message": "no such deal", "data": {"message": "no such deal", "type": "not_found"}})
    );
    for (name, ty) in [
        ("BadRequestError", "bad_request"),
        ("NotFoundError", "not_found"),
        ("NotAuthenticatedError", "not_authenticated"),
        ("AccessDeniedError", "access_denied"),
        ("ConnectionError", "connection"),
        ("InternalError", "internal"),
    ] {
        assert_eq!(
            v["made"][name],
            json!({"isError": true, "isBase": true, "name": name, "message": format!("a {name}"), "type": ty, "id": 7}),
            "{name}"
        );
    }
    assert_eq!(
        v["made"]["IntegrationAppError"]["name"],
        json!("IntegrationAppError")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thrown_sdk_error_reaches_rust_with_its_data_and_status() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "data/handle.ts",
                "import { BadRequestError, NotAuthenticatedError, AccessDeniedError, NotFoundError, ConnectionError } from '@integration-app/sdk'\nconst byName: Record<string, any> = { BadRequestError, NotAuthenticatedError, AccessDeniedError, NotFoundError, ConnectionError }\nexport default async function handle({ kind }: { kind: string }) {\n  throw new byName[kind]({ message: `unknown action`, data: { action: 'merge' } })\n}\n",
            ),
            ("data/plain.js", "export default function plain() { const e = new Error('x'); e.data = { type: 'bad_request' }; throw e }\n"),
        ],
    );
    let engine = engine(dir.path(), None);
    for (kind, ty, status) in [
        ("BadRequestError", "bad_request", 400),
        ("NotAuthenticatedError", "not_authenticated", 401),
        ("AccessDeniedError", "access_denied", 403),
        ("NotFoundError", "not_found", 404),
        ("ConnectionError", "connection", 500),
    ] {
        let info = js_error(
            run(
                &engine,
                dir.path(),
                "data/handle.ts",
                "handle",
                json!({"kind": kind}),
            )
            .await,
        );
        assert_eq!(info.class, kind);
        assert_eq!(info.message, "unknown action");
        assert_eq!(info.data_type(), Some(ty), "{info:?}");
        assert_eq!(info.status(), Some(status));
        assert_eq!(
            info.data.as_ref().unwrap()["data"],
            json!({"action": "merge"})
        );
        assert_eq!(
            info.location.as_ref().map(|l| (l.file.as_str(), l.line)),
            Some(("data/handle.ts", 4))
        );
    }
    // Only the SDK's errors carry a status.
    let info = js_error(run(&engine, dir.path(), "data/plain.js", "plain", json!({})).await);
    assert_eq!((info.data.clone(), info.status()), (None, None));
}

#[tokio::test(flavor = "multi_thread")]
async fn other_bare_imports_are_refused_naming_the_importing_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "data/lodash.ts",
                "import _ from 'lodash'\nexport default () => _\n",
            ),
            (
                "data/deep.ts",
                "import { x } from '@integration-app/sdk/udm/contacts'\nexport default () => x\n",
            ),
        ],
    );
    let engine = engine(dir.path(), None);
    for (rel, name) in [
        ("data/lodash.ts", "lodash"),
        ("data/deep.ts", "@integration-app/sdk/udm/contacts"),
    ] {
        let info = js_error(run(&engine, dir.path(), rel, "x", json!({})).await);
        assert!(
            info.message
                .contains(&format!("import of \"{name}\" refused in {rel}")),
            "{info}"
        );
    }
}

/// A loopback server answering every request with 200 and JSON of the
/// request's first line and headers; returns its base URL.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
            let head = String::from_utf8_lossy(&got).into_owned();
            let mut lines = head.lines();
            let first = lines.next().unwrap_or("").to_string();
            let key = lines
                .find_map(|l| l.strip_prefix("x-key: "))
                .unwrap_or("")
                .to_string();
            let body = json!({"request": first, "key": key}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn make_api_client_may_return_a_rest_api_client() {
    let base = echo_server();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "auth/make-api-client.ts",
                &format!(
                    "import {{ RestApiClient }} from '@integration-app/connector-sdk'\nexport default function makeApiClient({{ credentials }}: {{ credentials: {{ key: string }} }}) {{\n  return new RestApiClient({{ baseUri: '{base}/v1', headers: {{ 'X-Key': credentials.key }}, query: {{ api_token: 'T' }} }})\n}}\n"
                ),
            ),
            (
                "data/get.ts",
                "export default async function get({ apiClient }: { apiClient: any }) { return apiClient.get('/deals', { limit: 2 }) }\n",
            ),
        ],
    );
    let engine = engine(dir.path(), Some("auth/make-api-client.ts"));
    let v = run(&engine, dir.path(), "data/get.ts", "get", json!({}))
        .await
        .unwrap();
    let request = v["request"].as_str().unwrap();
    assert!(request.starts_with("GET /v1/deals?"), "{v}");
    assert!(
        request.contains("api_token=T") && request.contains("limit=2"),
        "{v}"
    );
    assert_eq!(v["key"], json!("K-1"));
}
