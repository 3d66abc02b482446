export default async function subscribe({ apiClient, webhookUri }) {
  const hook = await apiClient.post('/webhooks', { url: webhookUri, collection: 'tickets' })
  return { state: { webhookId: hook.id } }
}
