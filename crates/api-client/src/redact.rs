use url::Url;

const SECRET_WORDS: [&str; 8] = [
    "token",
    "key",
    "secret",
    "password",
    "signature",
    "auth",
    "code",
    "sig",
];

/// Whether a query parameter name looks like it carries a credential.
/// Deliberately broad (`postcode` is redacted too): a hidden harmless value
/// costs less than a leaked credential.
pub fn looks_secret(name: &str) -> bool {
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
}
