#!/usr/bin/env bash
# Writes a connector with N collections into DIR (for bench/subs.sh): every
# collection extends data/_base, a pull-latest-records collection polling
# `GET /latest` of the bench upstream every INTERVAL seconds. Generated at
# benchmark time so 10,000 directories never enter git.
#   bench/gen-subs-connector.sh DIR N INTERVAL
set -euo pipefail
dir="${1:?usage: gen-subs-connector.sh DIR N INTERVAL}"
n="${2:?usage: gen-subs-connector.sh DIR N INTERVAL}"
interval="${3:?usage: gen-subs-connector.sh DIR N INTERVAL}"

mkdir -p "$dir/auth" "$dir/data/_base/events"
cat >"$dir/spec.yml" <<YML
key: bench-subs
name: Benchmark, $n subscriptions
parametersSchema:
  type: object
  properties:
    baseUri: { type: string }
  required: [baseUri]
YML
cat >"$dir/auth/make-api-client.js" <<'JS'
export default function makeApiClient({ parameters }) {
  return { baseUri: parameters.baseUri }
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
# One directory and a two-line spec per collection.
cd "$dir/data"
seq -f 'c%05g' 1 "$n" | xargs mkdir -p
for c in $(seq -f 'c%05g' 1 "$n"); do
  printf 'name: %s\nextends: _base\n' "$c" >"$c/spec.yml"
done
