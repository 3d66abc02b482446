//! The Rust ops behind `runtime-js/bootstrap.js`, one module per
//! capability: console, apiClient, crypto and URL parsing. Each op is the
//! only way its capability reaches JavaScript; bootstrap.js hides the raw
//! ops from connector code.

mod api_client;
mod console;
mod crypto;
mod url;

pub(crate) use api_client::ApiContext;
pub(crate) use console::CallTags;

deno_core::extension!(
    connector_runtime,
    ops = [
        console::op_rt_console,
        api_client::op_rt_api_configure,
        api_client::op_rt_api_request,
        crypto::op_rt_digest,
        crypto::op_rt_hmac,
        crypto::op_rt_hmac_verify,
        crypto::op_rt_random_fill,
        url::op_rt_url_parse,
        url::op_rt_url_set,
    ],
);
