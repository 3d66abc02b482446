// Undoes the registration: called by `runtime state reset`, and by a run
// that finds the collection disabled, so the API stops sending to us.
export default async function unsubscribe({ apiClient, state }) {
  try {
    await apiClient.delete(`/webhooks/${state.webhookId}`)
  } catch (error) {
    // Already gone at the API: nothing left to undo.
    if (error.status !== 404) throw error
  }
}
