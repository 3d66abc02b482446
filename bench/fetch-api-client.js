// An apiClient made of the platform's own fetch (Node or Deno), for the
// Node runners of bench/*.sh: what a Node connector host would hand a
// connector function.
export function fetchApiClient(baseUri) {
  return {
    async get(path, query) {
      const url = new URL(path, baseUri)
      for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v)
      const response = await fetch(url)
      if (!response.ok) throw new Error(`GET ${url} answered HTTP ${response.status}`)
      return await response.json()
    },
  }
}
