"""The roles as separate processes on PostgreSQL, finding each other through
cluster_membership and talking gRPC: workflows run end to end, and a history process killed
with SIGKILL mid-load and started again loses nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client

from cluster import Cluster
from wf_defs import running_worker, uid

pytestmark = pytest.mark.sundial_only


@activity.defn
async def bump(x: int) -> int:
    return x + 1


@workflow.defn
class TwoStepWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        for _ in range(2):
            x = await workflow.execute_activity(bump, x, start_to_close_timeout=timedelta(seconds=10))
        await workflow.sleep(0.5)
        return x


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        c.start()
        yield c
    finally:
        c.stop()


async def test_roles_in_separate_processes_survive_a_history_crash(cluster):
    client = await Client.connect(cluster.address)
    tq = uid("mp-tq")
    async with running_worker(client, tq, workflows=[TwoStepWorkflow], activities=[bump]):
        first = await client.start_workflow(TwoStepWorkflow.run, 0, id=uid("mp"), task_queue=tq)
        assert await first.result() == 2
        handles = [await client.start_workflow(TwoStepWorkflow.run, i, id=uid("mp"), task_queue=tq)
                   for i in range(10)]
        # Kill history mid-load; a new process takes the shards over on the same port.
        cluster.kill("history")
        cluster.restart("history")
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), timeout=90)
    assert results == [i + 2 for i in range(10)]
