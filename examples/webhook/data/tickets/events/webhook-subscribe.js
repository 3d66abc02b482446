// The baseline: register `webhookUri` (the runtime's own URL for this
// collection, `{--public-url}/webhooks/tickets/all`) at the API. What it
// returns as `state` is stored and handed to the other two functions.
export default async function subscribe({ apiClient, webhookUri }) {
  const hook = await apiClient.post('/webhooks', { url: webhookUri, collection: 'tickets' })
  return { state: { webhookId: hook.id } }
}
