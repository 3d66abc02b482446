// Builds the `apiClient` every function receives: where the API is, and
// how to authenticate. `parameters` and `credentials` come from the
// connection file (see connection.example.json).
export default function makeApiClient({ credentials, parameters }) {
  return {
    baseUri: parameters.baseUri,
    headers: { Authorization: `Bearer ${credentials.accessToken}` },
  }
}
