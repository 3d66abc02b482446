// @integration-app/sdk/data-collections: the values connectors import at
// run time (the rest of that module is types). Written from the published
// shapes; see crates/engine/src/sdk.rs.

export const DataCollectionEventType = Object.freeze({
  CREATED: "created",
  UPDATED: "updated",
  DELETED: "deleted",
});
