// Runs bench/connector/data/items/list-all.js (or another function of that
// collection, named by a second argument) under Node or Deno with an
// apiClient made of the platform's own fetch. Prints the record count, or
// with another function its whole result as JSON.
// Usage: node fetch-runner.js BASE_URL [FUNCTION]
//        deno run --allow-net --allow-read fetch-runner.js BASE_URL [FUNCTION]
import { fetchApiClient } from './fetch-api-client.js'

const args = typeof Deno !== 'undefined' ? Deno.args : process.argv.slice(2)
const baseUri = args[0]
const name = args[1] ?? 'list-all'
if (!baseUri) throw new Error('usage: fetch-runner.js BASE_URL [FUNCTION]')

const { default: fn } = await import(`./connector/data/items/${name}.js`)
const result = await fn({ apiClient: fetchApiClient(baseUri), parameters: { baseUri } })
console.log(name === 'list-all' ? result.count : JSON.stringify(result))
