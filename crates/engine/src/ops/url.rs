//! `URL`'s ops (runtime-js/url.js): parsing and setting components with
//! the `url` crate (WHATWG URL). `URLSearchParams` is pure JavaScript.
//! Stateless: each op gets an href and returns the parts.

use deno_core::op2;
use deno_error::JsErrorBox;
use serde::Serialize;

#[derive(Serialize)]
pub(super) struct UrlParts {
    href: String,
    origin: String,
    protocol: String,
    username: String,
    password: String,
    host: String,
    hostname: String,
    port: String,
    pathname: String,
    search: String,
    hash: String,
}

impl From<&url::Url> for UrlParts {
    fn from(u: &url::Url) -> Self {
        let prefixed = |p: &str, s: Option<&str>| match s {
            Some(s) if !s.is_empty() => format!("{p}{s}"),
            _ => String::new(),
        };
        let hostname = u.host_str().unwrap_or_default().to_string();
        let port = u.port().map(|p| p.to_string()).unwrap_or_default();
        UrlParts {
            href: u.as_str().to_string(),
            origin: u.origin().ascii_serialization(),
            protocol: format!("{}:", u.scheme()),
            username: u.username().to_string(),
            password: u.password().unwrap_or_default().to_string(),
            host: if port.is_empty() {
                hostname.clone()
            } else {
                format!("{hostname}:{port}")
            },
            hostname,
            port,
            pathname: u.path().to_string(),
            search: prefixed("?", u.query()),
            hash: prefixed("#", u.fragment()),
        }
    }
}

fn parse_url(input: &str, base: Option<&str>) -> Result<url::Url, JsErrorBox> {
    let parsed = match base {
        Some(b) => url::Url::parse(b).and_then(|b| b.join(input)),
        None => url::Url::parse(input),
    };
    parsed.map_err(|e| JsErrorBox::type_error(format!("Invalid URL {input:?}: {e}")))
}

#[op2]
#[serde]
pub(super) fn op_rt_url_parse(
    #[string] input: &str,
    #[string] base: Option<String>,
) -> Result<UrlParts, JsErrorBox> {
    Ok(UrlParts::from(&parse_url(input, base.as_deref())?))
}

#[op2]
#[serde]
pub(super) fn op_rt_url_set(
    #[string] href: &str,
    #[string] component: &str,
    #[string] value: &str,
) -> Result<UrlParts, JsErrorBox> {
    let mut u = parse_url(href, None)?;
    // Setters that the URL standard ignores on bad input are ignored here too.
    let strip = |v: &str, p: char| v.strip_prefix(p).unwrap_or(v).to_string();
    match component {
        "protocol" => {
            let _ = u.set_scheme(value.trim_end_matches(':'));
        }
        "username" => {
            let _ = u.set_username(value);
        }
        "password" => {
            let _ = u.set_password(Some(value));
        }
        "host" | "hostname" => {
            let (h, p) = match (component, value.rsplit_once(':')) {
                ("host", Some((h, p))) if p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
                _ => (value, None),
            };
            if u.set_host(Some(h)).is_ok() {
                if let Some(p) = p.and_then(|p| p.parse().ok()) {
                    let _ = u.set_port(Some(p));
                }
            }
        }
        "port" => {
            let _ = u.set_port(if value.is_empty() {
                None
            } else {
                value.parse().ok()
            });
        }
        "pathname" => u.set_path(value),
        "search" => {
            let q = strip(value, '?');
            u.set_query(if q.is_empty() { None } else { Some(&q) });
        }
        "hash" => {
            let h = strip(value, '#');
            u.set_fragment(if h.is_empty() { None } else { Some(&h) });
        }
        other => {
            return Err(JsErrorBox::type_error(format!(
                "URL has no settable {other:?}"
            )))
        }
    }
    Ok(UrlParts::from(&u))
}
