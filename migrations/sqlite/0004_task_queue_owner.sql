-- The matching host (its cluster_membership host_id) that holds a partition's lease; '' when
-- released. Another host may lease the partition only when this owner is no longer live.
ALTER TABLE task_queues ADD COLUMN owner TEXT NOT NULL DEFAULT '';
