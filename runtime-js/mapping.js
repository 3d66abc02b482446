// Mapping files as functions: the host passes a mapping by its file name
// (a string where code would be a function), and `asFunction` turns it
// into an async function that evaluates the mapping in Rust
// (op_rt_mapping, crates/engine/src/ops/mapping.rs) over its first
// argument. `recordFromApi` is handed to connector code this way, and is
// called through `records.map(recordFromApi)`: index and array ignored.

import { op_rt_mapping, op_rt_mapping_each } from "ext:core/ops";

const isArray = Array.isArray;

export function asFunction(f) {
  if (typeof f !== "string") return f;
  return async (value) => op_rt_mapping(f, value === undefined ? null : value);
}

// Builds records with the `recordFromFields` mapping `name`: each raw
// record is the mapping's `$.fields`. Applies to a page (`records`) and to
// one record (`record`) of a read function's answer; anything else is left
// for the host's checks to name.
export function withRecordsFromFields(value, name) {
  if (typeof name !== "string" || value === null || typeof value !== "object") return value;
  if (isArray(value.records)) {
    const contexts = [];
    for (const fields of value.records) contexts.push({ fields });
    value.records = op_rt_mapping_each(name, contexts);
  } else if (value.record !== null && typeof value.record === "object") {
    value.record = op_rt_mapping(name, { fields: value.record });
  }
  return value;
}
