// How long JSON.stringify of every page takes in this engine: the cost a
// full scan pays to hand each `list` result back to the host as JSON text.
// Pages every record like list-all.js and times only the stringify calls.
// Date.now() has 1 ms steps; over thousands of pages the errors average out.
export default async function stringifyAll({ apiClient }) {
  let count = 0
  let stringifyMs = 0
  let bytes = 0
  let cursor = undefined
  do {
    const page = await apiClient.get('/items', cursor ? { cursor } : undefined)
    const t = Date.now()
    bytes += JSON.stringify({ records: page.records, cursor: page.cursor }).length
    stringifyMs += Date.now() - t
    count += page.records.length
    cursor = page.cursor
  } while (cursor)
  return { count, stringifyMs, bytes }
}
