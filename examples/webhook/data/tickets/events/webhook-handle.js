// One delivery from the API. The runtime stores the events this returns
// before it answers the request (2xx), so an error here (or a crash) makes
// the API send it again rather than lose it.
//
// The mock signs each delivery: `x-mock-signature` is
// hex(HMAC-SHA256(secret, `${x-mock-timestamp}.${body}`)). With a
// `webhookSecret` in the connection's credentials, anything else is refused.
export default async function handle({ data, rawBody, headers, credentials }) {
  const secret = credentials.webhookSecret
  if (secret) {
    const expected = crypto
      .createHmac('sha256', secret)
      .update(`${headers['x-mock-timestamp']}.${rawBody}`)
      .digest('hex')
    if (!crypto.timingSafeEqual(expected, headers['x-mock-signature'] ?? '')) {
      // `response` is the HTTP answer; no events are stored.
      return { events: [], response: { status: 401, data: { error: 'bad signature' } } }
    }
  }
  // The mock's body: {type: "created" | "updated" | "deleted", record, ...}.
  return { events: [{ type: data.type, record: data.record }] }
}
