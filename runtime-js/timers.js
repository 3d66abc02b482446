// setTimeout, clearTimeout, setInterval, clearInterval, on deno_core's
// timers (no op of this runtime). A call's timers are tracked so that
// invoke.js's endCall can cancel the ones it left behind.

import { core } from "ext:core/mod.js";
import { defineGlobals } from "ext:runtime-js/global.js";

const createTimer = core.createTimer;
const cancelTimer = core.cancelTimer;

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

// Cancels every timer still live. Rust calls it (through invoke.js's
// endCall) after every call, so a call cannot leave work for the next one.
export function cancelCallTimers() {
  for (const timer of liveTimers.values()) cancelTimer(timer);
  liveTimers.clear();
}

defineGlobals({ setTimeout, clearTimeout, setInterval, clearInterval: clearTimeout });
