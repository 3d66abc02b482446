// The Node side of bench/fullscan.sh: a full-scan diff written the natural
// Node way, with the same connector `list` function and fetch as apiClient.
// Fingerprints (md5 of the record's JSON) live in an in-memory Map between
// scans; changes are written as JSON lines and fsynced once per scan.
//
// node fullscan-node.js BASE_URL --percent P --seed S --out FILE
// runs, in one process: a baseline scan, a fetch-only pass (list, no diff),
// an unchanged scan, then asks the upstream to change P% of the records and
// scans again. Prints one JSON line per phase and checks every count.
import { createHash } from 'node:crypto'
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import list from './connectors/fullscan/data/items/list.js'
import { fetchApiClient } from './fetch-api-client.js'

const args = process.argv.slice(2)
const baseUri = args[0]
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i > 0 ? args[i + 1] : dflt
}
if (!baseUri) throw new Error('usage: fullscan-node.js BASE_URL --percent P --seed S --out FILE')
const percent = Number(opt('percent', '1'))
const seed = Number(opt('seed', '1'))
const out = opt('out', '/dev/null')
const apiClient = fetchApiClient(baseUri)
const parameters = { baseUri }

async function eachRecord(onRecord) {
  let cursor
  let count = 0
  do {
    const page = await list({ apiClient, cursor, parameters })
    for (const record of page.records) onRecord(record)
    count += page.records.length
    cursor = page.cursor
  } while (cursor)
  return count
}

const fingerprint = (record) => createHash('md5').update(JSON.stringify(record)).digest('base64')

let known = null
const file = openSync(out, 'a')

// One scan: a new Map of fingerprints, diffed against the previous one.
async function scan() {
  const seen = new Map()
  const events = []
  const records = await eachRecord((record) => {
    const fp = fingerprint(record)
    seen.set(record.id, fp)
    if (known === null) return
    const before = known.get(record.id)
    if (before === undefined) events.push({ type: 'created', recordId: record.id, record })
    else if (before !== fp) events.push({ type: 'updated', recordId: record.id, record })
  })
  if (known !== null) {
    for (const id of known.keys()) if (!seen.has(id)) events.push({ type: 'deleted', recordId: id })
  }
  if (events.length > 0) {
    writeSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n')
    fsyncSync(file)
  }
  known = seen
  return { records, events: events.length }
}

async function timed(phase, body) {
  const t = performance.now()
  const result = await body()
  const ms = performance.now() - t
  console.log(JSON.stringify({ phase, ms, ...result, rssMB: process.memoryUsage().rss / 2 ** 20 }))
  return result
}

async function admin(p, s) {
  const r = await fetch(new URL(`/admin/change?percent=${p}&seed=${s}`, baseUri), { method: 'POST' })
  if (!r.ok) throw new Error(`the upstream refused the change: HTTP ${r.status}`)
  return (await r.json()).changed
}

await admin(0, 0)
// The baseline first: it also warms up the JIT and the connection pool.
await timed('baseline', scan)
const total = await timed('fetch', async () => ({ records: await eachRecord(() => {}) }))
const same = await timed('unchanged', scan)
const changed = await admin(percent, seed)
const diff = await timed('changed', scan)
closeSync(file)
const problems = []
if (same.events !== 0) problems.push(`the unchanged scan found ${same.events} changes`)
if (diff.events !== changed) problems.push(`the changed scan found ${diff.events} changes, the upstream made ${changed}`)
if (diff.records !== total.records) problems.push(`scanned ${diff.records} records, fetched ${total.records}`)
if (problems.length > 0) {
  console.error(`fullscan-node.js: ${problems.join('; ')}`)
  process.exit(1)
}
console.log(JSON.stringify({ phase: 'done', changed, maxRssMB: process.resourceUsage().maxRSS / 1024 }))
