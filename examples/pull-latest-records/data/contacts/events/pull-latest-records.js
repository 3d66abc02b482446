// One page of contacts, the most recently changed first.
//
// The runtime calls this without a cursor, then with each `cursor` returned,
// until a page reaches records older than the newest one it saw last cycle.
// The mock's /contacts/latest sorts by `updatedTime` descending; with
// `includeDeleted=true` deleted contacts stay in the list, carrying a
// `deletedTime`, so they become `deleted` events. Records carry
// `createdTime` too: a record created after the last cycle is `created`,
// anything else newer is `updated`.
export default async function pullLatestRecords({ apiClient, cursor }) {
  // The next page is an absolute link into the same API: allowed as is.
  const page = await apiClient.get(cursor ?? '/contacts/latest?includeDeleted=true')
  return { records: page.records, cursor: page.nextPageLink }
}
