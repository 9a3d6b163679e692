"""`matching.numTaskqueueReadPartitions` / `WritePartitions` per task queue: the partitions
clients see (`temporal task-queue list-partition`), where backlog lands (`describe
--partitions-legacy`), and that a worker drains every partition, also those it never polls."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import Client

from support import cli_json
from wf_defs import EchoWorkflow, running_worker, uid

pytestmark = pytest.mark.sundial_only

NS = "order-service"

CONFIG = """
matching.numTaskqueueReadPartitions:
  - value: 2
    constraints: {namespace: "order-service", taskQueueName: "spread-tq"}
  - value: 1
    constraints: {namespace: "order-service", taskQueueName: "single-tq"}
matching.numTaskqueueWritePartitions:
  - value: 3
    constraints: {namespace: "order-service", taskQueueName: "spread-tq"}
  - value: 1
    constraints: {namespace: "order-service", taskQueueName: "single-tq"}
"""


@pytest.fixture
def srv(start_dev, tmp_path: Path):
    path = tmp_path / "dynamic.yaml"
    path.write_text(CONFIG)
    yield start_dev(["--namespace", NS, "--dynamic-config-file", str(path)])


def partition_keys(address: str, namespace: str, queue: str) -> list[str]:
    out = cli_json(address, "task-queue", "list-partition", "-n", namespace, "--task-queue", queue)
    workflow = [p["key"] for p in out["workflowTaskQueuePartitions"]]
    assert workflow == [p["key"] for p in out["activityTaskQueuePartitions"]]
    assert all(p["ownerHostName"] for p in out["workflowTaskQueuePartitions"])
    return workflow


def backlog_per_partition(address: str, queue: str, partitions: int) -> list[int]:
    out = cli_json(address, "task-queue", "describe", "-n", NS, "--task-queue", queue, "--legacy-mode",
                   "--partitions-legacy", str(partitions))
    by_partition = {q["partition"]: int(q.get("backlog_count_hint", 0)) for q in out["taskQueues"]}
    return [by_partition.get(p, 0) for p in range(partitions)]


async def start_many(client: Client, queue: str, n: int) -> list:
    return await asyncio.gather(*(
        client.start_workflow(EchoWorkflow.run, f"m{i}", id=uid("part"), task_queue=queue) for i in range(n)))


async def test_partition_counts_per_task_queue(srv):
    assert partition_keys(srv.address, NS, "spread-tq") == ["spread-tq", "/_sys/spread-tq/1", "/_sys/spread-tq/2"]
    assert partition_keys(srv.address, NS, "single-tq") == ["single-tq"]
    # Unconfigured queue, and the same name in another namespace: Temporal's default of 4.
    assert len(partition_keys(srv.address, NS, "other-tq")) == 4
    assert len(partition_keys(srv.address, "default", "spread-tq")) == 4


async def test_backlog_spreads_over_write_partitions_and_a_worker_drains_all(srv):
    client = await Client.connect(srv.address, namespace=NS)
    handles = await start_many(client, "spread-tq", 30)
    backlog = backlog_per_partition(srv.address, "spread-tq", 3)
    assert sum(backlog) == 30 and all(b > 0 for b in backlog), backlog
    # Two read partitions: nobody polls partition 2, its tasks reach pollers through the root.
    async with running_worker(client, "spread-tq", workflows=[EchoWorkflow]):
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=60)
    assert sorted(results) == sorted(f"echo m{i}" for i in range(30))
    assert backlog_per_partition(srv.address, "spread-tq", 3) == [0, 0, 0]


async def test_single_partition_queue_keeps_all_backlog_in_the_root(srv):
    client = await Client.connect(srv.address, namespace=NS)
    handles = await start_many(client, "single-tq", 10)
    assert backlog_per_partition(srv.address, "single-tq", 2) == [10, 0]
    async with running_worker(client, "single-tq", workflows=[EchoWorkflow]):
        await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=60)
