//! What subscribing left at the external app, undone when a subscription
//! goes: stored subscriptions no longer planned (collection disabled or
//! removed) and `runtime state reset`. Also the warning for a public URL
//! the app cannot reach.

use std::sync::Arc;

use runtime_connector::{Connection, Connector};
use runtime_engine::Engine;
use runtime_store::{Store, SubscriptionState};
use runtime_strategies::Invoker;

use crate::shared::{base_invoker, collection_invoker, Subscription};
use crate::HostError;

/// Stored subscriptions that are no longer planned and registered
/// something at the app are retired there and forgotten, so it stops
/// sending to an endpoint nobody serves.
pub(crate) async fn retire_removed(
    base: &Invoker,
    connection: &Connection,
    store: &dyn Store,
    subs: &[Arc<Subscription>],
) -> Result<Vec<String>, HostError> {
    let mut removed = Vec::new();
    for (id, state) in store.list().await? {
        let planned = subs.iter().any(|s| s.plan.id == id);
        if planned
            || state.connector != base.connector.spec.key
            || !runtime_strategies::registers(&state)
        {
            continue;
        }
        retire_and_reset(base, connection, store, &id, &state).await?;
        removed.push(id);
    }
    Ok(removed)
}

async fn retire_and_reset(
    base: &Invoker,
    connection: &Connection,
    store: &dyn Store,
    id: &str,
    state: &SubscriptionState,
) -> Result<(), HostError> {
    if base.connector.collections.contains_key(&state.collection) {
        let invoker = collection_invoker(base, connection, &state.collection)?;
        if let Err(e) = runtime_strategies::retire(&invoker, state).await {
            tracing::warn!(subscription = %id, "undoing the registration at the app failed (state reset anyway): {e}");
        }
    }
    store.reset(id).await?;
    Ok(())
}

/// `runtime state reset`: forgets subscriptions (undoing their webhook
/// registrations first). Returns the ids reset.
pub async fn reset(
    connector: Arc<Connector>,
    connection: Connection,
    engine: Engine,
    store: Arc<dyn Store>,
    collection: Option<&str>,
) -> Result<Vec<String>, HostError> {
    let base = base_invoker(&connector, &connection, engine, None)?;
    // Unregistering calls the app: with the credentials a run refreshed
    // and kept, not the file's (a rotated refresh token is dead).
    let credentials =
        crate::credentials::restore(&connection, base.credentials.clone(), store.as_ref()).await?;
    let mut done = Vec::new();
    for (id, state) in store.list().await? {
        if state.connector != connector.spec.key
            || collection.is_some_and(|c| c != state.collection)
        {
            continue;
        }
        retire_and_reset(&base, &connection, store.as_ref(), &id, &state).await?;
        done.push(id);
    }
    credentials.keep(store.as_ref()).await;
    Ok(done)
}

/// Warns when webhooks would be registered at an address the external app
/// cannot reach (loopback, unspecified, private): deliveries there fail.
pub(crate) fn warn_unreachable(public_url: &str, defaulted: bool) {
    let Ok(url) = url::Url::parse(public_url) else {
        return;
    };
    let unreachable = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified() || ip.is_private(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        None => true,
    };
    if unreachable {
        let how = if defaulted {
            " (--listen, as no --public-url was given)"
        } else {
            ""
        };
        tracing::warn!(
            "webhooks are registered at {public_url}{how}, which an external app cannot reach; pass --public-url with the address it can reach (a tunnel or your server's URL)"
        );
    }
}
