-- The PostgreSQL store's schema, version 1 (crates/store/src/postgres/).
-- Keys and record ids use the "C" collation: byte order, as sled orders
-- them, so a scan's changes come out in the same order on both stores.

-- Small values: the store's instance id, the connection a whole store
-- belongs to, refreshed credentials (sealed when a key is given).
CREATE TABLE runtime_meta (
    key   text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);

-- One row per subscription: its state as JSON text (the store never reads
-- inside it). `sub` is the stored key: `@<connection>/<sub id>` in a view.
CREATE TABLE runtime_subscriptions (
    sub   text COLLATE "C" PRIMARY KEY,
    state text NOT NULL
);

-- The outbox: events not yet delivered, each as its sink line, numbered
-- in commit order by the sequence (event ids are `<instance>-<seq>`).
CREATE SEQUENCE runtime_outbox_seq AS bigint;
CREATE TABLE runtime_outbox (
    seq  bigint PRIMARY KEY,
    sub  text COLLATE "C" NOT NULL,
    line text NOT NULL
);
CREATE INDEX runtime_outbox_sub ON runtime_outbox (sub);

-- The committed full-scan snapshot: per subscription, record id ->
-- fingerprint and the last known record (which `deleted` events carry).
CREATE TABLE runtime_snapshot (
    sub         text COLLATE "C" NOT NULL,
    record_id   text COLLATE "C" NOT NULL,
    fingerprint bytea NOT NULL,
    record      text NOT NULL,
    PRIMARY KEY (sub, record_id)
);

-- A scan's changes against the committed snapshot, per generation: kind
-- 'c' created, 'u' updated, 'd' deleted (with the last known record), 'b'
-- a baseline's record (no committed snapshot to compare with). The commit
-- that makes the generation current applies them in the same transaction.
CREATE TABLE runtime_snapshot_changes (
    sub         text COLLATE "C" NOT NULL,
    gen         bigint NOT NULL,
    record_id   text COLLATE "C" NOT NULL,
    kind        "char" NOT NULL,
    fingerprint bytea,
    record      text NOT NULL,
    PRIMARY KEY (sub, gen, record_id)
);

-- `runtime serve`'s connection records (sealed when a key is given).
CREATE TABLE runtime_connections (
    id     text COLLATE "C" PRIMARY KEY,
    record bytea NOT NULL
);
