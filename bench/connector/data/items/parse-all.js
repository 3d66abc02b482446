// How long JSON.parse of every page takes in this engine: the part of the
// apiClient path that builds the records as JavaScript objects. Pages
// every record like list-all.js, then parses each page's JSON text again
// and times only those JSON.parse calls (the text is made by stringify,
// untimed, so the same bytes are parsed in every engine).
export default async function parseAll({ apiClient }) {
  let count = 0
  let parseMs = 0
  let bytes = 0
  let cursor = undefined
  do {
    const page = await apiClient.get('/items', cursor ? { cursor } : undefined)
    const text = JSON.stringify(page)
    const t = Date.now()
    count += JSON.parse(text).records.length
    parseMs += Date.now() - t
    bytes += text.length
    cursor = page.cursor
  } while (cursor)
  return { count, parseMs, bytes }
}
