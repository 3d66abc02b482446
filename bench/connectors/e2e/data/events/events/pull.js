// A change feed that always has a full batch: `parameters.batch` events
// (1,000) per pull, numbered on from the stored state, so every event id is
// new and bench/e2e.sh can count them on disk. No HTTP: the benchmark is
// the runtime's path from a pull result to a durable line in the sink.
export default function pull({ state, parameters }) {
  const events = []
  const start = state.next
  for (let n = start; n < start + parameters.batch; n++) {
    events.push({
      type: n % 10 === 0 ? 'created' : 'updated',
      record: {
        id: `ev-${n}`,
        name: `Deal ${n}`,
        amount: (n * 37) % 100000,
        stage: n % 3 === 0 ? 'won' : 'open',
        owner: `owner.${n % 50}@example.com`,
        updatedTime: new Date(Date.UTC(2026, 10, 1) + n * 1000).toISOString(),
        note: 'Follow up on pricing and the renewal date with the customer team.',
      },
    })
  }
  return { events, state: { next: start + parameters.batch } }
}
