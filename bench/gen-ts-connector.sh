#!/usr/bin/env bash
# Writes two copies of one connector of N collections (default 20), each
# with a list function and all sharing one helper: DIR/ts in TypeScript
# (interfaces, type aliases, an enum, generics, type-only imports from the
# SDK) and DIR/js, the same code without its types. `runtime validate` on
# each loads every file cold; docs/benchmarks.md ("TypeScript at load")
# compares the two. Usage: bench/gen-ts-connector.sh DIR [N]
set -euo pipefail
dir=${1:?usage: gen-ts-connector.sh DIR [N]}
n=${2:-20}
rm -rf "$dir/ts" "$dir/js"
for lang in ts js; do
  mkdir -p "$dir/$lang/api"
  printf 'key: bench-%s\nname: Bench %s\nbaseUri: https://api.example.com\n' "$lang" "$lang" > "$dir/$lang/spec.yml"
done

cat > "$dir/ts/api/records.ts" <<'EOF'
import type { DataRecord } from '@integration-app/sdk'

export interface Raw {
  id: number | string
  name?: string
  updated_at?: string
  [field: string]: unknown
}

export function toRecord<T extends Raw>(raw: T): DataRecord {
  const fields: Record<string, unknown> = { ...raw }
  return { id: String(raw.id), name: raw.name ?? `#${raw.id}`, updatedTime: raw.updated_at, fields }
}
EOF
cat > "$dir/js/api/records.js" <<'EOF'
export function toRecord(raw) {
  const fields = { ...raw }
  return { id: String(raw.id), name: raw.name ?? `#${raw.id}`, updatedTime: raw.updated_at, fields }
}
EOF

for i in $(seq 1 "$n"); do
  c="objects-$i"
  for lang in ts js; do
    mkdir -p "$dir/$lang/data/$c"
    printf 'name: Objects %s\n' "$i" > "$dir/$lang/data/$c/spec.yml"
  done
  cat > "$dir/ts/data/$c/list.ts" <<EOF
import type { DataRecord } from '@integration-app/sdk'
import { DataCollectionListArgs, DataCollectionListResponse } from '@integration-app/sdk'
import { BadRequestError } from '@integration-app/sdk/errors'
import { toRecord, Raw } from '../../api/records'

interface Page$i {
  items: Raw[]
  next_cursor?: string | null
  total?: number
}

type Order = 'asc' | 'desc'

interface Options {
  limit: number
  order: Order
  fields: string[]
}

enum Field$i {
  Id = 'id',
  Name = 'name',
  Updated = 'updated_at',
}

const defaults: Options = { limit: 100, order: 'asc', fields: [Field$i.Id, Field$i.Name, Field$i.Updated] }

function query(cursor: string | null | undefined, options: Partial<Options> = {}): Record<string, string | number> {
  const o: Options = { ...defaults, ...options }
  const q: Record<string, string | number> = { limit: o.limit, order: o.order, fields: o.fields.join(',') }
  if (cursor) q.cursor = cursor
  return q
}

function check<T extends { items?: unknown }>(page: T): asserts page is T & { items: Raw[] } {
  if (!Array.isArray(page.items)) throw new BadRequestError({ message: 'objects-$i: no items', page })
}

export default async function list({ apiClient, cursor, parameters }: DataCollectionListArgs): Promise<DataCollectionListResponse> {
  const page = (await apiClient.get('/objects-$i', query(cursor, parameters as Partial<Options>))) as Page$i
  check(page)
  const records: DataRecord[] = page.items.map((raw: Raw) => toRecord(raw))
  return { records, cursor: page.next_cursor ?? null }
}
EOF
  cat > "$dir/js/data/$c/list.js" <<EOF
import { BadRequestError } from '@integration-app/sdk/errors'
import { toRecord } from '../../api/records.js'

const Field$i = { Id: 'id', Name: 'name', Updated: 'updated_at' }

const defaults = { limit: 100, order: 'asc', fields: [Field$i.Id, Field$i.Name, Field$i.Updated] }

function query(cursor, options = {}) {
  const o = { ...defaults, ...options }
  const q = { limit: o.limit, order: o.order, fields: o.fields.join(',') }
  if (cursor) q.cursor = cursor
  return q
}

function check(page) {
  if (!Array.isArray(page.items)) throw new BadRequestError({ message: 'objects-$i: no items', page })
}

export default async function list({ apiClient, cursor, parameters }) {
  const page = await apiClient.get('/objects-$i', query(cursor, parameters))
  check(page)
  const records = page.items.map((raw) => toRecord(raw))
  return { records, cursor: page.next_cursor ?? null }
}
EOF
done
echo "wrote $dir/ts and $dir/js ($n collections each)"
