//! Function names are written in kebab-case in file names and in camelCase in
//! exports and spec keys; authors may use either, so both are derived here.

/// "pullLatestRecords" or "pull-latest-records" -> "pull-latest-records".
pub fn to_kebab(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '_' {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}

/// "pull-latest-records" or "pullLatestRecords" -> "pullLatestRecords".
pub fn to_camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '-' || c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways() {
        assert_eq!(to_kebab("pullLatestRecords"), "pull-latest-records");
        assert_eq!(to_kebab("make-api-client"), "make-api-client");
        assert_eq!(to_camel("make-api-client"), "makeApiClient");
        assert_eq!(to_camel("webhookSubscribe"), "webhookSubscribe");
        assert_eq!(
            to_camel("created-pull-latest-records"),
            "createdPullLatestRecords"
        );
    }
}
