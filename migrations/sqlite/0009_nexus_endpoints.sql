-- Nexus endpoints (OperatorService *NexusEndpoint): cluster-wide, addressed by id, looked up by
-- name when a workflow schedules an operation. `version` is the compare-and-set guard
-- (UpdateNexusEndpoint names the version it read); `data` is a NexusEndpointRecord.
CREATE TABLE nexus_endpoints (
  id            TEXT NOT NULL PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  version       BIGINT NOT NULL,
  data          BLOB NOT NULL,
  data_encoding TEXT NOT NULL DEFAULT 'Proto3'
);
