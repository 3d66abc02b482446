// The one place a connector's function is called (invoke.js calls it for
// every call). It is alone in its file on purpose: the QuickJS limit guard
// (crates/engine/src/limits/squeeze.rs) tells whether the host's invoke is
// on the stack below a frame by looking for a frame of this file, since
// that backend's stack frames carry file names but no function names.
// Nothing else may be defined here. No ops.

export const callConnector = (fn, arg) => fn(arg);
