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

/// JSON when declared (`application/json`, `+json`) or when the body looks
/// like JSON; text otherwise; null when empty. A body declared JSON that does
/// not parse is an error, except on error statuses, where proxies often send
/// HTML under a JSON content-type and the status matters more.
pub(crate) fn decode(headers: &HeaderMap, body: &[u8], strict: bool) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
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
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if declared_json || looks_like_json(body) => Ok(v),
        Err(e) if declared_json && strict => {
            Err(format!("the body is declared JSON but does not parse: {e}"))
        }
        _ => Ok(Value::String(String::from_utf8_lossy(body).into_owned())),
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
        assert_eq!(decode(&none, b"", true), Ok(Value::Null));
        assert_eq!(decode(&none, b" {\"a\":1}", true), Ok(json!({"a": 1})));
        assert_eq!(
            decode(&none, b"42", true),
            Ok(json!("42")),
            "only objects/arrays are sniffed"
        );
        assert_eq!(
            decode(&ct("application/json; charset=utf-8"), b"42", true),
            Ok(json!(42))
        );
        assert_eq!(
            decode(&ct("application/problem+json"), b"{}", true),
            Ok(json!({}))
        );
        assert_eq!(decode(&ct("text/plain"), b"hi", true), Ok(json!("hi")));
        assert!(decode(&ct("application/json"), b"<html>", true).is_err());
        assert_eq!(
            decode(&ct("application/json"), b"<html>", false),
            Ok(json!("<html>"))
        );
    }
}
