-- Batch operations (StartBatchOperation): the request and the job's progress in `data`
-- (BatchRecord); `version` is the compare-and-set guard; the system worker works on a job when
-- `next_run_time` (Unix nanoseconds) has passed, and a finished job has it at the maximum.
CREATE TABLE batch_operations (
  namespace_id  TEXT NOT NULL,
  job_id        TEXT NOT NULL,
  version       BIGINT NOT NULL,
  next_run_time BIGINT NOT NULL,
  start_time    BIGINT NOT NULL,
  data          BLOB NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3',
  PRIMARY KEY (namespace_id, job_id)
);
CREATE INDEX batch_operations_next_run ON batch_operations (next_run_time);
CREATE INDEX batch_operations_start ON batch_operations (namespace_id, start_time);
