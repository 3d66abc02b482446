export default async function list({ apiClient, cursor, parameters }) {
  const response = await apiClient.get(parameters.path, { cursor, limit: 100 })
  return { records: response.records, cursor: response.cursor }
}
