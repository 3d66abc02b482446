//! The OAuth2 `refresh_token` grant (RFC 6749, section 6): the request a
//! connector with an OAuth config and no `refreshCredentials` of its own
//! gets on a 401. The config (`tokenUri`, `clientId`, `clientSecret`) comes
//! from the connector's `auth/oauth-config` (or `get-oauth-config`); the
//! answer's fields become the new credentials (the caller merges them).
//!
//! The client authenticates with HTTP Basic, which the RFC requires every
//! server to accept (Intuit accepts nothing else), unless the config says
//! `clientAuthentication: body` (client id and secret as form fields, for
//! servers such as some Google-style ones that want them there). It sends
//! no more than one of the two, as the RFC asks.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::{ApiClientError, ApiRequest, Body, ClientSettings, HttpClient, HttpConfig};

/// What the connector's OAuth config gives.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthConfig {
    pub token_uri: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// `basic` (default) or `body`.
    #[serde(default)]
    pub client_authentication: Option<String>,
}

impl OAuthConfig {
    /// Reads the OAuth config's value; the message names what is wrong.
    pub fn from_value(value: &Value) -> Result<OAuthConfig, ApiClientError> {
        let config: OAuthConfig = serde_json::from_value(value.clone()).map_err(|e| {
            ApiClientError::InvalidRequest(format!(
                "the OAuth config must be {{tokenUri, clientId, clientSecret}}: {e}"
            ))
        })?;
        match config.client_authentication.as_deref() {
            None | Some("basic") | Some("body") => Ok(config),
            Some(other) => Err(ApiClientError::InvalidRequest(format!(
                "the OAuth config's clientAuthentication is `{other}`; use `basic` or `body`"
            ))),
        }
    }
}

/// Exchanges `refresh_token` at the config's `tokenUri`; returns the token
/// answer (an object with `access_token`). A non-2xx answer is the usual
/// [`ApiClientError::Http`] naming the URL and status, with the client
/// secret and both tokens redacted.
pub async fn refresh_token_grant(
    client: &HttpClient,
    http: &HttpConfig,
    config: &OAuthConfig,
    refresh_token: &str,
) -> Result<Value, ApiClientError> {
    let body_auth = config.client_authentication.as_deref() == Some("body");
    let id = config.client_id.clone().unwrap_or_default();
    let secret = config.client_secret.clone().unwrap_or_default();
    let mut options = json!({"baseUri": config.token_uri});
    if !body_auth && !id.is_empty() {
        options["auth"] = json!({"username": id, "password": secret});
    }
    let mut settings = ClientSettings::from_make_api_client(&options, None, &[])
        .map_err(|e| ApiClientError::InvalidRequest(format!("the OAuth tokenUri: {e}")))?;
    settings.secret_values = vec![secret.clone(), refresh_token.to_string()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let mut form = json!({"grant_type": "refresh_token", "refresh_token": refresh_token});
    if body_auth {
        form["client_id"] = json!(id);
        form["client_secret"] = json!(secret);
    }
    let request = ApiRequest {
        data: Some(form),
        headers: vec![
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("accept".into(), "application/json".into()),
        ],
        // The tokenUri itself: a relative "" would gain a trailing slash.
        ..ApiRequest::new("POST", &config.token_uri)
    };
    // `rateLimit` is the API's budget; the token endpoint is not the API
    // and a refresh must not queue behind its calls.
    let http = HttpConfig {
        rate_limit: None,
        ..http.clone()
    };
    let response = client.send(&settings, &http, request).await?;
    let token = match &response.body {
        Body::Json(text) => serde_json::from_str::<Value>(text).ok(),
        _ => None,
    };
    match token {
        Some(token) if token.get("access_token").is_some_and(Value::is_string) => Ok(token),
        _ => Err(ApiClientError::InvalidRequest(format!(
            "POST {}: the token answer has no access_token",
            // Without its query, which may carry a secret.
            config.token_uri.split('?').next().unwrap_or_default()
        ))),
    }
}
