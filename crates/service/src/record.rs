//! A connection as the admin API creates it and the store keeps it: the
//! request bodies (unknown fields refused, every error naming its field),
//! the stored record, what the API shows of it (never the credentials),
//! and the `runtime_connector::Connection` the host runs.

use std::collections::BTreeMap;
use std::time::Duration;

use runtime_connector::{CollectionConnection, Connection, Connector};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A request the API refuses with 400, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(field: &str, why: impl std::fmt::Display) -> Invalid {
    Invalid(format!("`{field}`: {why}"))
}

/// Reads a JSON body into `T`, naming the field at fault.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Invalid("the request needs a JSON body".into()));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Invalid(format!("the body is not valid JSON: {inner}"))
        } else if path == "." {
            Invalid(inner.to_string())
        } else {
            invalid(&path, inner)
        }
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CollectionSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_interval_seconds: Option<f64>,
}

/// `POST /v1/connections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBody {
    pub id: Option<String>,
    pub connector: String,
    pub credentials: Value,
    pub parameters: Option<Value>,
    pub collections: Option<BTreeMap<String, CollectionSettings>>,
    pub enabled: Option<bool>,
}

/// `PATCH /v1/connections/{id}`: each field given replaces the stored one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchBody {
    pub credentials: Option<Value>,
    pub parameters: Option<Value>,
    pub collections: Option<BTreeMap<String, CollectionSettings>>,
    pub enabled: Option<bool>,
}

/// What the store keeps (sealed) for one connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub connector: String,
    pub credentials: Value,
    pub parameters: Value,
    pub collections: BTreeMap<String, CollectionSettings>,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// Connection ids go into URLs and store keys: short, plain characters.
pub fn check_id(id: &str) -> Result<(), Invalid> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.len() > 64 || !id.chars().all(plain) || id.starts_with('.') {
        return Err(invalid(
            "id",
            "1 to 64 characters of letters, digits, `-`, `_` and `.`, not starting with `.`",
        ));
    }
    Ok(())
}

/// A fresh id: `conn-` and 16 hex digits.
pub fn new_id() -> String {
    format!("conn-{:016x}", rand::random::<u64>())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Record {
    pub fn create(id: String, body: CreateBody) -> Record {
        let at = now();
        Record {
            id,
            connector: body.connector,
            credentials: body.credentials,
            parameters: body.parameters.unwrap_or_else(|| json!({})),
            collections: body.collections.unwrap_or_default(),
            enabled: body.enabled.unwrap_or(true),
            created_at: at.clone(),
            updated_at: at,
        }
    }

    /// The record with `patch` applied.
    pub fn patched(&self, patch: PatchBody) -> Record {
        let mut next = self.clone();
        if let Some(c) = patch.credentials {
            next.credentials = c;
        }
        if let Some(p) = patch.parameters {
            next.parameters = p;
        }
        if let Some(c) = patch.collections {
            next.collections = c;
        }
        if let Some(e) = patch.enabled {
            next.enabled = e;
        }
        next.updated_at = now();
        next
    }

    /// Checks the record against its connector: object-shaped credentials
    /// and parameters, known collections, positive intervals, and the
    /// parameters against the connector's and collections' schemas.
    pub fn check(&self, connector: &Connector) -> Result<(), Invalid> {
        if !self.credentials.is_object() {
            return Err(invalid("credentials", "expected an object"));
        }
        if !self.parameters.is_object() {
            return Err(invalid("parameters", "expected an object"));
        }
        for (key, settings) in &self.collections {
            let field = format!("collections.{key}");
            if !connector.collections.contains_key(key) {
                let known: Vec<&str> = connector.collections.keys().map(String::as_str).collect();
                return Err(invalid(
                    &field,
                    format!(
                        "the connector `{}` has no such collection (it has: {})",
                        connector.spec.key,
                        known.join(", ")
                    ),
                ));
            }
            if let Some(p) = &settings.parameters {
                if !p.is_object() {
                    return Err(invalid(
                        &format!("{field}.parameters"),
                        "expected an object",
                    ));
                }
            }
            if let Some(s) = settings.pull_interval_seconds {
                if !(s.is_finite() && s > 0.0 && s <= 86_400.0 * 365.0) {
                    return Err(invalid(
                        &format!("{field}.pullIntervalSeconds"),
                        format!("expected a positive number of seconds, not {s}"),
                    ));
                }
            }
        }
        let connection = self.connection();
        connector
            .connector_parameters(&connection)
            .map_err(|e| invalid("parameters", e))?;
        for key in connector.collections.keys() {
            if connection.is_enabled(key) {
                connector
                    .collection_parameters(key, &connection, None)
                    .map_err(|e| invalid(&format!("collections.{key}.parameters"), e))?;
            }
        }
        Ok(())
    }

    /// The connection the host runs.
    pub fn connection(&self) -> Connection {
        let mut connection = Connection::empty();
        connection.id = Some(self.id.clone());
        connection.credentials = self.credentials.clone();
        connection.parameters = self.parameters.clone();
        connection.collections = self
            .collections
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    CollectionConnection {
                        enabled: s.enabled.unwrap_or(true),
                        parameters: s.parameters.clone().unwrap_or(Value::Null),
                    },
                )
            })
            .collect();
        connection
    }

    /// Pull intervals given per collection.
    pub fn intervals(&self) -> BTreeMap<String, Duration> {
        self.collections
            .iter()
            .filter_map(|(k, s)| {
                let secs = s.pull_interval_seconds?;
                Some((k.clone(), Duration::from_secs_f64(secs)))
            })
            .collect()
    }

    /// What the API shows: everything but the credentials.
    pub fn public(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        out.insert("connector".into(), json!(self.connector));
        out.insert("parameters".into(), self.parameters.clone());
        out.insert("collections".into(), json!(self.collections));
        out.insert("enabled".into(), json!(self.enabled));
        out.insert("createdAt".into(), json!(self.created_at));
        out.insert("updatedAt".into(), json!(self.updated_at));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_the_field_at_fault() {
        let e = parse_body::<CreateBody>(br#"{"connector":"a","credentials":{},"colections":{}}"#)
            .unwrap_err();
        assert!(e.0.contains("colections"), "{e}");
        let e = parse_body::<CreateBody>(
            br#"{"connector":"a","credentials":{},"collections":{"deals":{"enabled":"yes"}}}"#,
        )
        .unwrap_err();
        assert!(e.0.starts_with("`collections.deals.enabled`"), "{e}");
        let e = parse_body::<CreateBody>(br#"{"credentials":{}}"#).unwrap_err();
        assert!(e.0.contains("connector"), "{e}");
        let e = parse_body::<CreateBody>(b"{not json").unwrap_err();
        assert!(e.0.contains("not valid JSON"), "{e}");
        assert!(parse_body::<CreateBody>(b"").is_err());
    }

    #[test]
    fn ids_are_plain() {
        assert!(check_id("tenant-1.a_b").is_ok());
        for bad in ["", ".x", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        assert!(check_id(&new_id()).is_ok());
    }
}
