//! Routing, plus the small endpoints: `/echo`, `/auth/*`, `/webhooks`.

use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use crate::collections;
use crate::reply::Reply;
use crate::server::{lock, Shared};
use crate::RecordedRequest;

/// Query parameters, decoded (`+` and `%20` both give a space).
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: &str) -> Query {
        Query(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The value of the first of `names` present.
    pub(crate) fn get(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.0.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
    }

    /// A non-negative integer parameter, or a 400 naming it.
    pub(crate) fn usize(&self, names: &[&str], default: usize) -> Result<usize, Reply> {
        match self.get(names) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                Reply::error(
                    400,
                    format!(
                        "query parameter '{}' must be a non-negative integer, got '{v}'",
                        names[0]
                    ),
                )
            }),
        }
    }
}

pub(crate) fn route(s: &Shared, req: &RecordedRequest) -> Reply {
    let segs: Vec<String> = req
        .path
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned())
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    match segs.as_slice() {
        ["echo", ..] => return echo(req),
        ["auth", which @ ("refresh" | "token")] => {
            return match m {
                "POST" => refresh(s, req, which == &"token"),
                _ => Reply::error(405, format!("{m} is not allowed on {}", req.path)),
            }
        }
        _ => {}
    }
    if s.opts.require_auth && !authorized(s, req) {
        return Reply::error(401, "unauthorized")
            .with_header("www-authenticate", "Bearer error=\"invalid_token\"");
    }
    match (m, segs.as_slice()) {
        (_, []) => Reply::error(404, "no such path: /"),
        ("POST", ["webhooks"]) => register_webhook(s, req),
        ("GET", ["webhooks"]) => Reply::json(200, &json!({"webhooks": lock(&s.webhooks).list()})),
        ("GET", ["webhooks", id]) => {
            match lock(&s.webhooks).list().into_iter().find(|w| w.id == *id) {
                Some(w) => Reply::json(200, &json!(w)),
                None => Reply::error(404, format!("no webhook '{id}'")),
            }
        }
        ("DELETE", ["webhooks", id]) => match lock(&s.webhooks).remove(id) {
            true => Reply::empty(204),
            false => Reply::error(404, format!("no webhook '{id}'")),
        },
        (_, ["webhooks", ..]) => Reply::error(405, format!("{m} is not allowed on {}", req.path)),
        (_, [c]) => collections::collection(s, req, m, c),
        (_, [c, sub]) => collections::item(s, req, m, c, sub),
        _ => Reply::error(404, format!("no such path: {}", req.path)),
    }
}

fn authorized(s: &Shared, req: &RecordedRequest) -> bool {
    let Some(h) = req.header("authorization") else {
        return false;
    };
    let Some((scheme, token)) = h.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && lock(&s.auth).token.as_deref() == Some(token.trim())
}

fn echo(req: &RecordedRequest) -> Reply {
    let mut headers = Map::new();
    for (k, v) in &req.headers {
        match headers.get_mut(k) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(v);
            }
            _ => {
                headers.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    Reply::json(
        200,
        &json!({
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "headers": headers,
            "body": req.body_text(),
        }),
    )
}

/// `/auth/refresh` (JSON `refreshToken`, camelCase answer) and
/// `/auth/token` (OAuth2 style: JSON or form, snake_case answer).
fn refresh(s: &Shared, req: &RecordedRequest, oauth: bool) -> Reply {
    let given = match req.body_json() {
        Some(v) => ["refreshToken", "refresh_token"]
            .iter()
            .find_map(|k| v.get(k).and_then(Value::as_str).map(str::to_string)),
        None => Query::parse(&req.body_text())
            .get(&["refresh_token"])
            .map(str::to_string),
    };
    let given = given.unwrap_or_default();
    let ok = match &s.opts.refresh_token {
        Some(expected) => *expected == given,
        None => !given.is_empty() || oauth,
    };
    if !ok {
        return Reply::json(
            400,
            &json!({"error": "invalid_grant", "message": "refresh token missing or not accepted"}),
        );
    }
    let token = {
        let mut auth = lock(&s.auth);
        auth.issued += 1;
        let t = format!("token-{}", auth.issued);
        auth.token = Some(t.clone());
        t
    };
    if oauth {
        Reply::json(
            200,
            &json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "refresh_token": given}),
        )
    } else {
        Reply::json(
            200,
            &json!({"accessToken": token, "tokenType": "Bearer", "expiresIn": 3600, "refreshToken": given}),
        )
    }
}

fn register_webhook(s: &Shared, req: &RecordedRequest) -> Reply {
    let Some(body) = req.body_json() else {
        return Reply::error(400, "POST /webhooks: body must be a JSON object");
    };
    let url = match body.get("url").and_then(Value::as_str) {
        Some(u) if url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https")) => u,
        _ => return Reply::error(400, "POST /webhooks: 'url' must be an absolute http(s) URL"),
    };
    let collection = body
        .get("collection")
        .and_then(Value::as_str)
        .map(str::to_string);
    let events = match body.get("events") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        Some(_) => {
            return Reply::error(400, "POST /webhooks: 'events' must be an array of strings")
        }
    };
    let reg = lock(&s.webhooks).register(url, collection, events);
    Reply::json(201, &json!(reg))
}
