export default async function test({ apiClient }) {
  await apiClient.get('/contacts', { limit: 1 })
  return true
}
