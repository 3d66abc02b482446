// Every later cycle: read the changes since the stored deltaLink, turn each
// into an event, and return the new deltaLink as the new state. The runtime
// stores the events and the state in one atomic write, so a crash can never
// skip changes or replay them under new ids.
export default async function pull({ apiClient, state }) {
  const events = []
  let page = await apiClient.get(state.deltaLink)
  while (true) {
    for (const deal of page.value) {
      if (deal['@removed']) {
        // A deletion arrives as a stub: `{id, "@removed": {...}}`.
        events.push({ type: 'deleted', record: { id: deal.id } })
      } else {
        // The feed gives the latest version; never changed since it was
        // created means it is new.
        const type = deal.createdTime === deal.updatedTime ? 'created' : 'updated'
        events.push({ type, record: deal })
      }
    }
    if (page.deltaLink) return { events, state: { deltaLink: page.deltaLink } }
    page = await apiClient.get(page.nextPageLink)
  }
}
