// URL and URLSearchParams. Parsing and the component setters are the
// `url` crate's (WHATWG URL), through op_rt_url_parse and op_rt_url_set
// (crates/engine/src/ops/url.rs); URLSearchParams is plain JavaScript.

import { op_rt_url_parse, op_rt_url_set } from "ext:core/ops";
import { defineGlobals } from "ext:runtime-js/global.js";

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

defineGlobals({ URL, URLSearchParams });
