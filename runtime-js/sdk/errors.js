// The error classes of Membrane's SDK (@integration-app/sdk/errors), written
// from the published shapes: the constructor takes a message, an object
// {message, ...} or an Error; the instance is an Error carrying `.data`
// with a `type`. Loaded by the connector loader (crates/engine/src/sdk.rs)
// when a connector imports an SDK module, after lockdown: it can reach no
// op and changes no built-in.
//
// `data.type` is what the host reads when such an error escapes a
// function: crates/engine/src/error.rs (JsErrorInfo::data and ::status)
// gets `data` as JSON through the property named below, which deno_core
// collects from every thrown error that lists it under
// Symbol.for("errorAdditionalPropertyKeys"). Statuses: bad_request 400,
// not_authenticated 401, access_denied 403, not_found 404, others 500.

export const ErrorType = Object.freeze({
  BAD_REQUEST: "bad_request",
  NOT_FOUND: "not_found",
  NOT_AUTHENTICATED: "not_authenticated",
  ACCESS_DENIED: "access_denied",
  CONNECTION: "connection",
  INTERNAL: "internal",
  CONFIGURATION: "configuration",
});

// Taken now: a connector's own global of the same name must not change
// what the host reads.
const stringify = JSON.stringify;

function dataOf(arg, type) {
  let data;
  if (typeof arg === "string") data = { message: arg };
  else if (arg instanceof Error) {
    data = { ...(arg.data !== null && typeof arg.data === "object" ? arg.data : {}), message: arg.message };
  } else if (arg !== null && typeof arg === "object") data = { ...arg };
  else data = { message: arg === undefined ? "" : String(arg) };
  if (data.type === undefined && type !== undefined) data.type = type;
  return data;
}

export class IntegrationAppError extends Error {
  constructor(arg) {
    const data = dataOf(arg, new.target.errorType);
    super(typeof data.message === "string" ? data.message : stringify(data.message ?? ""));
    if (arg instanceof Error) this.cause = arg;
    this.name = new.target.name;
    this.data = data;
  }

  get type() {
    return this.data?.type;
  }

  toJSON() {
    return this.data;
  }
}

// What the host reads (see the top of this file); not enumerable, so a
// connector that spreads or logs an error does not see it.
Object.defineProperty(IntegrationAppError.prototype, "runtimeErrorData", {
  get() {
    try {
      return stringify(this.data ?? null);
    } catch (_) {
      return stringify({ type: this.data?.type });
    }
  },
});
Object.defineProperty(IntegrationAppError.prototype, Symbol.for("errorAdditionalPropertyKeys"), {
  value: Object.freeze(["runtimeErrorData"]),
});

export class BadRequestError extends IntegrationAppError {
  static errorType = ErrorType.BAD_REQUEST;
}
export class NotFoundError extends IntegrationAppError {
  static errorType = ErrorType.NOT_FOUND;
}
export class NotAuthenticatedError extends IntegrationAppError {
  static errorType = ErrorType.NOT_AUTHENTICATED;
}
export class AccessDeniedError extends IntegrationAppError {
  static errorType = ErrorType.ACCESS_DENIED;
}
export class ConnectionError extends IntegrationAppError {
  static errorType = ErrorType.CONNECTION;
}
export class InternalError extends IntegrationAppError {
  static errorType = ErrorType.INTERNAL;
}
export class FlowConfigurationError extends IntegrationAppError {
  static errorType = ErrorType.CONFIGURATION;
}

// One instance of this module serves every connection a runtime serves
// (crates/engine/src/loader.rs): a connector that wrote to a class, its
// prototype or a method (`NotFoundError.prototype.x = secret`) would reach
// the other connections' calls. Everything reachable from the classes is
// frozen, as the built-ins are (lockdown.js): such a write throws a
// TypeError naming the property. (crates/engine/tests/tenant_isolation.rs
// walks every SDK export.)
function harden(root) {
  const pending = [root];
  while (pending.length > 0) {
    const v = pending.pop();
    if (v === null || (typeof v !== "object" && typeof v !== "function") || Object.isFrozen(v)) continue;
    Object.freeze(v);
    pending.push(Object.getPrototypeOf(v));
    for (const key of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, key);
      pending.push(d.value, d.get, d.set);
    }
  }
}
for (const c of [IntegrationAppError, BadRequestError, NotFoundError, NotAuthenticatedError,
  AccessDeniedError, ConnectionError, InternalError, FlowConfigurationError]) {
  harden(c);
}
