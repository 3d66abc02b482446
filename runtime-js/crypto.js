// crypto: subtle.digest, HMAC importKey / exportKey / sign / verify,
// getRandomValues, randomUUID, and the Node-style createHash / createHmac /
// timingSafeEqual. The hashing, HMAC and random bytes are Rust's, through
// op_rt_digest, op_rt_hmac, op_rt_hmac_verify and op_rt_random_fill
// (crates/engine/src/ops/crypto.rs); key objects and encodings are here.

import {
  op_rt_digest,
  op_rt_hmac,
  op_rt_hmac_verify,
  op_rt_random_fill,
} from "ext:core/ops";
import { DOMException, btoa, encodeUtf8 } from "ext:runtime-js/encoding.js";
import { defineGlobals } from "ext:runtime-js/global.js";

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

// lockdown.js freezes CryptoKey.prototype, which no global names.
export { CryptoKey };

defineGlobals({ crypto });
