// Loaded after every file that defines a global (see the load order in
// crates/engine/src/ops/mod.rs), before any connector code runs: removes
// every route to deno_core's ops, then freezes the built-ins. No ops.

import { ApiError, refreshApiClient } from "ext:runtime-js/api_client.js";
import { CryptoKey } from "ext:runtime-js/crypto.js";
import { DOMException } from "ext:runtime-js/encoding.js";

// Remove every handle on deno_core's internals: what is not reachable
// from globalThis cannot be called by connector code.
for (const name of Object.getOwnPropertyNames(globalThis)) {
  if (name === "Deno" || name.startsWith("__")) {
    try { delete globalThis[name]; } catch (_) { /* non-configurable: leave */ }
  }
}

// FinalizationRegistry's callbacks run whenever the collector finds their
// object dead, in whichever call is running then: with several connections
// in one runtime (crates/engine/src/worker.rs) one connection's callback
// could run inside another's call, with that call's client configured. No
// connector needs it; WeakRef, which runs no code, stays.
try { delete globalThis.FinalizationRegistry; } catch (_) { /* non-configurable: leave */ }

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
