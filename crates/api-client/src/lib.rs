//! HTTP from connectors to the external app: the Rust side of `apiClient`.
//!
//! Owns URL resolution against `baseUri`, the origin allow-list, the
//! outbound address guard (`guard.rs`), per-host rate limits
//! (`rate_limit.rs`), retries with
//! `Retry-After` and backoff, timeouts, response size caps, response decoding,
//! redaction of credentials in logs and errors, and the INFO lines that say
//! a request is being retried (rate-limited per method and host). It must
//! not know about JavaScript, connectors' files or persistence: callers hand
//! it plain values.
//!
//! A non-2xx answer's message ends with its body on one line, cut after 300
//! characters, with secret-looking JSON keys' values and every credential
//! sent replaced by `[redacted]`; the error's response keeps the whole body.
//!
//! Query params: a query written in the path is kept (spaces encoded as
//! `%20`, `$` kept); the settings' params follow unless the path or the
//! request's query object already has that key; the request's query object
//! comes last. Error kinds: "http" (non-2xx, with the response),
//! "not_allowed", "blocked" (the address guard, see [`AddressGuard`]),
//! "invalid_request", "timeout", "connect", "too_large", "body", "setup".

mod body;
mod client;
mod config;
mod error;
mod guard;
mod log_limit;
mod oauth;
mod rate_limit;
mod redact;
mod retry;
mod settings;
mod url_build;

pub use body::Body;
pub use client::{ApiRequest, ApiResponse, HttpClient};
pub use config::{HttpConfig, RateLimit};
pub use error::ApiClientError;
pub use guard::{AddressGuard, AllowListError};
/// The range type of [`AddressGuard::new`], so callers need not depend on ipnet.
pub use ipnet::IpNet;
pub use oauth::{refresh_token_grant, OAuthConfig};
pub use redact::{looks_secret, looks_secret_field, redact_json, redact_url};
pub use settings::{AllowedOrigin, ClientSettings, SettingsError};
