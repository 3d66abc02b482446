//! Outgoing webhooks: registrations, one ordered delivery queue per
//! registration, optional HMAC signing, and a log of every outcome.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::store::Change;
use crate::{WebhookDelivery, WebhookRegistration};

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`, the value of
/// `x-mock-signature`, for receivers in tests to check against.
pub fn sign_webhook(secret: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Job {
    event_type: &'static str,
    seq: u64,
    body: String,
}

struct Ctx {
    client: reqwest::Client,
    secret: Option<String>,
    log: Arc<Mutex<Vec<WebhookDelivery>>>,
}

struct Hook {
    reg: WebhookRegistration,
    tx: mpsc::UnboundedSender<Job>,
}

pub(crate) struct Webhooks {
    hooks: Vec<Hook>,
    next_id: u64,
    ctx: Arc<Ctx>,
    rt: Handle,
}

impl Webhooks {
    pub(crate) fn new(
        client: reqwest::Client,
        secret: Option<String>,
        log: Arc<Mutex<Vec<WebhookDelivery>>>,
        rt: Handle,
    ) -> Webhooks {
        Webhooks {
            hooks: Vec::new(),
            next_id: 0,
            ctx: Arc::new(Ctx {
                client,
                secret,
                log,
            }),
            rt,
        }
    }

    pub(crate) fn register(
        &mut self,
        url: &str,
        collection: Option<String>,
        events: Option<Vec<String>>,
    ) -> WebhookRegistration {
        self.next_id += 1;
        let reg = WebhookRegistration {
            id: format!("wh-{}", self.next_id),
            url: url.to_string(),
            collection,
            events,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.rt
            .spawn(deliver_all(reg.clone(), rx, Arc::clone(&self.ctx)));
        self.hooks.push(Hook {
            reg: reg.clone(),
            tx,
        });
        reg
    }

    /// Removes a registration; deliveries already queued still go out.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        let before = self.hooks.len();
        self.hooks.retain(|h| h.reg.id != id);
        self.hooks.len() != before
    }

    pub(crate) fn list(&self) -> Vec<WebhookRegistration> {
        self.hooks.iter().map(|h| h.reg.clone()).collect()
    }

    /// Queues the change for every matching registration. Called with the
    /// store locked, so queues receive changes in seq order.
    pub(crate) fn dispatch(&self, change: &Change) {
        let kind = change.kind.as_str();
        let mut body = None;
        for h in &self.hooks {
            let coll_ok = h
                .reg
                .collection
                .as_deref()
                .is_none_or(|c| c == change.collection);
            let event_ok = h
                .reg
                .events
                .as_ref()
                .is_none_or(|evs| evs.iter().any(|e| e == kind || e == "*"));
            if !(coll_ok && event_ok) {
                continue;
            }
            let body = body
                .get_or_insert_with(|| {
                    json!({
                        "type": kind,
                        "collection": change.collection,
                        "record": change.record,
                        "seq": change.seq,
                    })
                    .to_string()
                })
                .clone();
            // A closed queue means the worker is gone (server stopping).
            let _ = h.tx.send(Job {
                event_type: kind,
                seq: change.seq,
                body,
            });
        }
    }
}

async fn deliver_all(
    reg: WebhookRegistration,
    mut rx: mpsc::UnboundedReceiver<Job>,
    ctx: Arc<Ctx>,
) {
    while let Some(job) = rx.recv().await {
        let d = deliver_one(&reg, job, &ctx).await;
        ctx.log.lock().unwrap_or_else(|e| e.into_inner()).push(d);
    }
}

async fn deliver_one(reg: &WebhookRegistration, job: Job, ctx: &Ctx) -> WebhookDelivery {
    let mut req = ctx
        .client
        .post(&reg.url)
        .header("content-type", "application/json");
    let (mut timestamp, mut signature) = (None, None);
    if let Some(secret) = &ctx.secret {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string();
        let sig = sign_webhook(secret, &ts, job.body.as_bytes());
        req = req
            .header("x-mock-timestamp", &ts)
            .header("x-mock-signature", &sig);
        timestamp = Some(ts);
        signature = Some(sig);
    }
    let (status, error) = match req.body(job.body.clone()).send().await {
        Ok(resp) => (Some(resp.status().as_u16()), None),
        Err(e) => (None, Some(format!("POST {}: {e}", reg.url))),
    };
    WebhookDelivery {
        webhook_id: reg.id.clone(),
        url: reg.url.clone(),
        event_type: job.event_type.to_string(),
        seq: job.seq,
        status,
        error,
        body: job.body,
        timestamp,
        signature,
    }
}
