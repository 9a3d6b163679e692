-- Visibility queries: the search attributes returned by list calls, and indexes shaped like
-- Temporal's (namespace, attribute, default order) so that a filter on one attribute reads
-- its rows already in the default order (open runs first, then newest start first).
ALTER TABLE executions_visibility ADD COLUMN search_attributes_data BYTEA;

DROP INDEX IF EXISTS by_workflow_id;
DROP INDEX IF EXISTS by_workflow_type;
DROP INDEX IF EXISTS by_status;
CREATE INDEX by_workflow_id ON executions_visibility
  (namespace_id, workflow_id, (COALESCE(close_time, 9223372036854775807)) DESC, start_time DESC, run_id);
CREATE INDEX by_workflow_type ON executions_visibility
  (namespace_id, workflow_type_name, (COALESCE(close_time, 9223372036854775807)) DESC, start_time DESC, run_id);
CREATE INDEX by_status ON executions_visibility
  (namespace_id, status, (COALESCE(close_time, 9223372036854775807)) DESC, start_time DESC, run_id);
CREATE INDEX by_task_queue ON executions_visibility
  (namespace_id, task_queue, (COALESCE(close_time, 9223372036854775807)) DESC, start_time DESC, run_id);
CREATE INDEX by_start_time ON executions_visibility (namespace_id, start_time DESC, run_id);
CREATE INDEX by_close_time ON executions_visibility (namespace_id, close_time DESC, run_id);
CREATE INDEX by_keyword01 ON executions_visibility
  (namespace_id, keyword01, (COALESCE(close_time, 9223372036854775807)) DESC, start_time DESC, run_id);
CREATE INDEX by_keyword02 ON executions_visibility
  (namespace_id, keyword02, (COALESCE(close_time, 9223372036854775807)) DESC, start_time DESC, run_id);
CREATE INDEX by_keyword03 ON executions_visibility
  (namespace_id, keyword03, (COALESCE(close_time, 9223372036854775807)) DESC, start_time DESC, run_id);
CREATE INDEX by_int01 ON executions_visibility (namespace_id, int01, start_time DESC);
CREATE INDEX by_int02 ON executions_visibility (namespace_id, int02, start_time DESC);
CREATE INDEX by_datetime01 ON executions_visibility (namespace_id, datetime01, start_time DESC);
