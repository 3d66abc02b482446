//! Turns a request's path and query into the URL that goes on the wire.
//!
//! Query strategy (documented for connector authors): a query already in the
//! path is kept as written (only characters that cannot appear in a URL, like
//! spaces, get percent-encoded); then settings' query params are appended,
//! except keys already present in the path or in the request's query object
//! (so a `nextPageLink` carrying its own `api_key`, or an explicit override,
//! is not duplicated); then the request's query object is appended.

use serde_json::Value;
use url::Url;

use crate::settings::{pairs, ClientSettings};

/// Resolves `path` against the settings' base URI and merges query params.
pub(crate) fn build_url(
    settings: &ClientSettings,
    path: &str,
    query: Option<&Value>,
) -> Result<Url, String> {
    let mut url = resolve(settings.base_uri.as_ref(), path)?;
    let request_pairs = match query {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => pairs(v, "query", true).map_err(|e| e.to_string())?,
    };
    let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let mut extra: Vec<(&str, &str)> = settings
        .query
        .iter()
        .filter(|(k, _)| {
            !present.iter().any(|p| p == k) && !request_pairs.iter().any(|(r, _)| r == k)
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    extra.extend(request_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !extra.is_empty() {
        let mut q = url.query().unwrap_or("").to_string();
        for (k, v) in extra {
            if !q.is_empty() {
                q.push('&');
            }
            encode_into(&mut q, k);
            q.push('=');
            encode_into(&mut q, v);
        }
        url.set_query(Some(&q));
    }
    Ok(url)
}

fn resolve(base: Option<&Url>, path: &str) -> Result<Url, String> {
    let path = path.trim();
    let lower = path.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Url::parse(path).map_err(|e| format!("path {path:?} is not a valid URL: {e}"));
    }
    if has_scheme(path) {
        return Err(format!(
            "path {path:?}: only http and https URLs are supported"
        ));
    }
    if path.starts_with("//") {
        return Err(format!(
            "path {path:?}: protocol-relative URLs are not supported; give the full URL"
        ));
    }
    let Some(base) = base else {
        return Err(format!(
            "path {path:?} is relative but there is no baseUri (return one from makeApiClient or set baseUri in the connector spec)"
        ));
    };
    let mut base = base.clone();
    let base_query = base.query().map(str::to_string);
    base.set_query(None);
    base.set_fragment(None);
    let mut joined = base.as_str().trim_end_matches('/').to_string();
    if !(path.is_empty() || path.starts_with('?') || path.starts_with('#')) {
        joined.push('/');
        joined.push_str(path.trim_start_matches('/'));
    } else {
        joined.push_str(path);
    }
    let mut url = Url::parse(&joined)
        .map_err(|e| format!("path {path:?} does not make a valid URL with baseUri: {e}"))?;
    if let Some(bq) = base_query.filter(|q| !q.is_empty()) {
        let merged = match url.query() {
            Some(q) if !q.is_empty() => format!("{bq}&{q}"),
            _ => bq,
        };
        url.set_query(Some(&merged));
    }
    Ok(url)
}

fn has_scheme(s: &str) -> bool {
    match s.find("://") {
        Some(i) => {
            let scheme = &s[..i];
            scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// Percent-encodes a query key or value. Spaces become `%20` (not `+`, which
/// some APIs read literally) and OData-style `$`, `,`, `:`, `@`, `/`, `'`,
/// `(`, `)`, `*`, `!` stay readable.
fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~$,:@/'()*!".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(base: Option<&str>, query: &[(&str, &str)]) -> ClientSettings {
        ClientSettings {
            base_uri: base.map(|b| Url::parse(b).unwrap()),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn joins_keeping_base_path() {
        for (base, path) in [
            ("https://api.x.com/v1", "/contacts"),
            ("https://api.x.com/v1/", "/contacts"),
            ("https://api.x.com/v1/", "contacts"),
            ("https://api.x.com/v1", "contacts"),
        ] {
            let u = build_url(&settings(Some(base), &[]), path, None).unwrap();
            assert_eq!(
                u.as_str(),
                "https://api.x.com/v1/contacts",
                "{base} + {path}"
            );
        }
        let u = build_url(&settings(Some("https://api.x.com/v1"), &[]), "", None).unwrap();
        assert_eq!(u.as_str(), "https://api.x.com/v1");
    }

    #[test]
    fn keeps_dollar_and_encodes_space() {
        let u = build_url(
            &settings(Some("https://api.x.com"), &[]),
            "/contacts?$orderby=createdDateTime desc",
            None,
        )
        .unwrap();
        assert_eq!(u.query(), Some("$orderby=createdDateTime%20desc"));
    }

    #[test]
    fn query_merge_order_and_dedup() {
        let s = settings(
            Some("https://api.x.com?tenant=1"),
            &[("api_key", "K"), ("limit", "5"), ("v", "2")],
        );
        let u = build_url(
            &s,
            "/a?limit=10",
            Some(&json!({"v": "3", "tags": ["a b", "c&d"], "n": null, "x": true})),
        )
        .unwrap();
        assert_eq!(
            u.query(),
            Some("tenant=1&limit=10&api_key=K&v=3&tags=a%20b&tags=c%26d&x=true")
        );
    }

    #[test]
    fn absolute_and_bad_paths() {
        let s = settings(None, &[]);
        assert_eq!(
            build_url(&s, "HTTPS://Other.com/x?y=1", None)
                .unwrap()
                .as_str(),
            "https://other.com/x?y=1"
        );
        let e = build_url(&s, "/contacts", None).unwrap_err();
        assert!(e.contains("\"/contacts\"") && e.contains("baseUri"), "{e}");
        assert!(build_url(&s, "ftp://x.com/a", None)
            .unwrap_err()
            .contains("only http"));
        assert!(build_url(&s, "//x.com/a", None)
            .unwrap_err()
            .contains("protocol-relative"));
        assert!(build_url(
            &settings(Some("https://a.com"), &[]),
            "/a",
            Some(&json!([1]))
        )
        .unwrap_err()
        .contains("query"));
        let u = build_url(&settings(Some("https://a.com"), &[]), "/items/a:b", None).unwrap();
        assert_eq!(u.path(), "/items/a:b");
    }
}
