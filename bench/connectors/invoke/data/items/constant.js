// The benchmarked function of bench/invoke.sh: no work, a constant result,
// so a call's time is the runtime's own cost of calling JavaScript.
export default function constant() {
  return { ok: true }
}
