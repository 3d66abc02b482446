// Installs a capability's globals. Every file under runtime-js/ that gives
// connector code a global defines it through here, so all of them get the
// same shape: writable and configurable until lockdown.js makes each name
// read-only, and not enumerable (as built-ins are). Loaded first; no ops.

export function defineGlobals(values) {
  for (const name of Object.keys(values)) {
    Object.defineProperty(globalThis, name, {
      value: values[name],
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}
