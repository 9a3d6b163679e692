"""ShutdownWorker ends the worker's outstanding polls when `frontend.enableCancelWorkerPollsOnShutdown`
is on (Temporal's setting, off by default as there): the namespace advertises
`worker_poll_complete_on_shutdown`, an SDK worker that relies on it shuts down at once instead
of waiting out its long polls, and the next task goes to a worker that is still there. Run with
SUNDIAL_TEST_IMPL=reference to compare."""

from __future__ import annotations

import asyncio
import time

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from wf_defs import EchoWorkflow, new_worker, uid


async def capability(client: Client) -> bool:
    ns = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
    return ns.namespace_info.capabilities.worker_poll_complete_on_shutdown


async def shutdown_seconds(client: Client, tq: str) -> float:
    """Runs a worker until it has done one workflow and is polling again, then times its shutdown."""
    async with new_worker(client, tq, workflows=[EchoWorkflow]) as worker:
        assert await client.execute_workflow(EchoWorkflow.run, "x", id=uid("wf"), task_queue=tq) == "echo x"
        await asyncio.sleep(1)  # back in its long polls
        began = time.monotonic()
        await worker.shutdown()
        return time.monotonic() - began


async def test_a_worker_shutting_down_gets_its_polls_ended(start_dev):
    srv = start_dev(["--dynamic-config-value", "frontend.enableCancelWorkerPollsOnShutdown=true"])
    client = await Client.connect(srv.address)
    assert await capability(client)
    tq = uid("shutdown-tq")
    took = await shutdown_seconds(client, tq)
    # The SDK waits for its polls to be answered (about 5 s before it gives up on them).
    assert took < 3, f"shutdown took {took:.1f}s: its polls were not ended"
    # Nothing of the worker that left still waits in matching: the next task waits for the
    # next worker, which gets it at once (handed to a poll nobody reads, it would wait out
    # the workflow task timeout).
    handle = await client.start_workflow(EchoWorkflow.run, "y", id=uid("wf"), task_queue=tq)
    await asyncio.sleep(1)
    async with new_worker(client, tq, workflows=[EchoWorkflow]):
        began = time.monotonic()
        assert await asyncio.wait_for(handle.result(), 20) == "echo y"
        assert time.monotonic() - began < 5


async def test_off_by_default(start_dev):
    srv = start_dev()
    client = await Client.connect(srv.address)
    assert not await capability(client)
