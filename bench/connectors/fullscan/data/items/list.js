// One page of /items per call, as a full scan reads a collection. The Node
// runner of bench/fullscan-node.js calls this same file.
export default async function list({ apiClient, cursor }) {
  const page = await apiClient.get('/items', cursor ? { cursor } : undefined)
  return { records: page.records, cursor: page.cursor }
}
