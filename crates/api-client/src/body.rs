use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::{Map, Value};

/// Why a body could not be read.
pub(crate) enum BodyFailure {
    TooLarge(String),
    /// Cut off or failed mid-way; worth another attempt.
    Broken(String),
}

/// Reads the body, refusing a declared or streamed size above `limit`
/// without buffering more than `limit` bytes.
pub(crate) async fn read_capped(
    resp: &mut reqwest::Response,
    limit: usize,
    is_head: bool,
) -> Result<Bytes, BodyFailure> {
    if !is_head {
        let declared = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = declared.filter(|len| *len > limit as u64) {
            return Err(BodyFailure::TooLarge(format!(
                "of {len} bytes (Content-Length)"
            )));
        }
    }
    let mut buf = BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > limit {
                    return Err(BodyFailure::TooLarge(format!(
                        "of more than {} bytes (streamed)",
                        buf.len() + chunk.len()
                    )));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(e) => {
                return Err(BodyFailure::Broken(format!(
                    "the response body broke off after {} bytes: {}",
                    buf.len(),
                    crate::client::error_chain(e)
                )))
            }
        }
    }
}

/// Lowercased names; repeated headers joined with ", ".
pub(crate) fn headers_to_json(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for name in headers.keys() {
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        out.insert(name.as_str().to_ascii_lowercase(), Value::String(joined));
    }
    out
}

/// A decoded response body. JSON stays text: the engine hands it to
/// JavaScript's `JSON.parse`, which builds the objects faster than a Rust
/// `Value` converted into JavaScript would (docs/benchmarks.md).
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// An empty (or all-whitespace) body.
    Empty,
    /// Checked to be one well-formed JSON value.
    Json(String),
    /// Anything else, as text (invalid UTF-8 replaced).
    Text(String),
}

impl Body {
    /// The body as a JSON value: parsed JSON, a string for text, null when
    /// empty. For Rust callers; the engine passes the text on instead.
    pub fn to_value(&self) -> Value {
        match self {
            Body::Empty => Value::Null,
            Body::Json(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            Body::Text(text) => Value::String(text.clone()),
        }
    }
}

/// JSON when declared (`application/json`, `+json`) or when the body looks
/// like JSON; text otherwise; empty when blank. A body declared JSON that
/// does not parse is an error, except on error statuses, where proxies often
/// send HTML under a JSON content-type and the status matters more.
pub(crate) fn decode(headers: &HeaderMap, body: &[u8], strict: bool) -> Result<Body, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Body::Empty);
    }
    let declared_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
        })
        .unwrap_or(false);
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        // JSON is UTF-8 (RFC 8259); anything else is text.
        Err(e) if declared_json && strict => {
            return Err(format!("the body is declared JSON but is not UTF-8: {e}"))
        }
        Err(_) => return Ok(Body::Text(String::from_utf8_lossy(body).into_owned())),
    };
    // Validation only: `IgnoredAny` checks the syntax without building values.
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) if declared_json || looks_like_json(body) => Ok(Body::Json(text.to_owned())),
        Err(e) if declared_json && strict => {
            Err(format!("the body is declared JSON but does not parse: {e}"))
        }
        _ => Ok(Body::Text(text.to_owned())),
    }
}

fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    fn ct(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn decoding_rules() {
        let none = HeaderMap::new();
        assert_eq!(decode(&none, b"", true), Ok(Body::Empty));
        assert_eq!(
            decode(&none, b" {\"a\":1}", true).map(|b| b.to_value()),
            Ok(json!({"a": 1}))
        );
        assert_eq!(
            decode(&none, b"42", true).map(|b| b.to_value()),
            Ok(json!("42")),
            "only objects/arrays are sniffed"
        );
        assert_eq!(
            decode(&ct("application/json; charset=utf-8"), b"42", true).map(|b| b.to_value()),
            Ok(json!(42))
        );
        assert_eq!(
            decode(&ct("application/problem+json"), b"{}", true).map(|b| b.to_value()),
            Ok(json!({}))
        );
        assert_eq!(
            decode(&ct("text/plain"), b"hi", true).map(|b| b.to_value()),
            Ok(json!("hi"))
        );
        assert!(decode(&ct("application/json"), b"<html>", true).is_err());
        assert!(decode(&ct("application/json"), b"\"\xff\"", true).is_err());
        assert_eq!(
            decode(&none, b"{\"a\": [1, 2]}", true),
            Ok(Body::Json("{\"a\": [1, 2]}".into())),
            "JSON is passed on as the text received"
        );
        assert_eq!(
            decode(&ct("application/json"), b"<html>", false).map(|b| b.to_value()),
            Ok(json!("<html>"))
        );
    }
}
