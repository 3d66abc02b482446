// The JavaScript side of the runtime, evaluated once in every fresh JsRuntime
// before any connector code. It builds the globals a connector may use
// (console, timers, URL, TextEncoder, atob, structuredClone, crypto, ApiError)
// from deno_core's ops, then removes every route to those ops (`Deno`,
// `__bootstrap`, ...) from the global object: connector code only ever sees
// the safe wrappers. The script's completion value is the host object that
// Rust keeps (never reachable from connector code).
((globalThis) => {
  "use strict";
  const core = globalThis.Deno.core;
  const ops = core.ops;
  const {
    op_rt_console,
    op_rt_api_request,
    op_rt_api_configure,
    op_rt_digest,
    op_rt_hmac,
    op_rt_hmac_verify,
    op_rt_random_fill,
    op_rt_url_parse,
    op_rt_url_set,
  } = ops;
  const encodeUtf8 = core.encode;
  const decodeUtf8 = core.decode;
  const createTimer = core.createTimer;
  const cancelTimer = core.cancelTimer;
  // Taken now, before connector code can replace them: the host glue below
  // must not be subvertible through JSON or prototype methods.
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;

  // ---------------------------------------------------------------- console
  function formatValue(value, seen) {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.stack || `${value.name}: ${value.message}`;
    if (typeof value === "function") return `[Function ${value.name || "anonymous"}]`;
    if (typeof value === "bigint") return `${value}n`;
    if (typeof value === "symbol" || value === undefined) return String(value);
    if (typeof value !== "object" || value === null) return String(value);
    try {
      return jsonStringify(value, function (key, v) {
        if (typeof v === "bigint") return `${v}n`;
        if (typeof v === "object" && v !== null) {
          if (seen.has(v)) return "[Circular]";
          seen.add(v);
        }
        if (v instanceof Map) return { "[Map]": Array.from(v.entries()) };
        if (v instanceof Set) return { "[Set]": Array.from(v.values()) };
        return v;
      });
    } catch (_) {
      return Object.prototype.toString.call(value);
    }
  }
  function format(args) {
    return args.map((a) => formatValue(a, new WeakSet())).join(" ");
  }
  const makeLogger = (level) => (...args) => op_rt_console(level, format(args));
  const console = {
    log: makeLogger("info"),
    info: makeLogger("info"),
    debug: makeLogger("debug"),
    trace: makeLogger("trace"),
    warn: makeLogger("warn"),
    error: makeLogger("error"),
    dir: makeLogger("info"),
    table: makeLogger("info"),
    assert: (cond, ...args) => {
      if (!cond) op_rt_console("error", "Assertion failed: " + format(args));
    },
  };

  // ----------------------------------------------------------------- timers
  // Timers are tracked per call so that a call cannot leave work behind for
  // the next one: Rust calls host.endCall() after every call.
  const liveTimers = new Map();
  let nextTimerId = 1;
  function setTimeout(callback, delay = 0, ...args) {
    if (typeof callback !== "function") {
      throw new TypeError("setTimeout: callback must be a function");
    }
    const id = nextTimerId++;
    const timer = createTimer(() => {
      liveTimers.delete(id);
      callback(...args);
    }, Number(delay) || 0, undefined, false, true);
    liveTimers.set(id, timer);
    return id;
  }
  function clearTimeout(id) {
    const timer = liveTimers.get(id);
    if (timer !== undefined) {
      liveTimers.delete(id);
      cancelTimer(timer);
    }
  }
  function setInterval(callback, delay = 0, ...args) {
    if (typeof callback !== "function") {
      throw new TypeError("setInterval: callback must be a function");
    }
    const id = nextTimerId++;
    const timer = createTimer(() => callback(...args), Math.max(1, Number(delay) || 0), undefined, true, true);
    liveTimers.set(id, timer);
    return id;
  }

  // -------------------------------------------------------------- encodings
  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(input = "") { return encodeUtf8(String(input)); }
    encodeInto(input, dest) {
      const bytes = encodeUtf8(String(input));
      const n = Math.min(bytes.length, dest.length);
      dest.set(bytes.subarray(0, n));
      return { read: n === bytes.length ? String(input).length : undefined, written: n };
    }
  }
  class TextDecoder {
    constructor(label = "utf-8") {
      const l = String(label).toLowerCase();
      if (l !== "utf-8" && l !== "utf8") {
        throw new RangeError(`TextDecoder: only utf-8 is supported, not "${label}"`);
      }
    }
    get encoding() { return "utf-8"; }
    decode(input) {
      if (input === undefined) return "";
      if (input instanceof ArrayBuffer) return decodeUtf8(new Uint8Array(input));
      if (ArrayBuffer.isView(input)) {
        return decodeUtf8(new Uint8Array(input.buffer, input.byteOffset, input.byteLength));
      }
      throw new TypeError("TextDecoder.decode: expected an ArrayBuffer or a view of one");
    }
  }
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  function btoa(input) {
    const s = String(input);
    let out = "";
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) {
        throw new DOMException("btoa: string contains characters outside Latin-1", "InvalidCharacterError");
      }
      const n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] +
        (i + 1 < s.length ? B64[(n >> 6) & 63] : "=") +
        (i + 2 < s.length ? B64[n & 63] : "=");
    }
    return out;
  }
  function atob(input) {
    let s = String(input).replace(/[\t\n\f\r ]/g, "");
    if (s.length % 4 === 0) s = s.replace(/==?$/, "");
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) {
      throw new DOMException("atob: the string is not valid base64", "InvalidCharacterError");
    }
    let out = "", bits = 0, acc = 0;
    for (let i = 0; i < s.length; i++) {
      acc = (acc << 6) | B64.indexOf(s[i]);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += String.fromCharCode((acc >> bits) & 255);
      }
    }
    return out;
  }

  class DOMException extends Error {
    constructor(message = "", name = "Error") {
      super(message);
      Object.defineProperty(this, "name", { value: name, configurable: true, writable: true });
    }
  }

  // -------------------------------------------------------- structuredClone
  function structuredClone(value) {
    const seen = new Map();
    const clone = (v) => {
      if (typeof v === "function" || typeof v === "symbol") {
        throw new DOMException(`${String(v)} could not be cloned`, "DataCloneError");
      }
      if (typeof v !== "object" || v === null) return v;
      if (seen.has(v)) return seen.get(v);
      let out;
      if (Array.isArray(v)) {
        out = new Array(v.length);
        seen.set(v, out);
        for (let i = 0; i < v.length; i++) if (i in v) out[i] = clone(v[i]);
        return out;
      }
      if (v instanceof Date) out = new Date(v.getTime());
      else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
      else if (v instanceof ArrayBuffer) out = v.slice(0);
      else if (ArrayBuffer.isView(v)) {
        const C = v.constructor;
        out = new C(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
      } else if (v instanceof Map) {
        out = new Map();
        seen.set(v, out);
        for (const [k, val] of v) out.set(clone(k), clone(val));
        return out;
      } else if (v instanceof Set) {
        out = new Set();
        seen.set(v, out);
        for (const val of v) out.add(clone(val));
        return out;
      } else if (v instanceof Error) {
        out = new Error(v.message);
        out.name = v.name;
        if (v.stack) out.stack = v.stack;
      } else if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) {
        throw new DOMException(`${Object.prototype.toString.call(v)} could not be cloned`, "DataCloneError");
      } else {
        out = {};
        seen.set(v, out);
        for (const k of Object.keys(v)) out[k] = clone(v[k]);
        return out;
      }
      seen.set(v, out);
      return out;
    };
    return clone(value);
  }

  // -------------------------------------------------------------- URL APIs
  const formEncode = (s) =>
    encodeURIComponent(s).replace(/%20/g, "+").replace(/[!'()~]/g, (c) =>
      "%" + c.charCodeAt(0).toString(16).toUpperCase());
  const formDecode = (s) => {
    const t = s.replace(/\+/g, " ");
    try { return decodeURIComponent(t); } catch (_) { return t; }
  };
  const kList = Symbol("list");
  const kUrl = Symbol("url");
  class URLSearchParams {
    constructor(init = "") {
      this[kList] = [];
      this[kUrl] = null;
      if (typeof init === "string") {
        this._parse(init);
      } else if (init instanceof URLSearchParams) {
        this[kList] = init[kList].map(([k, v]) => [k, v]);
      } else if (init !== null && typeof init === "object") {
        if (typeof init[Symbol.iterator] === "function") {
          for (const pair of init) {
            const p = Array.from(pair);
            if (p.length !== 2) throw new TypeError("URLSearchParams: each pair must have two items");
            this[kList].push([String(p[0]), String(p[1])]);
          }
        } else {
          for (const k of Object.keys(init)) this[kList].push([k, String(init[k])]);
        }
      }
    }
    _parse(s) {
      this[kList] = [];
      const str = s.startsWith("?") ? s.slice(1) : s;
      for (const part of str.split("&")) {
        if (part === "") continue;
        const i = part.indexOf("=");
        const k = i === -1 ? part : part.slice(0, i);
        const v = i === -1 ? "" : part.slice(i + 1);
        this[kList].push([formDecode(k), formDecode(v)]);
      }
    }
    _update() {
      if (this[kUrl]) this[kUrl]._setSearchFromParams(this.toString());
    }
    get size() { return this[kList].length; }
    append(k, v) { this[kList].push([String(k), String(v)]); this._update(); }
    delete(k, v) {
      k = String(k);
      this[kList] = this[kList].filter(([a, b]) => !(a === k && (v === undefined || b === String(v))));
      this._update();
    }
    get(k) { const e = this[kList].find(([a]) => a === String(k)); return e ? e[1] : null; }
    getAll(k) { return this[kList].filter(([a]) => a === String(k)).map(([, b]) => b); }
    has(k, v) { return this[kList].some(([a, b]) => a === String(k) && (v === undefined || b === String(v))); }
    set(k, v) {
      k = String(k);
      const i = this[kList].findIndex(([a]) => a === k);
      if (i === -1) this[kList].push([k, String(v)]);
      else {
        this[kList][i] = [k, String(v)];
        this[kList] = this[kList].filter(([a], j) => a !== k || j === i);
      }
      this._update();
    }
    sort() { this[kList].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this._update(); }
    forEach(cb, thisArg) { for (const [k, v] of this[kList]) cb.call(thisArg, v, k, this); }
    keys() { return this[kList].map(([k]) => k)[Symbol.iterator](); }
    values() { return this[kList].map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this[kList].map(([k, v]) => [k, v])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this[kList].map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join("&"); }
  }

  const kParts = Symbol("parts");
  const kParams = Symbol("params");
  class URL {
    constructor(url, base) {
      this[kParts] = op_rt_url_parse(String(url), base === undefined ? null : String(base));
      this[kParams] = null;
    }
    static canParse(url, base) {
      try { new URL(url, base); return true; } catch (_) { return false; }
    }
    static parse(url, base) {
      try { return new URL(url, base); } catch (_) { return null; }
    }
    _set(component, value) { this[kParts] = op_rt_url_set(this[kParts].href, component, String(value)); }
    _setSearchFromParams(s) { this[kParts] = op_rt_url_set(this[kParts].href, "search", s); }
    get href() { return this[kParts].href; }
    set href(v) { this[kParts] = op_rt_url_parse(String(v), null); if (this[kParams]) this[kParams]._parse(this.search); }
    get origin() { return this[kParts].origin; }
    get protocol() { return this[kParts].protocol; }
    set protocol(v) { this._set("protocol", v); }
    get username() { return this[kParts].username; }
    set username(v) { this._set("username", v); }
    get password() { return this[kParts].password; }
    set password(v) { this._set("password", v); }
    get host() { return this[kParts].host; }
    set host(v) { this._set("host", v); }
    get hostname() { return this[kParts].hostname; }
    set hostname(v) { this._set("hostname", v); }
    get port() { return this[kParts].port; }
    set port(v) { this._set("port", v); }
    get pathname() { return this[kParts].pathname; }
    set pathname(v) { this._set("pathname", v); }
    get search() { return this[kParts].search; }
    set search(v) { this._set("search", v); if (this[kParams]) this[kParams]._parse(this.search); }
    get hash() { return this[kParts].hash; }
    set hash(v) { this._set("hash", v); }
    get searchParams() {
      if (!this[kParams]) {
        this[kParams] = new URLSearchParams(this.search);
        this[kParams][kUrl] = this;
      }
      return this[kParams];
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }

  // ----------------------------------------------------------------- crypto
  const toBytes = (data, what) => {
    if (typeof data === "string") return encodeUtf8(data);
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError(`${what}: expected a string, an ArrayBuffer or a typed array`);
  };
  const bufferOf = (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const hashName = (alg, what) => {
    const name = typeof alg === "string" ? alg : alg && alg.name;
    const n = String(name || "").toUpperCase().replace(/^SHA(\d)/, "SHA-$1");
    if (["SHA-1", "SHA-256", "SHA-384", "SHA-512"].includes(n)) return n;
    throw new DOMException(`${what}: unsupported algorithm ${JSON.stringify(name)}`, "NotSupportedError");
  };
  class CryptoKey {
    constructor(secret, hash, usages, extractable) {
      Object.defineProperty(this, "_secret", { value: secret });
      this.type = "secret";
      this.algorithm = { name: "HMAC", hash: { name: hash } };
      this.usages = usages;
      this.extractable = !!extractable;
    }
  }
  const subtle = {
    async digest(alg, data) {
      return bufferOf(op_rt_digest(hashName(alg, "digest"), toBytes(data, "digest")));
    },
    async importKey(format, keyData, algorithm, extractable, usages) {
      if (format !== "raw") throw new DOMException(`importKey: only "raw" keys are supported`, "NotSupportedError");
      const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
      if (String(name).toUpperCase() !== "HMAC") {
        throw new DOMException(`importKey: only HMAC keys are supported`, "NotSupportedError");
      }
      return new CryptoKey(toBytes(keyData, "importKey").slice(), hashName(algorithm.hash, "importKey"), usages || [], extractable);
    },
    async exportKey(format, key) {
      if (format !== "raw" || !key.extractable) throw new DOMException("exportKey: key is not extractable as raw", "InvalidAccessError");
      return bufferOf(key._secret);
    },
    async sign(alg, key, data) {
      if (!(key instanceof CryptoKey)) throw new TypeError("sign: key must come from crypto.subtle.importKey");
      return bufferOf(op_rt_hmac(key.algorithm.hash.name, key._secret, toBytes(data, "sign")));
    },
    async verify(alg, key, signature, data) {
      if (!(key instanceof CryptoKey)) throw new TypeError("verify: key must come from crypto.subtle.importKey");
      return op_rt_hmac_verify(key.algorithm.hash.name, key._secret, toBytes(data, "verify"), toBytes(signature, "verify"));
    },
  };
  const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const toBase64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
  const encodeDigest = (bytes, encoding) => {
    if (encoding === "hex") return toHex(bytes);
    if (encoding === "base64") return toBase64(bytes);
    if (encoding === undefined) return bytes;
    throw new TypeError(`digest: unsupported encoding ${JSON.stringify(encoding)}`);
  };
  // Node-style helpers: many connectors written for Node verify webhook
  // signatures with createHmac(...).update(body).digest("hex").
  function hasher(compute) {
    const chunks = [];
    const h = {
      update(data) { chunks.push(toBytes(data, "update")); return h; },
      digest(encoding) {
        const total = chunks.reduce((n, c) => n + c.length, 0);
        const all = new Uint8Array(total);
        let o = 0;
        for (const c of chunks) { all.set(c, o); o += c.length; }
        return encodeDigest(compute(all), encoding);
      },
    };
    return h;
  }
  const crypto = {
    subtle,
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array) {
        throw new TypeError("getRandomValues: expected an integer typed array");
      }
      if (array.byteLength > 65536) throw new DOMException("getRandomValues: more than 65536 bytes", "QuotaExceededError");
      op_rt_random_fill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
      return array;
    },
    randomUUID() {
      const b = new Uint8Array(16);
      op_rt_random_fill(b);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const h = toHex(b);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
    createHash(alg) {
      const name = hashName(alg, "createHash");
      return hasher((bytes) => op_rt_digest(name, bytes));
    },
    createHmac(alg, key) {
      const name = hashName(alg, "createHmac");
      const secret = toBytes(key, "createHmac");
      return hasher((bytes) => op_rt_hmac(name, secret, bytes));
    },
    timingSafeEqual(a, b) {
      const x = toBytes(a, "timingSafeEqual"), y = toBytes(b, "timingSafeEqual");
      if (x.length !== y.length) return false;
      let d = 0;
      for (let i = 0; i < x.length; i++) d |= x[i] ^ y[i];
      return d === 0;
    },
  };

  // -------------------------------------------------------------- apiClient
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
    key: null,
    credentials: undefined,
    parameters: undefined,
    makeApiClient: null,
    refreshCredentials: null,
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
        const updated = await auth.refreshCredentials({
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

  async function send(req, mayRefresh = true) {
    const wire = {
      method: String(req.method || "GET").toUpperCase(),
      path: req.path === undefined || req.path === null ? "" : String(req.path),
      query: req.query === undefined ? null : req.query,
      data: req.data === undefined ? null : req.data,
      hasData: req.data !== undefined,
      headers: req.headers || null,
    };
    const sentWith = auth.generation;
    let res = await op_rt_api_request(wire);
    if (!res.ok && res.status === 401 && auth.refreshCredentials && mayRefresh) {
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

  // ------------------------------------------------- install the globals
  const define = (name, value) =>
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  define("console", console);
  define("setTimeout", setTimeout);
  define("clearTimeout", clearTimeout);
  define("setInterval", setInterval);
  define("clearInterval", clearTimeout);
  define("TextEncoder", TextEncoder);
  define("TextDecoder", TextDecoder);
  define("atob", atob);
  define("btoa", btoa);
  define("DOMException", DOMException);
  define("structuredClone", structuredClone);
  define("URL", URL);
  define("URLSearchParams", URLSearchParams);
  define("crypto", crypto);
  define("ApiError", ApiError);
  define("apiClient", apiClient);

  // Remove every handle on deno_core's internals: what is not reachable
  // from globalThis cannot be called by connector code.
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    if (name === "Deno" || name.startsWith("__")) {
      try { delete globalThis[name]; } catch (_) { /* non-configurable: leave */ }
    }
  }

  const toJson = (value, what) => {
    try {
      return jsonStringify(value === undefined ? null : value);
    } catch (e) {
      throw new TypeError(`${what} returned a value that is not JSON (${e.message})`);
    }
  };

  // ------------------------------------------------------------- lockdown
  // One runtime serves every call of a connector, so a call that rewrote a
  // built-in (`Object.prototype.x = 1`, `JSON.stringify = ...`) would reach
  // every later call. The built-ins are frozen here, once, before any
  // connector code runs: such a write throws a TypeError naming the property
  // in the call that tried it (connector modules are strict code), and no
  // call can change what the next one sees. Putting built-ins back after
  // every call instead cost 1-2 ms per call on QuickJS (docs/engine.md).
  //
  // Freezing a prototype also forbids `obj.toString = f` on every object
  // that inherits it (the "override mistake"), which ordinary code does
  // (`this.name = "MyError"`). As SES does, the properties commonly assigned
  // that way become accessors whose setter defines an own property on the
  // receiver; assigning to the prototype itself still throws.
  const R = Reflect;
  const { ownKeys, getOwnPropertyDescriptor, defineProperty, getPrototypeOf } = R;
  const freeze = Object.freeze;
  const isFrozen = Object.isFrozen;
  const errorNames = ["constructor", "message", "name"];
  const overridable = [
    [Object.prototype, ["constructor", "hasOwnProperty", "isPrototypeOf",
      "propertyIsEnumerable", "toLocaleString", "toString", "valueOf"]],
    [Function.prototype, ["constructor", "toString"]],
    [Array.prototype, ["toString", "toLocaleString"]],
    [Promise.prototype, ["constructor"]],
    [Date.prototype, ["toJSON", "toString"]],
    [Error.prototype, [...errorNames, "toString"]],
    [TypeError.prototype, errorNames], [RangeError.prototype, errorNames],
    [SyntaxError.prototype, errorNames], [ReferenceError.prototype, errorNames],
    [EvalError.prototype, errorNames], [URIError.prototype, errorNames],
    [ApiError.prototype, errorNames], [DOMException.prototype, errorNames],
  ];
  if (typeof AggregateError === "function") overridable.push([AggregateError.prototype, errorNames]);
  for (let i = 0; i < overridable.length; i++) {
    const [proto, names] = overridable[i];
    for (let j = 0; j < names.length; j++) {
      const name = names[j];
      const desc = getOwnPropertyDescriptor(proto, name);
      if (desc === undefined || !("value" in desc) || !desc.configurable) continue;
      const value = desc.value;
      defineProperty(proto, name, {
        get() { return value; },
        set(v) {
          if (this === proto) {
            throw new TypeError(`Cannot assign to '${String(name)}' of a built-in prototype: built-ins are frozen`);
          }
          if (!defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true })) {
            throw new TypeError(`Cannot assign to '${String(name)}': the object is not extensible`);
          }
        },
        enumerable: desc.enumerable,
        configurable: false,
      });
    }
  }
  // Everything reachable from the globals as they are now, plus intrinsics
  // no global names (the prototypes of iterators, generators, async and
  // typed-array functions), is frozen, prototypes and accessors included.
  const hidden = [
    getPrototypeOf(Uint8Array), getPrototypeOf(Uint8Array.prototype),
    getPrototypeOf([][Symbol.iterator]()), getPrototypeOf(new Map()[Symbol.iterator]()),
    getPrototypeOf(new Set()[Symbol.iterator]()), getPrototypeOf(""[Symbol.iterator]()),
    getPrototypeOf(/x/[Symbol.matchAll]("")),
    getPrototypeOf(async function () {}), getPrototypeOf(function* () {}),
    getPrototypeOf(async function* () {}), getPrototypeOf(function* () {}.prototype),
    getPrototypeOf(async function* () {}.prototype),
    getPrototypeOf(getPrototypeOf(async function* () {}.prototype)),
    getPrototypeOf(Promise.resolve()), refreshApiClient, CryptoKey.prototype,
  ];
  // The walk visits ~1,400 objects (a third of them the backend's Temporal
  // polyfill) and is most of this script's time: `seen`'s methods are
  // called directly, not through Reflect.apply (half the cost per visit on
  // QuickJS). Safe here: no connector code has run, nothing is replaced.
  const seen = new WeakSet();
  const pending = [];
  const visit = (v) => {
    if (((typeof v === "object" && v !== null) || typeof v === "function") && !seen.has(v)) {
      seen.add(v);
      pending.push(v);
    }
  };
  const globalNames = ownKeys(globalThis);
  for (let i = 0; i < globalNames.length; i++) {
    const desc = getOwnPropertyDescriptor(globalThis, globalNames[i]);
    if (desc.value === globalThis) continue;
    visit(desc.value); visit(desc.get); visit(desc.set);
    // The names stay, unchangeable; new globals may still be added (a
    // connector may keep its own state on globalThis between calls).
    if (desc.configurable) {
      defineProperty(globalThis, globalNames[i], "value" in desc
        ? { value: desc.value, writable: false, enumerable: desc.enumerable, configurable: false }
        : { get: desc.get, set: desc.set, enumerable: desc.enumerable, configurable: false });
    }
  }
  visit(getPrototypeOf(globalThis));
  for (let i = 0; i < hidden.length; i++) visit(hidden[i]);
  while (pending.length > 0) {
    const obj = pending.pop();
    if (!isFrozen(obj)) freeze(obj);
    visit(getPrototypeOf(obj));
    const keys = ownKeys(obj);
    for (let i = 0; i < keys.length; i++) {
      const desc = getOwnPropertyDescriptor(obj, keys[i]);
      if (desc === undefined) continue;
      visit(desc.value); visit(desc.get); visit(desc.set);
    }
  }

  // Calls the connector's function. The one place it is called, so that
  // a stack trace can tell whether the host's `invoke` is below a frame
  // (crates/engine/src/limits/squeeze.rs; worker.rs finds this line by
  // the marker at its end).
  const callConnector = (fn, arg) => fn(arg); // connector-call-site

  const argument = (inputJson) => {
    auth.refreshed = false;
    const arg = jsonParse(inputJson);
    arg.apiClient = apiClient;
    if (arg.credentials === undefined) arg.credentials = auth.credentials;
    return arg;
  };
  const result = (value, name) => {
    const out = { value: value === undefined ? null : value };
    if (auth.refreshed) out.credentials = auth.credentials;
    return toJson(out, name);
  };
  // The tripwire (limits::squeeze) stays an argument of every frame of
  // the call's own code path, as it was of the one async invoke.
  async function settle(pending, name, _tripwire) {
    return result(await pending, name);
  }
  async function configureAndInvoke(fn, inputJson, authJson, makeApiClient, refreshCredentials, name, _tripwire) {
    const a = jsonParse(authJson);
    auth.key = authJson;
    auth.credentials = a.credentials;
    auth.parameters = a.parameters;
    auth.makeApiClient = makeApiClient;
    auth.refreshCredentials = refreshCredentials;
    await configure();
    return result(await callConnector(fn, argument(inputJson)), name);
  }

  // The host object: only Rust holds it.
  return {
    // Returns the result's JSON text, or a promise of it when the function
    // is async (or makeApiClient must run first). A synchronous function
    // returns at once: no promise for the host to wait on.
    invoke(fn, inputJson, authJson, makeApiClient, refreshCredentials, name, tripwire) {
      if (auth.key !== authJson || auth.makeApiClient !== makeApiClient) {
        return configureAndInvoke(fn, inputJson, authJson, makeApiClient, refreshCredentials, name, tripwire);
      }
      const value = callConnector(fn, argument(inputJson));
      if (value !== null && (typeof value === "object" || typeof value === "function") &&
          typeof value.then === "function") {
        return settle(value, name, tripwire);
      }
      return result(value, name);
    },
    // Returns false when the call's timers could not be cancelled.
    endCall() {
      let ok = true;
      try {
        for (const timer of liveTimers.values()) cancelTimer(timer);
        liveTimers.clear();
      } catch (_) {
        ok = false;
      }
      return ok;
    },
  };
})(globalThis);
