// The Node side of bench/invoke.sh: import the same constant.js and call it
// N times in one process, the way a Node connector host would (a fresh
// argument object per call, the result serialized as the runtime does).
// node invoke-node.js --calls N   prints one JSON line; checks every result.
const started = performance.now()
const args = process.argv.slice(2)
const i = args.indexOf('--calls')
const calls = i >= 0 ? Number(args[i + 1]) : 10000
const expected = JSON.stringify({ ok: true })
const apiClient = {}

const { default: constant } = await import('./connectors/invoke/data/items/constant.js')
const call = async () => {
  const text = JSON.stringify(await constant({ apiClient, parameters: {}, credentials: {} }))
  if (text !== expected) throw new Error(`constant.js returned ${text}, expected ${expected}`)
}
await call()
const firstAt = performance.now()

const times = new Float64Array(calls)
const t0 = performance.now()
for (let n = 0; n < calls; n++) {
  const t = performance.now()
  await call()
  times[n] = performance.now() - t
}
const total = performance.now() - t0
times.sort()
const pct = (p) => (calls ? times[Math.min(calls - 1, Math.floor(calls * p))] * 1000 : 0)
console.log(JSON.stringify({
  // performance.now() counts from the process start: Node's own start-up included.
  coldMs: firstAt,
  importMs: firstAt - started,
  calls,
  warmMedianUs: pct(0.5),
  warmP99Us: pct(0.99),
  warmMeanUs: calls ? (total * 1000) / calls : 0,
}))
