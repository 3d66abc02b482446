// The call site: how the host invokes a connector function. Builds the
// function's argument (input, apiClient, credentials) from the JSON the
// host passes, runs makeApiClient when the connection changed, calls the
// function through call_site.js, and returns the result as JSON text.
// makeApiClient, refreshCredentials, getOAuthConfig and recordFromApi are each a function,
// a mapping file's name (mapping.js) or null; recordFromFields a mapping
// file's name or null, applied to the records the function returns.
// Loaded last: the worker takes `invoke` and `endCall` from this module's
// exports (crates/engine/src/worker.rs); only Rust holds them, since no
// connector code can import an `ext:` module. No ops.

import { apiClient, auth, configure } from "ext:runtime-js/api_client.js";
import { callConnector } from "ext:runtime-js/call_site.js";
import { asFunction, withRecordsFromFields } from "ext:runtime-js/mapping.js";
import { cancelCallTimers } from "ext:runtime-js/timers.js";

// Taken now, before connector code can replace them: the host glue below
// must not be subvertible through JSON or prototype methods.
const jsonStringify = JSON.stringify;
const jsonParse = JSON.parse;
const objectDefineProperty = Object.defineProperty;
const objectPreventExtensions = Object.preventExtensions;

const toJson = (value, what) => {
  try {
    return jsonStringify(value === undefined ? null : value);
  } catch (e) {
    throw new TypeError(`${what} returned a value that is not JSON (${e.message})`);
  }
};

const argument = (inputJson, recordFromApi) => {
  auth.refreshed = false;
  const arg = jsonParse(inputJson);
  arg.apiClient = apiClient;
  if (arg.credentials === undefined) arg.credentials = auth.credentials;
  if (recordFromApi !== null) arg.recordFromApi = asFunction(recordFromApi);
  return arg;
};
const result = (value, name, recordFromFields) => {
  value = withRecordsFromFields(value, recordFromFields);
  const out = { value: value === undefined ? null : value };
  if (auth.refreshed) out.credentials = auth.credentials;
  return toJson(out, name);
};
// The tripwire (limits::squeeze) stays an argument of every frame of
// the call's own code path, as it was of the one async invoke.
async function settle(pending, name, recordFromFields, _tripwire) {
  return result(await pending, name, recordFromFields);
}
async function configureAndInvoke(fn, inputJson, authJson, makeApiClient, refreshCredentials,
  oauthConfig, recordFromApi, recordFromFields, name, _tripwire) {
  const a = jsonParse(authJson);
  // From here until configure() succeeds, apiClient refuses requests
  // (api_client.js, `send`): the client still configured is the last
  // connection's, and this connection's makeApiClient must not use it.
  auth.key = authJson;
  auth.credentials = a.credentials;
  auth.parameters = a.parameters;
  auth.refreshing = null;
  // The value as passed (a function or a mapping's name) tells whether the
  // client must be made again; the function is what configure() calls.
  auth.makeApiClientGiven = makeApiClient;
  auth.makeApiClient = asFunction(makeApiClient);
  auth.refreshCredentials = asFunction(refreshCredentials);
  auth.oauthConfig = asFunction(oauthConfig);
  try {
    await configure();
  } catch (e) {
    // Nothing of this connection stays for the next call to find.
    auth.key = null;
    auth.credentials = undefined;
    auth.parameters = undefined;
    throw e;
  }
  const value = await callConnector(fn, argument(inputJson, recordFromApi));
  return result(value, name, recordFromFields);
}

// Returns the result's JSON text, or a promise of it when the function is
// async (or makeApiClient must run first). A synchronous function returns
// at once: no promise for the host to wait on.
export function invoke(fn, inputJson, authJson, makeApiClient, refreshCredentials,
  oauthConfig, recordFromApi, recordFromFields, name, tripwire) {
  // authJson names the tenant too (worker.rs): another connection's call
  // always makes its client again. A configure() that failed left
  // `configuredFor` behind, so the next call tries again.
  if (auth.key !== authJson || auth.configuredFor !== authJson ||
      auth.makeApiClientGiven !== makeApiClient) {
    return configureAndInvoke(fn, inputJson, authJson, makeApiClient, refreshCredentials,
      oauthConfig, recordFromApi, recordFromFields, name, tripwire);
  }
  const value = callConnector(fn, argument(inputJson, recordFromApi));
  if (value !== null && (typeof value === "object" || typeof value === "function") &&
      typeof value.then === "function") {
    return settle(value, name, recordFromFields, tripwire);
  }
  return result(value, name, recordFromFields);
}

// Called by the worker once, before the first call of a tenant in this
// runtime (crates/engine/src/worker.rs): from then on nothing connector
// code does to the global object reaches another tenant's call. The global
// names are already read-only (lockdown.js); `globalThis` itself becomes
// so too, and no global can be added (`globalThis.x = 1` throws
// "TypeError: Cannot add property x, object is not extensible"). Not done
// for the one connection of `runtime run`, whose connectors may keep
// globals between calls.
export function sealGlobals() {
  objectDefineProperty(globalThis, "globalThis", {
    value: globalThis, writable: false, enumerable: false, configurable: false,
  });
  objectPreventExtensions(globalThis);
  return true;
}

// Returns false when the call's timers could not be cancelled.
export function endCall() {
  let ok = true;
  try {
    cancelCallTimers();
  } catch (_) {
    ok = false;
  }
  return ok;
}
