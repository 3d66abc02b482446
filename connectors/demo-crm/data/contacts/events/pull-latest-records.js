// As in Membrane's documentation: follow the API's absolute next-page link.
export default async function pullLatestRecords({ apiClient, cursor, parameters }) {
  const path = `${parameters.path}/latest?includeDeleted=true`
  const response = await apiClient.get(cursor ? cursor : path)
  return {
    records: response.records,
    cursor: response.nextPageLink,
  }
}
