//! Bearer-token auth: 401 without the token, expiry, and refresh.

mod common;

use common::client;
use mock_api::{MockApi, MockOptions};
use serde_json::{json, Value};

fn with_auth() -> MockApi {
    MockApi::start_with(MockOptions {
        require_auth: true,
        ..MockOptions::default()
    })
}

async fn get_status(url: &str, token: Option<&str>) -> u16 {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn token_is_required_except_for_echo_and_auth() {
    let api = with_auth();
    let url = format!("{}/contacts", api.base_url());
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"error": "unauthorized"}));
    assert_eq!(get_status(&url, Some("wrong")).await, 401);
    assert_eq!(get_status(&url, Some("test-token")).await, 200);
    assert_eq!(
        get_status(&format!("{}/webhooks", api.base_url()), None).await,
        401
    );
    assert_eq!(
        get_status(&format!("{}/echo/x", api.base_url()), None).await,
        200
    );
    api.set_token("other");
    assert_eq!(get_status(&url, Some("test-token")).await, 401);
    assert_eq!(get_status(&url, Some("other")).await, 200);
}

#[tokio::test]
async fn expired_token_gives_401_until_refresh_issues_a_new_one() {
    let api = with_auth();
    let url = format!("{}/contacts", api.base_url());
    api.expire_token();
    assert_eq!(get_status(&url, Some("test-token")).await, 401);
    assert_eq!(api.current_token(), None);

    let r = client()
        .post(format!("{}/auth/refresh", api.base_url()))
        .json(&json!({"refreshToken": "any-refresh"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let fresh = body["accessToken"].as_str().unwrap();
    assert_ne!(fresh, "test-token");
    assert_eq!(api.current_token().as_deref(), Some(fresh));
    assert_eq!(get_status(&url, Some(fresh)).await, 200);
    assert_eq!(get_status(&url, Some("test-token")).await, 401);

    let missing = client()
        .post(format!("{}/auth/refresh", api.base_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
}

#[tokio::test]
async fn a_configured_refresh_token_must_match_and_oauth_form_works() {
    let api = MockApi::start_with(MockOptions {
        require_auth: true,
        refresh_token: Some("r-1".into()),
        ..MockOptions::default()
    });
    let wrong = client()
        .post(format!("{}/auth/refresh", api.base_url()))
        .json(&json!({"refreshToken": "r-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let ok: Value = client()
        .post(format!("{}/auth/token", api.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&refresh_token=r-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = ok["access_token"].as_str().unwrap();
    assert_eq!(
        get_status(&format!("{}/contacts", api.base_url()), Some(token)).await,
        200
    );
}
