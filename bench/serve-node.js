// The Node baseline of bench/serve.sh: the same job done the way Nango
// runs customer scripts, one `node:vm` context per connection, each
// running the same pull-latest-records.js file for three collections
// every INTERVAL seconds (+-10 % jitter, as the runtime) against the bench
// upstream, keeping a watermark per subscription in memory (no store, no
// sink: that only flatters Node). Prints one JSON line of figures.
//   node bench/serve-node.js BASE_URL CONNECTIONS INTERVAL SECONDS CONNECTOR_DIR
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import vm from 'node:vm'

const [base, n, interval, seconds, dir] = process.argv.slice(2)
const connections = Number(n)
const every = Number(interval) * 1000
// The connector's ES module as a script: `export default` is the one
// export it has.
const source = fs
  .readFileSync(path.join(dir, 'data/_base/events/pull-latest-records.js'), 'utf8')
  .replace('export default', 'module.exports.default =')
const script = new vm.Script(`(function (module) { ${source}\n})`)

const lags = []
let cycles = 0
let failed = 0
let first = 0
const started = Date.now()

// One keep-alive pool for every connection, as the runtime's one HTTP
// client has: Node's global fetch opened a socket per request in flight and
// ran out of file descriptors at 10,000 connections (EMFILE).
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

function apiClientFor(token) {
  return {
    get(p) {
      return new Promise((resolve, reject) => {
        const req = http.get(base + p, { agent, headers: { Authorization: `Bearer ${token}` } }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk) => { body += chunk })
          res.on('end', () => {
            if (res.statusCode < 200 || res.statusCode > 299) return reject(new Error(`GET ${p}: ${res.statusCode}`))
            try { resolve(JSON.parse(body)) } catch (e) { reject(e) }
          })
          res.on('error', reject)
        })
        req.on('error', reject)
      })
    },
  }
}

for (let c = 0; c < connections; c++) {
  const context = vm.createContext({ fetch, URL, console })
  const module = { exports: {} }
  script.runInContext(context)(module)
  const pull = module.exports.default
  const apiClient = apiClientFor(`t${c}`)
  for (const collection of ['c1', 'c2', 'c3']) {
    let watermark = null
    let due = Date.now()
    let n = 0
    const cycle = async () => {
      const begin = Date.now()
      if (n > 0) lags.push(begin - due)
      n++
      try {
        const { records } = await pull({ apiClient, parameters: {}, credentials: {} })
        const newest = records.length ? records[0].updatedTime ?? records[0].id : null
        if (watermark === null) first++
        watermark = newest ?? watermark
        cycles++
      } catch (e) {
        failed++
      }
      const delay = Math.round(every * (0.9 + 0.2 * Math.random()))
      due = Date.now() + delay
      if (Date.now() - started < Number(seconds) * 1000) setTimeout(cycle, delay)
    }
    setImmediate(cycle)
  }
}

let peak = 0
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss)
}, 1000)
setTimeout(() => {
  clearInterval(sampler)
  lags.sort((a, b) => a - b)
  const pct = (p) => (lags.length ? lags[Math.min(lags.length - 1, Math.ceil((lags.length * p) / 100) - 1)] : NaN)
  console.log(JSON.stringify({
    connections, cycles, failed, first, steady: lags.length,
    lag_p50_ms: pct(50), lag_p99_ms: pct(99), rss_peak_mib: Math.round(peak / 1048576),
  }))
  process.exit(0)
}, Number(seconds) * 1000 + 500)
