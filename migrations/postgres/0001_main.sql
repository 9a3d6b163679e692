-- Sundial main store (PostgreSQL). Key columns address, fence and range-scan rows; `data`
-- holds one of our persistence protos (proto/sundial/server/api/persistence/v1). Times are
-- nanoseconds since the Unix epoch.

CREATE TABLE namespaces (
  id                   TEXT PRIMARY KEY,
  name                 TEXT NOT NULL UNIQUE,
  notification_version BIGINT NOT NULL,
  is_global            SMALLINT NOT NULL DEFAULT 0,
  data                 BYTEA NOT NULL,
  data_encoding        TEXT NOT NULL DEFAULT 'Proto3'
);

-- One row; bumped on every namespace change so caches can tell they are stale.
CREATE TABLE namespace_metadata (
  partition_id         INTEGER PRIMARY KEY,
  notification_version BIGINT NOT NULL
);
INSERT INTO namespace_metadata (partition_id, notification_version) VALUES (54321, 1);

CREATE TABLE cluster_metadata (
  cluster_name  TEXT PRIMARY KEY,
  data          BYTEA NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3',
  version       BIGINT NOT NULL
);

CREATE TABLE cluster_membership (
  host_id        TEXT PRIMARY KEY,
  rpc_address    TEXT NOT NULL,
  rpc_port       INTEGER NOT NULL,
  role           SMALLINT NOT NULL,
  session_start  BIGINT NOT NULL,
  last_heartbeat BIGINT NOT NULL,
  record_expiry  BIGINT NOT NULL
);
CREATE INDEX cluster_membership_role_heartbeat ON cluster_membership (role, last_heartbeat);
CREATE INDEX cluster_membership_expiry ON cluster_membership (record_expiry);

-- A history shard's owner holds it by bumping range_id; every execution write is fenced by it.
CREATE TABLE shards (
  shard_id      INTEGER PRIMARY KEY,
  range_id      BIGINT NOT NULL,
  data          BYTEA NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3'
);

-- Mutable state of one run; db_record_version is the compare-and-set guard.
CREATE TABLE executions (
  shard_id          INTEGER NOT NULL,
  namespace_id      TEXT NOT NULL,
  workflow_id       TEXT NOT NULL,
  run_id            TEXT NOT NULL,
  next_event_id     BIGINT NOT NULL,
  last_write_version BIGINT NOT NULL DEFAULT 0,
  db_record_version BIGINT NOT NULL,
  data              BYTEA NOT NULL,
  data_encoding     TEXT NOT NULL DEFAULT 'Proto3',
  state             BYTEA NOT NULL,
  state_encoding    TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (shard_id, namespace_id, workflow_id, run_id)
);

-- The current run of each workflow id: one running run per id, start de-duplication,
-- id reuse and conflict policies.
CREATE TABLE current_executions (
  shard_id           INTEGER NOT NULL,
  namespace_id       TEXT NOT NULL,
  workflow_id        TEXT NOT NULL,
  run_id             TEXT NOT NULL,
  create_request_id  TEXT NOT NULL,
  state              INTEGER NOT NULL,
  status             INTEGER NOT NULL,
  start_time         BIGINT,
  last_write_version BIGINT NOT NULL DEFAULT 0,
  data               BYTEA,
  data_encoding      TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (shard_id, namespace_id, workflow_id)
);

-- Append-only event batches; node_id is the first event id of the batch. txn_id is stored
-- negated so an ascending scan meets the newest transaction of a node first.
CREATE TABLE history_node (
  shard_id      INTEGER NOT NULL,
  tree_id       TEXT NOT NULL,
  branch_id     TEXT NOT NULL,
  node_id       BIGINT NOT NULL,
  txn_id        BIGINT NOT NULL,
  prev_txn_id   BIGINT NOT NULL DEFAULT 0,
  data          BYTEA NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (shard_id, tree_id, branch_id, node_id, txn_id)
);

CREATE TABLE history_tree (
  shard_id      INTEGER NOT NULL,
  tree_id       TEXT NOT NULL,
  branch_id     TEXT NOT NULL,
  data          BYTEA NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (shard_id, tree_id, branch_id)
);

-- Outboxes written in the same transaction as the state change that produced them.
CREATE TABLE transfer_tasks (
  shard_id      INTEGER NOT NULL,
  task_id       BIGINT NOT NULL,
  data          BYTEA NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (shard_id, task_id)
);

CREATE TABLE timer_tasks (
  shard_id             INTEGER NOT NULL,
  visibility_timestamp BIGINT NOT NULL,
  task_id              BIGINT NOT NULL,
  data                 BYTEA NOT NULL,
  data_encoding        TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (shard_id, visibility_timestamp, task_id)
);

CREATE TABLE visibility_tasks (
  shard_id      INTEGER NOT NULL,
  task_id       BIGINT NOT NULL,
  data          BYTEA NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (shard_id, task_id)
);

-- A task-queue partition's lease (range_id) and metadata, and its persisted backlog.
CREATE TABLE task_queues (
  range_hash    BIGINT NOT NULL,
  task_queue_id BYTEA NOT NULL,
  range_id      BIGINT NOT NULL,
  data          BYTEA NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (range_hash, task_queue_id)
);

CREATE TABLE tasks (
  range_hash    BIGINT NOT NULL,
  task_queue_id BYTEA NOT NULL,
  task_id       BIGINT NOT NULL,
  data          BYTEA NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (range_hash, task_queue_id, task_id)
);

CREATE TABLE schedules (
  namespace_id  TEXT NOT NULL,
  schedule_id   TEXT NOT NULL,
  next_run_time BIGINT,
  data          BYTEA NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3',
  version       BIGINT NOT NULL,
  PRIMARY KEY (namespace_id, schedule_id)
);
CREATE INDEX schedules_next_run ON schedules (next_run_time);
