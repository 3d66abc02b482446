//! Mapping files as functions (runtime-js/mapping.js): a connector's
//! `make-api-client.yml`, `record-from-api.yml` or
//! `record-from-fields.map.yml` is called from JavaScript like the code it
//! stands for, and evaluated here by `runtime-formulas`.
//!
//! The worker reads and parses each mapping file once per runtime, the
//! first time a call names it ([`Mappings::load`]), as it evaluates each
//! module once; the ops then take the mapping by its file name. What the
//! result means (client options, a record) is the caller's business.

use std::collections::HashMap;
use std::sync::Arc;

use deno_core::{op2, OpState};
use deno_error::JsErrorBox;
use runtime_connector::FunctionFile;
use serde_json::Value;

use crate::CallError;

/// The mappings loaded in one runtime, by file name (`FunctionFile::rel`).
#[derive(Default)]
pub(crate) struct Mappings(HashMap<String, Arc<Value>>);

/// Whether `f` is a mapping file rather than code: Membrane's mapping
/// suffixes are `.map.yml` and `.yml` (`.yaml` and `.json` accepted too).
pub(crate) fn is_mapping(f: &FunctionFile) -> bool {
    f.path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "yml" | "yaml" | "json"))
}

impl Mappings {
    /// Reads and parses `f` unless it is loaded already.
    pub(crate) fn load(&mut self, f: &FunctionFile) -> Result<(), CallError> {
        if self.0.contains_key(&f.rel) {
            return Ok(());
        }
        let file = runtime_connector::MappingFile {
            path: f.path.clone(),
            rel: f.rel.clone(),
        };
        let value = file.read().map_err(|problem| CallError::Mapping {
            file: f.rel.clone(),
            problem: problem.to_string(),
        })?;
        self.0.insert(f.rel.clone(), Arc::new(value));
        Ok(())
    }

    fn evaluate(&self, name: &str, context: &Value) -> Result<Value, JsErrorBox> {
        let mapping = self
            .0
            .get(name)
            .ok_or_else(|| JsErrorBox::type_error(format!("{name}: no such mapping is loaded")))?;
        runtime_formulas::evaluate(mapping, context)
            .map_err(|e| JsErrorBox::type_error(format!("{name}: {e}")))
    }
}

/// The mapping `name` evaluated over `context`.
#[op2]
#[serde]
pub(super) fn op_rt_mapping(
    state: &mut OpState,
    #[string] name: &str,
    #[serde] context: serde_json::Value,
) -> Result<serde_json::Value, JsErrorBox> {
    state.borrow::<Mappings>().evaluate(name, &context)
}

/// The mapping `name` evaluated over each of `contexts` (a page of
/// records: one crossing instead of one per record).
#[op2]
#[serde]
pub(super) fn op_rt_mapping_each(
    state: &mut OpState,
    #[string] name: &str,
    #[serde] contexts: Vec<serde_json::Value>,
) -> Result<Vec<serde_json::Value>, JsErrorBox> {
    let mappings = state.borrow::<Mappings>();
    contexts
        .iter()
        .map(|c| mappings.evaluate(name, c))
        .collect()
}
