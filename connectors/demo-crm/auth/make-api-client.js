export default function makeApiClient({ credentials, parameters }) {
  return {
    baseUri: parameters.baseUri,
    headers: { Authorization: `Bearer ${credentials.accessToken}` },
  }
}
