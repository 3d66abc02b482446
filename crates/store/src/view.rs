//! What every backend of [`crate::Store`] does alike above its storage:
//! where a connection's view keeps its subscriptions and credentials
//! ([`View`]), sealing values at rest with the caller's cipher
//! ([`Sealer`]), and the event ids of the outbox. Written once so sled and
//! PostgreSQL lay out views, seal and number events the same way.

use std::sync::Arc;

use base64::Engine as _;
use runtime_secrets::Cipher;

use crate::{Place, StoreError};

/// A connection's view of a store (`Store::tenant`), or the whole store.
#[derive(Clone, Default)]
pub(crate) struct View {
    /// A view's subscriptions are stored under `@<connection>/<sub>`, which
    /// no `run` sub id can start with (they start with the connector's key).
    pub tenant: Option<Arc<str>>,
}

const TENANT_MARK: char = '@';

impl View {
    pub fn of(connection: &str) -> View {
        View {
            tenant: Some(Arc::from(connection)),
        }
    }

    /// Where a view's subscriptions are kept.
    pub fn prefix(&self) -> Option<String> {
        self.tenant.as_ref().map(|t| format!("{TENANT_MARK}{t}/"))
    }

    /// `sub` as stored: under the view's prefix.
    pub fn key(&self, sub: &str) -> String {
        match self.prefix() {
            Some(p) => format!("{p}{sub}"),
            None => sub.to_string(),
        }
    }

    /// The sub id this view lists for a stored key, if the key is the
    /// view's: a connection's own keys, or for the whole store the keys of
    /// no connection.
    pub fn own(&self, stored: &str) -> Option<String> {
        match self.prefix() {
            Some(p) => stored.strip_prefix(&p).map(str::to_string),
            None => (!stored.starts_with(TENANT_MARK)).then(|| stored.to_string()),
        }
    }

    /// Where the view's refreshed credentials are kept.
    pub fn credentials_key(&self) -> String {
        match &self.tenant {
            Some(t) => format!("refreshed_credentials/{t}"),
            None => "refreshed_credentials".to_string(),
        }
    }

    /// A claim by `connection` on a view: a view is its connection's by
    /// construction. None for the whole store, which asks its storage.
    pub fn claim(&self, at: &Place, connection: &str) -> Option<Result<crate::Claim, StoreError>> {
        let t = self.tenant.as_ref()?;
        Some(if t.as_ref() == connection {
            Ok(crate::Claim::Same)
        } else {
            Err(StoreError::OtherConnection {
                at: at.clone(),
                owner: t.to_string(),
                connection: connection.to_string(),
            })
        })
    }
}

/// Sealed values are stored as this prefix and base64.
const SEALED_PREFIX: &str = "sealed:v1:";

/// Seals refreshed credentials and connection records at rest when the
/// store has a cipher; values stored before one was given stay readable.
#[derive(Clone, Default)]
pub(crate) struct Sealer {
    pub cipher: Option<Cipher>,
}

impl Sealer {
    /// JSON, sealed for `context` when there is a cipher.
    pub fn seal(
        &self,
        at: &Place,
        context: &str,
        value: &impl serde::Serialize,
    ) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(value).map_err(|e| corrupt(at, context, e))?;
        Ok(match &self.cipher {
            Some(c) => {
                let sealed =
                    base64::engine::general_purpose::STANDARD.encode(c.seal(context, &json));
                format!("{SEALED_PREFIX}{sealed}").into_bytes()
            }
            None => json,
        })
    }

    /// What [`Sealer::seal`] stored for `context`.
    pub fn open<T: serde::de::DeserializeOwned>(
        &self,
        at: &Place,
        context: &str,
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        let plain;
        let json = match bytes.strip_prefix(SEALED_PREFIX.as_bytes()) {
            Some(b64) => {
                let Some(c) = &self.cipher else {
                    return Err(StoreError::Sealed {
                        what: context.to_string(),
                        detail: "it is sealed and no secret key was given".into(),
                    });
                };
                let sealed = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| corrupt(at, context, e))?;
                plain = c.open(context, &sealed).map_err(|e| StoreError::Sealed {
                    what: context.to_string(),
                    detail: e.to_string(),
                })?;
                plain.as_slice()
            }
            None => bytes,
        };
        serde_json::from_slice(json).map_err(|e| corrupt(at, context, e))
    }
}

fn corrupt(at: &Place, what: &str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        at: at.clone(),
        what: what.to_string(),
        detail: detail.to_string(),
    }
}

/// The id of the outbox's event `seq` in a store whose random instance id
/// is `instance`: unique across stores, stable across redelivery.
pub(crate) fn event_id(instance: &str, seq: u64) -> String {
    format!("{instance}-{seq:020}")
}

/// The sequence of an id [`event_id`] made for this `instance`; None for
/// another store's ids or text that is no id.
pub(crate) fn seq_of(instance: &str, id: &str) -> Option<u64> {
    let (owner, seq) = id.rsplit_once('-')?;
    if owner != instance {
        return None;
    }
    seq.parse().ok()
}
