import { walkDelta } from '../../../lib/delta.js'

export default async function pull({ apiClient, state }) {
  const events = []
  const deltaLink = await walkDelta(apiClient, state.deltaLink, (records) => {
    for (const record of records) {
      if (record['@removed']) {
        events.push({ type: 'deleted', record: { id: record.id } })
      } else {
        events.push({ type: record.createdTime === record.updatedTime ? 'created' : 'updated', record })
      }
    }
  })
  return { events, state: { deltaLink } }
}
