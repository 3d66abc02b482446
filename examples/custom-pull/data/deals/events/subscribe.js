// The baseline: find where "now" is in the change feed, without emitting
// anything. /deals/delta without a token lists every deal (in pages linked
// by `nextPageLink`) and ends with a `deltaLink`: the place to ask for
// changes made from this moment on. What this returns is stored as `state`.
export default async function subscribe({ apiClient }) {
  let page = await apiClient.get('/deals/delta')
  while (!page.deltaLink) page = await apiClient.get(page.nextPageLink)
  return { deltaLink: page.deltaLink }
}
