// Walks a Microsoft-Graph-style delta feed to its deltaLink.
export async function walkDelta(apiClient, start, onPage) {
  let link = start
  while (true) {
    const response = await apiClient.get(link)
    if (onPage) onPage(response.value || [])
    if (response.deltaLink) return response.deltaLink
    link = response.nextPageLink
  }
}
