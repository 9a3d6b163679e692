"""Namespace retention: a closed workflow is deleted (history, state, visibility) once its
namespace's retention is over; running workflows and longer-retention namespaces are kept.
`system.namespaceMinRetentionLocal` lets a namespace have a retention of seconds, and
`history.retentionTimerJitterDuration` of 0 makes the deletion time exact."""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from support import cli
from wf_defs import EchoWorkflow, running_worker, uid, wait_until

pytestmark = pytest.mark.sundial_only

RETENTION_S = 3


@pytest.fixture
def srv(start_dev):
    yield start_dev([
        "--dynamic-config-value", 'system.namespaceMinRetentionLocal="1s"',
        "--dynamic-config-value", 'history.retentionTimerJitterDuration="0s"',
    ])


async def gone(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
        return False
    except RPCError as e:
        assert e.status == RPCStatusCode.NOT_FOUND, e
        return True


async def listed(client: Client, workflow_id: str) -> bool:
    return [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")] != []


async def test_closed_workflows_are_deleted_after_retention(srv):
    ns = uid("short")
    cli(srv.address, "operator", "namespace", "create", "--namespace", ns, "--retention", f"{RETENTION_S}s")
    client = await Client.connect(srv.address, namespace=ns)
    keeper = await Client.connect(srv.address)  # `default`: a day of retention
    tq = uid("ret-tq")
    async with running_worker(client, tq, workflows=[EchoWorkflow]), \
            running_worker(keeper, tq, workflows=[EchoWorkflow]):
        done_id = uid("done")
        assert await client.execute_workflow(EchoWorkflow.run, "x", id=done_id, task_queue=tq) == "echo x"
        kept = uid("kept")
        await keeper.execute_workflow(EchoWorkflow.run, "y", id=kept, task_queue=tq)
    closed_at = time.monotonic()
    # A run nobody works on stays open however long it takes.
    running = await client.start_workflow(EchoWorkflow.run, "z", id=uid("open"), task_queue=uid("nobody"))

    assert not await gone(client, done_id), "still there right after closing"
    await wait_until(lambda: gone(client, done_id), timeout=RETENTION_S + 15, interval=0.25,
                     what="the closed workflow to be deleted")
    assert time.monotonic() - closed_at >= RETENTION_S - 0.5, "deleted before the retention was over"
    await wait_until(lambda: _not(listed(client, done_id)), timeout=10, what="the visibility row to go")
    r = cli(srv.address, "workflow", "show", "-n", ns, "--workflow-id", done_id, check=False)
    assert r.returncode != 0

    await asyncio.sleep(1)
    assert not await gone(client, running.id), "a running workflow is never deleted"
    assert not await gone(keeper, kept), "another namespace keeps its own retention"

    # Once closed, the open one goes too.
    await running.terminate("done")
    await wait_until(lambda: gone(client, running.id), timeout=RETENTION_S + 15, interval=0.25,
                     what="the terminated workflow to be deleted")


async def _not(value) -> bool:
    return not await value


async def test_retention_below_the_minimum_is_refused(start_dev):
    srv = start_dev([])
    r = cli(srv.address, "operator", "namespace", "create", "--namespace", uid("short"), "--retention", "30s",
            check=False)
    assert r.returncode != 0
    assert "retention" in (r.stderr + r.stdout).lower()
