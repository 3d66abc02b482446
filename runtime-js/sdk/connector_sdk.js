// @integration-app/connector-sdk: RestApiClient, and the SDK's errors and
// enums (connectors of that era imported them from here too). Written from
// the published shapes; loaded as crates/engine/src/sdk.rs says.
//
// RestApiClient, as far as this runtime uses it: makeApiClient may return
// `new RestApiClient({baseUri, headers, query, auth})`. The instance keeps
// those options as its own properties, which is all runtime-js/api_client.js
// reads of makeApiClient's result (a plain object works the same).
// Requests go through the `apiClient` each function receives; the
// instance sends none itself.

export * from "@integration-app/sdk/errors";
export * from "@integration-app/sdk/data-collections";
export * from "@integration-app/sdk/data-locations";

const OPTIONS = ["baseUri", "headers", "query", "auth"];

export class RestApiClient {
  constructor(options = {}) {
    const o = options !== null && typeof options === "object" ? options : {};
    for (const key of OPTIONS) {
      if (o[key] !== undefined) this[key] = o[key];
    }
    // The platform's docs spell it baseUrl in one example.
    if (this.baseUri === undefined && typeof o.baseUrl === "string") this.baseUri = o.baseUrl;
  }
}

// Shared by every connection of a runtime, so frozen (see errors.js).
Object.freeze(RestApiClient.prototype);
Object.freeze(RestApiClient);
