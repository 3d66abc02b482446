import { walkDelta } from '../../../lib/delta.js'

// The documentation's example, with `response` kept in scope.
export default async function subscribe({ apiClient, parameters }) {
  const deltaLink = await walkDelta(apiClient, `${parameters.path}/delta`)
  return { deltaLink }
}
