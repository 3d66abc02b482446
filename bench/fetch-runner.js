// Runs bench/connector/data/items/list-all.js under Node or Deno with an
// apiClient made of the platform's own fetch, and prints the record count.
// Usage: node fetch-runner.js BASE_URL | deno run --allow-net --allow-read fetch-runner.js BASE_URL
import listAll from './connector/data/items/list-all.js'

const args = typeof Deno !== 'undefined' ? Deno.args : process.argv.slice(2)
const baseUri = args[0]
if (!baseUri) throw new Error('usage: fetch-runner.js BASE_URL')

const apiClient = {
  async get(path, query) {
    const url = new URL(path, baseUri)
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v)
    const response = await fetch(url)
    if (!response.ok) throw new Error(`GET ${url} answered HTTP ${response.status}`)
    return await response.json()
  },
}

const { count } = await listAll({ apiClient, parameters: { baseUri } })
console.log(count)
