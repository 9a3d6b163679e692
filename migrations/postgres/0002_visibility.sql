-- Visibility: one row per run, kept current by history's visibility task queue and read by
-- the frontend's List/Count. Custom search attributes map onto the pre-allocated typed
-- columns below (alias -> column is stored in the namespace's data).
CREATE TABLE executions_visibility (
  namespace_id           TEXT NOT NULL,
  run_id                 TEXT NOT NULL,
  workflow_id            TEXT NOT NULL,
  workflow_type_name     TEXT NOT NULL,
  status                 INTEGER NOT NULL,
  start_time             BIGINT NOT NULL,
  execution_time         BIGINT NOT NULL,
  close_time             BIGINT,
  history_length         BIGINT,
  history_size_bytes     BIGINT,
  execution_duration     BIGINT,
  state_transition_count BIGINT,
  memo                   BYTEA,
  encoding               TEXT NOT NULL DEFAULT 'Proto3',
  task_queue             TEXT NOT NULL DEFAULT '',
  parent_workflow_id     TEXT,
  parent_run_id          TEXT,
  root_workflow_id       TEXT NOT NULL DEFAULT '',
  root_run_id            TEXT NOT NULL DEFAULT '',
  search_attributes      TEXT,
  temporal_change_version TEXT,
  _version               BIGINT NOT NULL DEFAULT 0,
  bool01 SMALLINT, bool02 SMALLINT, bool03 SMALLINT,
  datetime01 BIGINT, datetime02 BIGINT, datetime03 BIGINT,
  double01 DOUBLE PRECISION, double02 DOUBLE PRECISION, double03 DOUBLE PRECISION,
  int01 BIGINT, int02 BIGINT, int03 BIGINT,
  keyword01 TEXT, keyword02 TEXT, keyword03 TEXT, keyword04 TEXT, keyword05 TEXT,
  keyword06 TEXT, keyword07 TEXT, keyword08 TEXT, keyword09 TEXT, keyword10 TEXT,
  text01 TEXT, text02 TEXT, text03 TEXT,
  keywordlist01 TEXT, keywordlist02 TEXT, keywordlist03 TEXT,
  PRIMARY KEY (namespace_id, run_id)
);
-- Default order: open runs first, then newest first.
CREATE INDEX by_default_order ON executions_visibility
  (namespace_id, (COALESCE(close_time, 9223372036854775807)) DESC, start_time DESC, run_id);
CREATE INDEX by_workflow_id ON executions_visibility (namespace_id, workflow_id, start_time DESC);
CREATE INDEX by_workflow_type ON executions_visibility (namespace_id, workflow_type_name, start_time DESC);
CREATE INDEX by_status ON executions_visibility (namespace_id, status, start_time DESC);
