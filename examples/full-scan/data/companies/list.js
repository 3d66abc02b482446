// One page of companies, in any stable order. The runtime calls it without a
// cursor, then with each `cursor` returned, until a page has no cursor: that
// is one complete scan. (The same `list` serves `runtime invoke` too.)
export default async function list({ apiClient, cursor }) {
  const page = await apiClient.get('/companies', { cursor, limit: 100 })
  return { records: page.records, cursor: page.cursor }
}
