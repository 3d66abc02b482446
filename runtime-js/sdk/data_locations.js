// @integration-app/sdk/data-locations: the values connectors import at run
// time (directory `list` functions). See crates/engine/src/sdk.rs.

export const DataLocationType = Object.freeze({
  directory: "directory",
  collection: "collection",
});
