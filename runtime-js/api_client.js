// apiClient (get / post / put / patch / delete / request) and ApiError.
// A request crosses to Rust through op_rt_api_request and makeApiClient's
// result through op_rt_api_configure (crates/engine/src/ops/api_client.rs);
// the HTTP, the origin allow-list, retries and redaction are in
// crates/api-client. Here: the request's shape, the 401 refresh of the
// credentials (refreshCredentials, or the OAuth2 refresh_token grant, which
// runs in Rust through op_rt_oauth_refresh), and turning an answer into
// data or an ApiError.

import { op_rt_api_configure, op_rt_api_request, op_rt_oauth_refresh } from "ext:core/ops";
import { defineGlobals } from "ext:runtime-js/global.js";

// Taken now, before connector code can replace it.
const jsonParse = JSON.parse;

class ApiError extends Error {
  constructor(message, { status, data, headers, method, url } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.data = data;
    this.headers = headers;
    this.method = method;
    this.url = url;
  }
}

// Auth state of this runtime: the makeApiClient inputs last applied, so a
// call with the same credentials skips makeApiClient.
const auth = {
  // The connection (tenant, credentials, parameters as JSON) of the call
  // running, and the one the client was last made for: requests go out
  // only while they are the same, so no call uses a client made for
  // another connection (invoke.js makes the client again first).
  key: null,
  configuredFor: null,
  credentials: undefined,
  parameters: undefined,
  makeApiClient: null,
  // What the host passed for makeApiClient (a function, or a mapping's
  // name that invoke.js made a function of).
  makeApiClientGiven: null,
  refreshCredentials: null,
  // getOAuthConfig (code or mapping): with no refreshCredentials, a 401
  // refreshes through the OAuth2 refresh_token grant (oauthRefresh).
  oauthConfig: null,
  refreshed: false,
  refreshing: null,
  // Counts completed refreshes: a 401 to a request sent before the last
  // refresh finished is retried with the new credentials, not refreshed again.
  generation: 0,
};

async function configure() {
  let settings = null;
  if (auth.makeApiClient) {
    settings = await auth.makeApiClient({ credentials: auth.credentials, parameters: auth.parameters });
    if (settings === null || typeof settings !== "object") {
      throw new TypeError("makeApiClient must return an object like {baseUri, headers, query}");
    }
  }
  op_rt_api_configure(settings, credentialStrings(auth.credentials));
  auth.configuredFor = auth.key;
}

// Every string in the credentials, for Rust to hide wherever an answer
// echoes one in an ApiError message (whatever else a refresh returned).
function credentialStrings(value, out = [], depth = 0) {
  if (typeof value === "string") out.push(value);
  else if (value !== null && typeof value === "object" && depth < 8) {
    for (const v of Object.values(value)) credentialStrings(v, out, depth + 1);
  }
  return out;
}

async function refresh() {
  // Concurrent requests that all see a 401 share one refresh.
  if (!auth.refreshing) {
    auth.refreshing = (async () => {
      const updated = await refresher()({
        credentials: auth.credentials,
        parameters: auth.parameters,
        // Its own requests must not refresh: a 401 from the token
        // endpoint would otherwise await this very refresh forever.
        apiClient: refreshApiClient,
      });
      if (updated !== null && typeof updated === "object") {
        auth.credentials = { ...auth.credentials, ...updated };
      }
      auth.refreshed = true;
      auth.generation++;
      await configure();
    })().finally(() => { auth.refreshing = null; });
  }
  return auth.refreshing;
}

// The refresh of a connector with an OAuth config and no
// refreshCredentials: the token answer's fields are the new credentials
// (merged over the old ones by refresh(), so a refresh_token the server
// does not rotate, and fields such as realmId, stay).
async function oauthRefresh({ credentials, parameters }) {
  const refreshToken = credentials?.refresh_token;
  if (typeof refreshToken !== "string" || refreshToken === "") {
    throw new Error("the API answered 401 and the credentials have no refresh_token to refresh the access token with");
  }
  const config = await auth.oauthConfig({ credentials, parameters, connectorParameters: parameters });
  if (config === null || typeof config !== "object") {
    throw new TypeError("getOAuthConfig must return an object like {tokenUri, clientId, clientSecret}");
  }
  const res = await op_rt_oauth_refresh(config, refreshToken);
  if (!res.ok) {
    const err = new ApiError(`refreshing the OAuth2 access token failed: ${res.message}`, res);
    err.data = res.body === undefined ? undefined : bodyOf(res);
    throw err;
  }
  return res.token;
}

// refreshCredentials, else the OAuth2 grant when there is an OAuth config.
function refresher() {
  if (auth.refreshCredentials) return auth.refreshCredentials;
  return auth.oauthConfig ? oauthRefresh : null;
}

async function send(req, mayRefresh = true) {
  const wire = {
    method: String(req.method || "GET").toUpperCase(),
    path: req.path === undefined || req.path === null ? "" : String(req.path),
    query: req.query === undefined ? null : req.query,
    data: req.data === undefined ? null : req.data,
    hasData: req.data !== undefined,
    headers: req.headers || null,
  };
  if (auth.configuredFor !== auth.key) {
    throw new Error("apiClient used before makeApiClient configured it for this connection");
  }
  const sentWith = auth.generation;
  let res = await op_rt_api_request(wire);
  if (!res.ok && res.status === 401 && refresher() && mayRefresh) {
    if (auth.generation === sentWith) await refresh();
    res = await op_rt_api_request(wire);
  }
  if (!res.ok) {
    if (res.kind === "http") {
      res.data = bodyOf(res);
      throw new ApiError(res.message, res);
    }
    const err = new Error(res.message);
    err.name = "ApiClientError";
    err.kind = res.kind;
    throw err;
  }
  const r = res.response;
  return { status: r.status, headers: r.headers, data: bodyOf(r) };
}

// Rust checked that a "json" body parses; it crosses as text because
// JSON.parse builds the objects faster than a converted Rust value would.
function bodyOf(r) {
  if (r.bodyKind === "json") return jsonParse(r.body);
  if (r.bodyKind === "text") return r.body;
  return null;
}

function buildApiClient(mayRefresh) {
  const withQuery = (method) =>
    async (path, query, options = {}) =>
      (await send({ ...options, method, path, query: query ?? options.query }, mayRefresh)).data;
  const withData = (method) => async (path, data, options = {}) =>
    (await send({ ...options, method, path, data }, mayRefresh)).data;
  return Object.freeze({
    get: withQuery("GET"),
    delete: withQuery("DELETE"),
    post: withData("POST"),
    put: withData("PUT"),
    patch: withData("PATCH"),
    request: (options = {}) => send(options, mayRefresh),
  });
}
const apiClient = buildApiClient(true);
const refreshApiClient = buildApiClient(false);

// invoke.js sets the connection's auth state before each call and reads
// what a refresh left; lockdown.js freezes refreshApiClient, which no
// global names.
export { auth, configure, apiClient, refreshApiClient, ApiError };

defineGlobals({ ApiError, apiClient });
