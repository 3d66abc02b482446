// @integration-app/sdk (and @membranehq/sdk, its newer name, which
// re-exports this module): every value the runtime provides, from one
// place, so an error class is the same class whichever name imported it.
// Loaded as crates/engine/src/sdk.rs says.

export * from "@integration-app/sdk/errors";
export * from "@integration-app/sdk/data-collections";
export * from "@integration-app/sdk/data-locations";
export { RestApiClient } from "@integration-app/connector-sdk";
