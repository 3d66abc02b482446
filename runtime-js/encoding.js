// TextEncoder / TextDecoder (UTF-8 only), atob / btoa, DOMException and
// structuredClone. No op of this runtime: UTF-8 goes through deno_core's
// core.encode / core.decode, the rest is plain JavaScript.

import { core } from "ext:core/mod.js";
import { defineGlobals } from "ext:runtime-js/global.js";

const encodeUtf8 = core.encode;
const decodeUtf8 = core.decode;

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

// crypto.js builds its errors and base64 digests with these.
export { DOMException, btoa, encodeUtf8 };

defineGlobals({ TextEncoder, TextDecoder, atob, btoa, DOMException, structuredClone });
