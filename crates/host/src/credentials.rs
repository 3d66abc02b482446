//! Refreshed credentials across runs. A refresh (the OAuth2 grant, or a
//! connector's `refreshCredentials`) changes the credentials every
//! collection's invoker shares; the run keeps them in the store, so the
//! next run starts from them rather than from the connection file's, whose
//! refresh token a rotating server (Intuit, Xero) has already retired.
//!
//! The kept credentials carry a fingerprint of the connection's own
//! credentials at the time: when the connection gives others (the operator
//! put new ones in the file), those win and the kept ones are dropped.
//! Nothing here reads or changes what the credentials mean.

use std::sync::{Arc, Mutex};

use runtime_connector::Connection;
use runtime_store::{RefreshedCredentials, Store};
use serde_json::Value;

use crate::HostError;

/// The run's credentials and what the store holds of them.
pub(crate) struct KeptCredentials {
    /// Fingerprint of the connection's own credentials.
    given: String,
    /// What the store holds (or the connection's, when it holds nothing).
    saved: Mutex<Value>,
    /// The credentials every invoker shares.
    current: Arc<Mutex<Value>>,
}

fn fingerprint(credentials: &Value) -> String {
    format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(credentials.to_string().as_bytes())
    )
}

/// Starts `current` (the invokers' credentials, the connection's until
/// now) from the refreshed credentials kept for the same connection
/// credentials, if any.
pub(crate) async fn restore(
    connection: &Connection,
    current: Arc<Mutex<Value>>,
    store: &dyn Store,
) -> Result<KeptCredentials, HostError> {
    let given = fingerprint(&connection.credentials);
    let mut saved = connection.credentials.clone();
    if let Some(kept) = store.refreshed_credentials().await? {
        if kept.given == given {
            tracing::info!("using the credentials refreshed by an earlier run");
            saved = kept.value;
            if let Ok(mut c) = current.lock() {
                *c = saved.clone();
            }
        } else {
            tracing::info!(
                "the connection's credentials changed since the last refresh: using them"
            );
        }
    }
    Ok(KeptCredentials {
        given,
        saved: Mutex::new(saved),
        current,
    })
}

impl KeptCredentials {
    /// Stores the current credentials if a refresh changed them since the
    /// last save. A failed save is logged, not fatal: the run goes on with
    /// the refreshed credentials in memory.
    pub(crate) async fn keep(&self, store: &dyn Store) {
        let current = match self.current.lock() {
            Ok(c) => c.clone(),
            Err(_) => return,
        };
        let changed = self.saved.lock().map(|s| *s != current).unwrap_or(false);
        if !changed {
            return;
        }
        let kept = RefreshedCredentials {
            given: self.given.clone(),
            value: current.clone(),
        };
        match store.save_refreshed_credentials(kept).await {
            Ok(()) => {
                if let Ok(mut s) = self.saved.lock() {
                    *s = current;
                }
            }
            Err(e) => tracing::warn!(
                "cannot keep the refreshed credentials in the data dir (the next run starts from the connection's): {e}"
            ),
        }
    }
}
