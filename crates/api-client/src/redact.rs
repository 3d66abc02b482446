//! Redaction: what of a request or response may appear in logs and error
//! messages. Owns the secret-looking-name rule (query params, JSON keys), URL
//! redaction, the values a request sends that must never be echoed back, and
//! the one-line excerpt of an error response's body.

use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

use crate::body::Body;

/// Words that make a name (query param or JSON key) look like a credential.
const SECRET_WORDS: [&str; 7] = [
    "token",
    "key",
    "secret",
    "password",
    "signature",
    "auth",
    "sig",
];

/// In a query string `code` is an OAuth authorization code; in a JSON body
/// it is nearly always an error code, which an error message needs.
const QUERY_ONLY_WORDS: [&str; 1] = ["code"];

/// Characters of a response body an error message shows.
pub(crate) const EXCERPT_CHARS: usize = 300;

/// Sent values shorter than this are not searched for in bodies: they would
/// blank out ordinary words and digits, and say little on their own.
const MIN_SECRET_LEN: usize = 4;

/// Whether a query parameter name looks like it carries a credential.
/// Deliberately broad (`postcode` is redacted too): a hidden harmless value
/// costs less than a leaked credential.
pub fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    looks_secret_field(&lower) || QUERY_ONLY_WORDS.iter().any(|w| lower.contains(w))
}

/// Whether a JSON key looks like it carries a credential (`access_token`,
/// `apiKey`, `client_secret`, `Authorization`, ...): the same words as
/// [`looks_secret`] except `code`.
pub fn looks_secret_field(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// The URL as it may appear in logs and error messages: values of query
/// params named in `secret_names` (the settings' query params) or that
/// [`looks_secret`] are replaced by `***`, as is any user-info password.
pub fn redact_url(url: &Url, secret_names: &[String]) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    let Some(query) = u.query().map(str::to_string) else {
        return u.to_string();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|part| {
            let (raw_key, has_value) = match part.split_once('=') {
                Some((k, _)) => (k, true),
                None => (part, false),
            };
            let key: String = url::form_urlencoded::parse(raw_key.as_bytes())
                .next()
                .map(|(k, _)| k.into_owned())
                .unwrap_or_default();
            if has_value && (looks_secret(&key) || secret_names.contains(&key)) {
                format!("{raw_key}=***")
            } else {
                part.to_string()
            }
        })
        .collect();
    u.set_query(Some(&redacted.join("&")));
    u.to_string()
}

/// Values a request carries that must not appear in a message even when the
/// server echoes them: every header value sent (an `Authorization: Bearer x`
/// also gives `x` alone) except those that describe content (`Accept`,
/// `Content-Type`, `User-Agent`), the values of the query params
/// [`redact_url`] hides, the URL's password, and any extra values (the
/// connection's credentials, [`crate::ClientSettings::secret_values`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct SentSecrets {
    /// Longest first, so a value containing another is replaced whole.
    values: Vec<String>,
}

impl SentSecrets {
    pub(crate) fn collect(
        headers: &HeaderMap,
        url: &Url,
        secret_names: &[String],
        extra: &[String],
    ) -> SentSecrets {
        let mut values: Vec<String> = extra.to_vec();
        for (name, value) in headers {
            let name = name.as_str();
            if name.starts_with("accept") || name.starts_with("content-") || name == "user-agent" {
                continue;
            }
            let value = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
            if let Some((_, credential)) = value.split_once(' ') {
                values.push(credential.trim().to_string());
            }
            values.push(value);
        }
        for (key, value) in url.query_pairs() {
            if looks_secret(&key) || secret_names.iter().any(|n| *n == key) {
                values.push(value.into_owned());
            }
        }
        if let Some(pw) = url.password() {
            values.push(pw.to_string());
        }
        values.retain(|v| v.chars().count() >= MIN_SECRET_LEN);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        SentSecrets { values }
    }

    /// `text` with each sent value replaced by `[redacted]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "[redacted]");
            }
        }
        out
    }
}

/// A non-2xx body as an error message shows it: on one line, values of
/// secret-looking JSON keys and of [`SentSecrets`] replaced by `[redacted]`,
/// cut after [`EXCERPT_CHARS`] characters with `…(N bytes)` giving the whole
/// body's size. Empty for an empty body.
pub(crate) fn body_excerpt(body: &Body, secrets: &SentSecrets) -> String {
    let (text, total) = match body {
        Body::Empty => return String::new(),
        Body::Json(text) => match serde_json::from_str::<Value>(text) {
            Ok(mut value) => {
                redact_json(&mut value);
                (value.to_string(), text.len())
            }
            Err(_) => (text.clone(), text.len()),
        },
        Body::Text(text) => (text.clone(), text.len()),
    };
    let line = one_line(&secrets.scrub(&text));
    match line.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…({total} bytes)", &line[..cut]),
        None => line,
    }
}

/// Replaces the values of secret-looking keys, at any depth. `null` and
/// booleans stay: they carry no secret and often say why a call failed.
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if looks_secret_field(key) && !matches!(v, Value::Null | Value::Bool(_)) {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Control characters and runs of whitespace become one space.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_looking_and_settings_params() {
        let url = Url::parse(
            "https://u:pw@api.x.com/a?access_token=abc&page=2&tenant=t1&API_KEY=z&Signature=s&code=c&q=hello%20x&flag#frag",
        )
        .unwrap();
        let out = redact_url(&url, &["tenant".to_string()]);
        assert_eq!(
            out,
            "https://u:***@api.x.com/a?access_token=***&page=2&tenant=***&API_KEY=***&Signature=***&code=***&q=hello%20x&flag"
        );
        for secret in ["abc", "pw", "t1", "=z", "=s", "=c", "frag"] {
            assert!(!out.contains(secret), "{secret} leaked in {out}");
        }
    }

    #[test]
    fn encoded_secret_names_are_recognised() {
        let url = Url::parse("https://a.com/?client%5Fsecret=x&ok=1").unwrap();
        assert_eq!(
            redact_url(&url, &[]),
            "https://a.com/?client%5Fsecret=***&ok=1"
        );
        let plain = Url::parse("https://a.com/p").unwrap();
        assert_eq!(redact_url(&plain, &[]), "https://a.com/p");
    }

    fn sent(headers: &[(&str, &str)], url: &str) -> SentSecrets {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                reqwest::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        SentSecrets::collect(
            &map,
            &Url::parse(url).unwrap(),
            &["tenant".into()],
            &["CRED-VALUE".into()],
        )
    }

    #[test]
    fn json_keys_that_look_secret_are_redacted_at_any_depth() {
        let body = Body::Json(
            r#"{"error":{"code":"invalid_grant","message":"bad"},"access_token":"AT","Refresh_Token":"RT","apiKey":7,
               "nested":[{"client_secret":{"v":"CS"}},{"password":"PW"}],"Authorization":"Bearer X","expired":true,"token_hint":null}"#
                .into(),
        );
        let out = body_excerpt(&body, &SentSecrets::default());
        assert_eq!(
            out,
            r#"{"error":{"code":"invalid_grant","message":"bad"},"access_token":"[redacted]","Refresh_Token":"[redacted]","apiKey":"[redacted]","nested":[{"client_secret":"[redacted]"},{"password":"[redacted]"}],"Authorization":"[redacted]","expired":true,"token_hint":null}"#
        );
    }

    #[test]
    fn sent_values_are_redacted_wherever_they_are_echoed() {
        let s = sent(
            &[
                ("authorization", "Bearer TOKEN-123"),
                ("x-api-key", "KEY-456"),
                ("accept", "application/json"),
                ("x-short", "abc"),
            ],
            "https://u:USERPW@a.com/p?access_token=QTOK&tenant=TEN-1&page=22222",
        );
        let body = Body::Text(
            "got Bearer TOKEN-123 then TOKEN-123, KEY-456, QTOK, TEN-1, USERPW, CRED-VALUE; want application/json page 22222 abc".into(),
        );
        assert_eq!(
            body_excerpt(&body, &s),
            "got [redacted] then [redacted], [redacted], [redacted], [redacted], [redacted], [redacted]; want application/json page 22222 abc"
        );
    }

    #[test]
    fn text_is_put_on_one_line_and_long_bodies_are_cut() {
        let html = Body::Text("<html>\r\n  <body>\tBad\u{0}\u{1b}gateway</body>\n</html>\n".into());
        assert_eq!(
            body_excerpt(&html, &SentSecrets::default()),
            "<html> <body> Bad gateway</body> </html>"
        );
        let long = "é".repeat(400);
        let out = body_excerpt(&Body::Text(long.clone()), &SentSecrets::default());
        assert_eq!(out, format!("{}…(800 bytes)", "é".repeat(EXCERPT_CHARS)));
        let exact = "x".repeat(EXCERPT_CHARS);
        assert_eq!(
            body_excerpt(&Body::Text(exact.clone()), &SentSecrets::default()),
            exact
        );
        assert_eq!(body_excerpt(&Body::Empty, &SentSecrets::default()), "");
    }

    #[test]
    fn a_secret_is_redacted_before_the_cut_so_no_prefix_leaks() {
        let s = sent(&[("authorization", "Bearer ABCDEFGHIJ")], "https://a.com/");
        let text = format!("{}ABCDEFGHIJ tail", "y".repeat(EXCERPT_CHARS - 3));
        let out = body_excerpt(&Body::Text(text), &s);
        assert!(!out.contains("ABC"), "{out}");
        assert!(out.ends_with("[re…(312 bytes)"), "{out}");
    }
}
