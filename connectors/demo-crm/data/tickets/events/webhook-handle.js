const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('')

// Rejects deliveries whose HMAC-SHA256 signature does not match.
export default async function handle({ data, rawBody, headers, credentials }) {
  const secret = credentials.webhookSecret
  if (secret) {
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    const expected = hex(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${headers['x-mock-timestamp']}.${rawBody}`)))
    if (expected !== headers['x-mock-signature']) {
      return { events: [], response: { status: 401, data: { error: 'bad signature' } } }
    }
  }
  return { events: [{ type: data.type, record: data.record }] }
}
