// Called by the runtime when the API answers 401; the request is retried once.
export default async function refreshCredentials({ apiClient, credentials }) {
  const { accessToken } = await apiClient.post('/auth/refresh', { refreshToken: credentials.refreshToken })
  return { accessToken }
}
