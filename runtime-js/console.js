// console: log, info, debug, trace, warn, error, dir, table, assert.
// Each line is formatted here and handed to op_rt_console
// (crates/engine/src/ops/console.rs), which writes it to the host's log
// tagged with the connector, collection and function of the call.

import { op_rt_console } from "ext:core/ops";
import { defineGlobals } from "ext:runtime-js/global.js";

// Taken now, before connector code can replace it.
const jsonStringify = JSON.stringify;

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

defineGlobals({ console });
