// Runs bench/connector/data/items/list-all.js under Node or Deno with an
// apiClient made of the platform's own fetch, and prints the record count.
// Usage: node fetch-runner.js BASE_URL | deno run --allow-net --allow-read fetch-runner.js BASE_URL
import listAll from './connector/data/items/list-all.js'
import { fetchApiClient } from './fetch-api-client.js'

const args = typeof Deno !== 'undefined' ? Deno.args : process.argv.slice(2)
const baseUri = args[0]
if (!baseUri) throw new Error('usage: fetch-runner.js BASE_URL')

const { count } = await listAll({ apiClient: fetchApiClient(baseUri), parameters: { baseUri } })
console.log(count)
