export default async function unsubscribe({ apiClient, state }) {
  try {
    await apiClient.delete(`/webhooks/${state.webhookId}`)
  } catch (error) {
    // Already gone at the API: nothing left to undo.
    if (error.status !== 404) throw error
  }
}
