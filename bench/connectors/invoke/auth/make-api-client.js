// Every real connector has one; the engine runs it before the first call
// and again only when the credentials change.
export default function makeApiClient({ credentials }) {
  return { baseUri: 'http://127.0.0.1:9', headers: { authorization: `Bearer ${credentials.token ?? 'none'}` } }
}
