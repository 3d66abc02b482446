use runtime_retry::{Backoff, Jitter};

use crate::config::HttpConfig;

/// Full-jitter exponential backoff before attempt `failed + 1`: uniform in
/// `[0, min(max_backoff, base_backoff * 2^(failed-1))]` (`.delay(failed)`).
pub(crate) fn backoff(config: &HttpConfig) -> Backoff {
    Backoff::new(config.base_backoff, config.max_backoff).with_jitter(Jitter::Full)
}

/// GET, HEAD, OPTIONS, PUT and DELETE may be sent twice without harm.
pub(crate) fn is_idempotent(method: &reqwest::Method) -> bool {
    use reqwest::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(method)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn backoff_is_full_jitter_from_the_config() {
        let c = HttpConfig {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            ..Default::default()
        };
        assert_eq!(
            backoff(&c),
            Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_millis(350),
                max_exponent: 31,
                jitter: Jitter::Full,
            }
        );
    }
}
