#!/usr/bin/env bash
# Writes the connector of bench/serve.sh into DIR: three pull-latest-records
# collections (c1, c2, c3) extending data/_base, each polling `GET /latest`
# of the bench upstream every INTERVAL seconds. The Node baseline
# (bench/serve-node.js) runs the same pull-latest-records.js file.
#   bench/gen-serve-connector.sh DIR INTERVAL
set -euo pipefail
dir="${1:?usage: gen-serve-connector.sh DIR INTERVAL}"
interval="${2:?usage: gen-serve-connector.sh DIR INTERVAL}"

mkdir -p "$dir/auth" "$dir/data/_base/events"
cat >"$dir/spec.yml" <<'YML'
key: bench-serve
name: Benchmark, one connector for many connections
parametersSchema:
  type: object
  properties:
    baseUri: { type: string }
  required: [baseUri]
YML
cat >"$dir/auth/make-api-client.js" <<'JS'
export default function makeApiClient({ parameters, credentials }) {
  return { baseUri: parameters.baseUri, headers: { Authorization: `Bearer ${credentials.token}` } }
}
JS
cat >"$dir/data/_base/spec.yml" <<YML
name: Base
events:
  strategy: pull-latest-records
  pullIntervalSeconds: $interval
YML
cat >"$dir/data/_base/events/pull-latest-records.js" <<'JS'
// One small page, newest first: nothing new after the baseline.
export default async function pullLatestRecords({ apiClient }) {
  const page = await apiClient.get('/latest')
  return { records: page.records }
}
JS
for c in c1 c2 c3; do
  mkdir -p "$dir/data/$c"
  printf 'name: %s\nextends: _base\n' "$c" >"$dir/data/$c/spec.yml"
done
