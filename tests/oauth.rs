//! OAuth2 credentials as Membrane stores them (`access_token`,
//! `refresh_token`, extra fields such as `realmId`): on a 401 a connector
//! with an OAuth config and no refreshCredentials gets its access token
//! refreshed with the refresh_token grant at the config's `tokenUri`,
//! the client authenticated with HTTP Basic, and the request retried with
//! the new token; a refresh the server refuses is one clear error. Through
//! the binary against the mock API's OAuth token endpoint.

mod support;

use mock_api::{MockApi, MockOptions};
use serde_json::{json, Value};
use support::*;

const CLIENT: &str = "export default ({ credentials, parameters }) => ({\n  baseUri: parameters.baseUri,\n  headers: { Authorization: `Bearer ${credentials.access_token}` },\n})\n";
const OAUTH: &str = "export default ({ connectorParameters }) => ({\n  tokenUri: `${connectorParameters.baseUri}/auth/token`,\n  clientId: connectorParameters.clientId,\n  clientSecret: connectorParameters.clientSecret,\n})\n";
const LIST: &str = "export default async ({ apiClient, credentials }) => {\n  const page = await apiClient.get('/contacts')\n  return { records: page.records, realm: credentials.realmId }\n}\n";

fn oauth_connector() -> tempfile::TempDir {
    let spec = "key: oauth\nname: OAuth\nparametersSchema:\n  type: object\n  properties:\n    baseUri: {type: string}\n    clientId: {type: string}\n    clientSecret: {type: string}\n";
    connector(&[
        ("spec.yml", spec),
        ("auth/make-api-client.js", CLIENT),
        ("auth/get-oauth-config.js", OAUTH),
        ("data/contacts/list.js", LIST),
    ])
}

fn mock(refresh_token: &str) -> MockApi {
    let mock = MockApi::start_with(MockOptions {
        require_auth: true,
        token: "old-token".into(),
        refresh_token: Some(refresh_token.into()),
        ..MockOptions::default()
    });
    mock.seed("contacts", 2);
    mock
}

/// The last request for contacts carried `Bearer <token>`.
fn assert_last_bearer(mock: &MockApi, token: &str) {
    let last = mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/contacts")
        .expect("a request for contacts");
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {token}").as_str()),
        "{:?}",
        last.headers
    );
}

fn list(dir: &std::path::Path, mock: &MockApi, refresh_token: &str) -> Run {
    let conn = connection_file(
        dir,
        &json!({
            "credentials": {"access_token": "old-token", "refresh_token": refresh_token, "realmId": "r-9"},
            "parameters": {"baseUri": mock.base_url(), "clientId": "client-1", "clientSecret": "secret-shh"},
        }),
    );
    invoke_with(
        &[],
        dir,
        "data/contacts/list",
        &json!({}),
        &["--connection", conn.to_str().unwrap()],
    )
}

#[test]
fn a_401_refreshes_the_access_token_with_the_refresh_token_grant() {
    let mock = mock("refresh-1");
    let dir = oauth_connector();
    mock.expire_token();
    let run = list(dir.path(), &mock, "refresh-1");
    let out: Value = run.json();
    assert_eq!(out["records"].as_array().map(Vec::len), Some(2), "{run}");
    // Extra fields survive the refresh.
    assert_eq!(out["realm"], "r-9");
    let token_requests: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/auth/token")
        .collect();
    assert_eq!(token_requests.len(), 1);
    let req = &token_requests[0];
    assert_eq!(req.method, "POST");
    let body = String::from_utf8_lossy(&req.body).to_string();
    let form = query_pairs(&body);
    assert!(
        form.contains(&("grant_type".into(), "refresh_token".into())),
        "{body}"
    );
    assert!(
        form.contains(&("refresh_token".into(), "refresh-1".into())),
        "{body}"
    );
    assert!(
        !body.contains("secret-shh"),
        "client secret in the body: {body}"
    );
    let basic = req
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    // base64("client-1:secret-shh")
    assert_eq!(basic, "Basic Y2xpZW50LTE6c2VjcmV0LXNoaA==");
    // The retried request carried the new token.
    assert_last_bearer(&mock, "token-1");
}

#[test]
fn a_refused_refresh_is_one_clear_error() {
    let mock = mock("the-good-one");
    let dir = oauth_connector();
    mock.expire_token();
    let run = list(dir.path(), &mock, "stale-refresh");
    assert!(!run.ok(), "{run}");
    let err = run.failure();
    assert!(
        err.contains("refreshing the OAuth2 access token failed")
            && err.contains("/auth/token")
            && err.contains("400"),
        "{run}"
    );
    assert!(
        !err.contains("stale-refresh") && !err.contains("secret-shh"),
        "{run}"
    );
    // Where the failed request was made.
    assert!(err.contains("data/contacts/list.js:2:"), "{run}");
    assert_eq!(mock.request_count("/auth/token"), 1, "no loop");
    assert_eq!(mock.request_count("/contacts"), 1, "not retried");
}

#[test]
fn without_a_refresh_token_the_401_says_so() {
    let mock = mock("refresh-1");
    let dir = oauth_connector();
    mock.expire_token();
    let conn = connection_file(
        dir.path(),
        &json!({
            "credentials": {"access_token": "old-token"},
            "parameters": {"baseUri": mock.base_url(), "clientId": "c", "clientSecret": "s"},
        }),
    );
    let run = invoke_with(
        &[],
        dir.path(),
        "data/contacts/list",
        &json!({}),
        &["--connection", conn.to_str().unwrap()],
    );
    assert!(run.failure().contains("no refresh_token"), "{run}");
    assert_eq!(mock.request_count("/auth/token"), 0);
}

/// A refreshed token is kept in the data dir: the next run starts from it
/// (no second refresh, which a server rotating refresh tokens would refuse),
/// until the connection file gives other credentials.
#[test]
fn the_refreshed_token_is_kept_for_the_next_run() {
    let mock = mock("refresh-1");
    let dir = oauth_connector();
    let data = tempfile::tempdir().unwrap();
    let sink = data.path().join("events.jsonl");
    let run_once = |access_token: &str| {
        let conn = connection_file(
            dir.path(),
            &json!({
                "credentials": {"access_token": access_token, "refresh_token": "refresh-1"},
                "parameters": {"baseUri": mock.base_url(), "clientId": "c", "clientSecret": "s"},
            }),
        );
        let args = [
            "run",
            dir.path().to_str().unwrap(),
            "--connection",
            conn.to_str().unwrap(),
            "--data-dir",
            data.path().to_str().unwrap(),
            "--sink",
            &format!("file:{}", sink.display()),
            "--once",
        ];
        let run = runtime(&args, &[]);
        assert!(run.ok(), "{run}");
    };
    mock.expire_token();
    run_once("old-token");
    assert_eq!(mock.request_count("/auth/token"), 1);
    run_once("old-token");
    assert_eq!(
        mock.request_count("/auth/token"),
        1,
        "the second run used the kept token"
    );
    // New credentials in the connection file win over the kept ones.
    mock.set_token("operator-token");
    run_once("operator-token");
    assert_eq!(mock.request_count("/auth/token"), 1);
    assert_last_bearer(&mock, "operator-token");
}

/// `state reset` unregisters with the credentials a run refreshed and
/// kept, not the connection file's (whose refresh token a rotating server
/// has retired): no second refresh, and the registration is gone.
#[test]
fn state_reset_uses_the_kept_credentials() {
    let mock = mock("refresh-1");
    let dir = oauth_connector();
    write(
        dir.path(),
        "data/hooks/events-webhook-subscribe.js",
        "export default async ({ apiClient, webhookUri }) => ({ state: { id: (await apiClient.post('/webhooks', { url: webhookUri })).id } })\n",
    );
    write(
        dir.path(),
        "data/hooks/events-webhook-handle.js",
        "export default async () => null\n",
    );
    write(
        dir.path(),
        "data/hooks/events-webhook-unsubscribe.js",
        "export default async ({ apiClient, state }) => { await apiClient.delete(`/webhooks/${state.id}`) }\n",
    );
    let data = tempfile::tempdir().unwrap();
    let conn = connection_file(
        dir.path(),
        &json!({
            "credentials": {"access_token": "old-token", "refresh_token": "refresh-1"},
            "parameters": {"baseUri": mock.base_url(), "clientId": "c", "clientSecret": "s"},
            "collections": {"contacts": {"enabled": false}},
        }),
    );
    let (dir_s, conn_s, data_s) = (
        dir.path().to_str().unwrap(),
        conn.to_str().unwrap(),
        data.path().to_str().unwrap(),
    );
    mock.expire_token();
    let run = runtime(
        &[
            "run",
            dir_s,
            "--connection",
            conn_s,
            "--data-dir",
            data_s,
            "--once",
            "--once-webhooks",
            "--public-url",
            "https://hooks.example.com",
        ],
        &[],
    );
    assert!(run.ok(), "{run}");
    assert_eq!(mock.webhooks().len(), 1, "{run}");
    assert_eq!(mock.request_count("/auth/token"), 1);
    let reset = runtime(
        &[
            "state",
            "reset",
            dir_s,
            "--connection",
            conn_s,
            "--data-dir",
            data_s,
        ],
        &[],
    );
    assert!(reset.ok(), "{reset}");
    assert!(mock.webhooks().is_empty(), "{reset}");
    assert_eq!(mock.request_count("/auth/token"), 1, "no second refresh");
}
