use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;
use url::{Host, Url};

/// A settings value that cannot be used; each message names the field at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// One origin requests may go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigin {
    /// A bare host from `allowedHosts`: any http(s) scheme and port.
    Host(Host<String>),
    /// An exact scheme, host and port.
    Origin {
        scheme: String,
        host: Host<String>,
        port: u16,
    },
}

impl AllowedOrigin {
    /// Parses an `allowedHosts` entry: `files.example.com` or `https://x.example.com:8443`.
    pub fn parse(entry: &str) -> Result<AllowedOrigin, SettingsError> {
        let field = format!("allowedHosts entry {entry:?}");
        let entry = entry.trim();
        if entry.contains("://") {
            let url = Url::parse(entry).map_err(|e| invalid(&field, e.to_string()))?;
            if !(url.path() == "/" || url.path().is_empty())
                || url.query().is_some()
                || !url.username().is_empty()
            {
                return Err(invalid(
                    field,
                    "give an origin only (scheme://host[:port]), without path, query or user",
                ));
            }
            return AllowedOrigin::of_url(&url)
                .ok_or_else(|| invalid(field, "only http and https origins can be allowed"));
        }
        if entry.is_empty() || entry.contains(['/', '?', '#', '@', '*']) {
            return Err(invalid(
                field,
                "expected a host name (files.example.com) or an origin (https://files.example.com:8443)",
            ));
        }
        let host_part = if entry.starts_with('[') {
            entry
        } else {
            entry.split(':').next().unwrap_or(entry)
        };
        if host_part != entry && !entry.starts_with('[') {
            return Err(invalid(
                field,
                "a port needs the full origin form, e.g. https://files.example.com:8443",
            ));
        }
        let host = Host::parse(host_part).map_err(|e| invalid(&field, e.to_string()))?;
        Ok(AllowedOrigin::Host(host))
    }

    /// The exact origin of an http(s) URL.
    pub fn of_url(url: &Url) -> Option<AllowedOrigin> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        Some(AllowedOrigin::Origin {
            scheme: scheme.to_string(),
            host: url.host()?.to_owned(),
            port: url.port_or_known_default()?,
        })
    }

    pub fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host() else { return false };
        match self {
            AllowedOrigin::Host(h) => {
                matches!(url.scheme(), "http" | "https") && host.to_owned() == *h
            }
            AllowedOrigin::Origin {
                scheme,
                host: h,
                port,
            } => {
                url.scheme() == scheme
                    && host.to_owned() == *h
                    && url.port_or_known_default() == Some(*port)
            }
        }
    }
}

/// What `makeApiClient` returned, resolved against the connector spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    pub base_uri: Option<Url>,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    /// The origin of `base_uri` plus the spec's `allowedHosts`.
    pub allowed: Vec<AllowedOrigin>,
    /// Values hidden wherever an answer echoes them in an error message,
    /// besides the headers and secret query params sent: the engine puts
    /// every string of the connection's credentials here, so a token held
    /// but not sent in a header is hidden too.
    pub secret_values: Vec<String>,
    /// Whose budget a request spends when [`crate::HttpConfig::rate_limit`]
    /// is set: requests with the same scope and host share one. Opaque to
    /// this crate and to the engine, which copies it in: the connection id
    /// in `runtime serve` (so connections never slow each other down), ""
    /// (the default) in `runtime run`, which has one connection.
    pub limit_scope: String,
}

impl ClientSettings {
    /// `value` is makeApiClient's result `{baseUri?, headers?, query?}`, or null
    /// when the connector has no make-api-client.js. Its `baseUri` wins over
    /// `spec_base_uri`. Header and query values may be strings, numbers or
    /// booleans; null values are skipped; a query array repeats its key.
    pub fn from_make_api_client(
        value: &Value,
        spec_base_uri: Option<&str>,
        allowed_hosts: &[String],
    ) -> Result<ClientSettings, SettingsError> {
        let obj = match value {
            Value::Null => None,
            Value::Object(map) => Some(map),
            other => {
                return Err(invalid(
                    "makeApiClient() result",
                    format!(
                        "expected an object {{baseUri, headers, query}}, got {}",
                        type_name(other)
                    ),
                ))
            }
        };
        // Membrane's mapping form wraps the options as `{args: {...}}`.
        let obj = match obj.and_then(|m| m.get("args")) {
            Some(Value::Object(args)) if !obj.is_some_and(|m| m.contains_key("baseUri")) => {
                Some(args)
            }
            _ => obj,
        };
        let field = |k: &str| obj.and_then(|m| m.get(k)).filter(|v| !v.is_null());
        // `baseUrl` is the spelling of Membrane's own JavaScript example.
        let base_uri = match field("baseUri").or_else(|| field("baseUrl")) {
            Some(Value::String(s)) => Some(parse_base(s, "makeApiClient().baseUri")?),
            Some(other) => {
                return Err(invalid(
                    "makeApiClient().baseUri",
                    format!("expected a string, got {}", type_name(other)),
                ))
            }
            None => match spec_base_uri {
                Some(s) if !s.trim().is_empty() => Some(parse_base(s, "spec baseUri")?),
                _ => None,
            },
        };
        let mut headers = match field("headers") {
            Some(v) => pairs(v, "makeApiClient().headers", false)?,
            None => Vec::new(),
        };
        // `auth: {username, password}` is HTTP Basic (as axios reads it),
        // unless the headers set Authorization themselves.
        if let Some(auth) = field("auth") {
            let basic = basic_auth(auth)?;
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            {
                headers.push(("Authorization".into(), basic));
            }
        }
        for (name, value) in &headers {
            check_header(name, value)
                .map_err(|r| invalid(format!("makeApiClient().headers.{name}"), r))?;
        }
        let query = match field("query") {
            Some(v) => pairs(v, "makeApiClient().query", true)?,
            None => Vec::new(),
        };
        let mut allowed: Vec<AllowedOrigin> =
            base_uri.iter().filter_map(AllowedOrigin::of_url).collect();
        for entry in allowed_hosts {
            allowed.push(AllowedOrigin::parse(entry)?);
        }
        Ok(ClientSettings {
            base_uri,
            headers,
            query,
            allowed,
            secret_values: Vec::new(),
            limit_scope: String::new(),
        })
    }

    pub fn is_allowed(&self, url: &Url) -> bool {
        self.allowed.iter().any(|a| a.matches(url))
    }
}

/// `{username, password}` as the value of an `Authorization: Basic` header.
fn basic_auth(auth: &Value) -> Result<String, SettingsError> {
    use base64::Engine as _;
    let part = |k: &str| match auth.get(k) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(invalid(
            format!("makeApiClient().auth.{k}"),
            format!("expected a string, got {}", type_name(other)),
        )),
    };
    if !auth.is_object() {
        return Err(invalid(
            "makeApiClient().auth",
            format!("expected {{username, password}}, got {}", type_name(auth)),
        ));
    }
    let pair = format!("{}:{}", part("username")?, part("password")?);
    Ok(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

fn parse_base(s: &str, field: &str) -> Result<Url, SettingsError> {
    let url =
        Url::parse(s.trim()).map_err(|e| invalid(field, format!("{s:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            field,
            format!("{s:?} must be an http or https URL"),
        ));
    }
    Ok(url)
}

/// Header or query pairs from a JSON object.
pub(crate) fn pairs(
    v: &Value,
    field: &str,
    arrays: bool,
) -> Result<Vec<(String, String)>, SettingsError> {
    let Value::Object(map) = v else {
        return Err(invalid(
            field,
            format!("expected an object, got {}", type_name(v)),
        ));
    };
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            Value::Array(items) if arrays => {
                for item in items {
                    if let Some(s) = scalar(item).map_err(|r| invalid(format!("{field}.{k}"), r))? {
                        out.push((k.clone(), s));
                    }
                }
            }
            _ => {
                if let Some(s) = scalar(v).map_err(|r| invalid(format!("{field}.{k}"), r))? {
                    out.push((k.clone(), s));
                }
            }
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(format!(
            "expected a string, number or boolean, got {}",
            type_name(other)
        )),
    }
}

/// Checks a header without ever quoting its value (it may be a credential).
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid header name"))?;
    HeaderValue::from_str(value)
        .map_err(|_| "the value has characters not allowed in a header".to_string())?;
    Ok(())
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn make_api_client_result_wins_over_spec_base() {
        let s = ClientSettings::from_make_api_client(
            &json!({"baseUri": "https://api.x.com/v1", "headers": {"Authorization": "Bearer t", "X-N": 3, "X-Skip": null}, "query": {"k": ["a", "b"]}}),
            Some("https://spec.example.com"),
            &["files.example.com".into(), "https://cdn.example.com:8443".into()],
        )
        .unwrap();
        assert_eq!(
            s.base_uri.as_ref().unwrap().as_str(),
            "https://api.x.com/v1"
        );
        assert_eq!(
            s.headers,
            vec![
                ("Authorization".into(), "Bearer t".into()),
                ("X-N".into(), "3".into())
            ]
        );
        assert_eq!(
            s.query,
            vec![("k".into(), "a".into()), ("k".into(), "b".into())]
        );
        let ok = |u: &str| s.is_allowed(&Url::parse(u).unwrap());
        assert!(ok("https://api.x.com/other"));
        assert!(
            !ok("http://api.x.com/v1"),
            "scheme differs from baseUri origin"
        );
        assert!(!ok("https://spec.example.com/"));
        assert!(ok("http://files.example.com:9000/a"));
        assert!(ok("https://cdn.example.com:8443/a"));
        assert!(!ok("https://cdn.example.com/a"));
        assert!(!ok("https://evil.files.example.com/"));
    }

    #[test]
    fn null_result_uses_spec_base() {
        let s = ClientSettings::from_make_api_client(
            &Value::Null,
            Some("http://127.0.0.1:8080/api"),
            &[],
        )
        .unwrap();
        assert_eq!(s.base_uri.unwrap().as_str(), "http://127.0.0.1:8080/api");
        assert_eq!(s.allowed.len(), 1);
    }

    #[test]
    fn errors_name_the_field() {
        let e = ClientSettings::from_make_api_client(&json!({"baseUri": "ftp://x"}), None, &[])
            .unwrap_err();
        assert!(e.to_string().contains("makeApiClient().baseUri"), "{e}");
        let e =
            ClientSettings::from_make_api_client(&json!({"headers": {"X": {"a": 1}}}), None, &[])
                .unwrap_err();
        assert!(e.to_string().contains("makeApiClient().headers.X"), "{e}");
        let e = ClientSettings::from_make_api_client(&json!({"headers": {"X": "a\nb"}}), None, &[])
            .unwrap_err();
        assert!(
            e.to_string().contains("headers.X") && !e.to_string().contains("a\nb"),
            "{e}"
        );
        let e = ClientSettings::from_make_api_client(&json!([]), None, &[]).unwrap_err();
        assert!(e.to_string().contains("makeApiClient() result"), "{e}");
        let e = ClientSettings::from_make_api_client(&Value::Null, None, &["x.com:80".into()])
            .unwrap_err();
        assert!(
            e.to_string().contains("\"x.com:80\"") && e.to_string().contains("https://"),
            "{e}"
        );
        let e = AllowedOrigin::parse("https://x.com/path").unwrap_err();
        assert!(e.to_string().contains("origin only"), "{e}");
    }

    #[test]
    fn bare_ip_hosts() {
        let a = AllowedOrigin::parse("127.0.0.1").unwrap();
        assert!(a.matches(&Url::parse("http://127.0.0.1:5555/").unwrap()));
        let a = AllowedOrigin::parse("[::1]").unwrap();
        assert!(a.matches(&Url::parse("http://[::1]:5555/").unwrap()));
    }
}
