// The benchmarked function: every page of /items in ONE call, the way a
// full scan reads a collection. Node and Deno run this same file with a
// fetch-based apiClient (bench/fetch-runner.js).
export default async function listAll({ apiClient }) {
  let count = 0
  let cursor = undefined
  do {
    const page = await apiClient.get('/items', cursor ? { cursor } : undefined)
    count += page.records.length
    cursor = page.cursor
  } while (cursor)
  return { count }
}
