-- Lets the history scavenger find a run's execution row by run id alone.
CREATE INDEX executions_by_run ON executions (shard_id, run_id);
