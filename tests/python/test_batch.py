"""Batch operations: `temporal workflow terminate --query` and the `temporal batch` commands,
and StartBatchOperation from the SDK's raw service client for signal, cancel, delete and reset
(by query and by a list of executions), stopping a job, and bad requests. Run with
SUNDIAL_TEST_IMPL=reference to check the same expectations against Temporal."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid

import pytest
from temporalio.api.batch.v1 import (BatchOperationCancellation, BatchOperationDeletion, BatchOperationReset,
                                     BatchOperationSignal, BatchOperationTermination)
from temporalio.api.common.v1 import Payloads, ResetOptions, WorkflowExecution
from temporalio.api.enums.v1 import BatchOperationState
from temporalio.api.workflowservice.v1 import (DescribeBatchOperationRequest, StartBatchOperationRequest,
                                               StopBatchOperationRequest)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.converter import default as default_converter
from temporalio.service import RPCError, RPCStatusCode
from google.protobuf.empty_pb2 import Empty

from conftest import child_env
from wf_defs import EchoWorkflow, SignalSumWorkflow, WaitForeverWorkflow, event_types, running_worker, uid, wait_until


async def start_waiting(client: Client, tq: str, n: int) -> list:
    return [await client.start_workflow(WaitForeverWorkflow.run, id=uid("batch-wf"), task_queue=tq) for _ in range(n)]


async def visible(client: Client, query: str, n: int) -> None:
    async def count():
        return (await client.count_workflows(query)).count == n

    await wait_until(count, timeout=20, interval=0.2, what=f"{n} workflows visible for {query}")


async def job_done(client: Client, job_id: str, timeout: float = 30):
    async def done():
        d = await client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace=client.namespace, job_id=job_id))
        return d if d.state != BatchOperationState.BATCH_OPERATION_STATE_RUNNING else None

    await wait_until(done, timeout=timeout, interval=0.2, what=f"batch job {job_id} to finish")
    return await done()


async def start_batch(client: Client, **kw) -> str:
    job_id = kw.pop("job_id", None) or str(uuid.uuid4())
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(namespace=client.namespace, job_id=job_id, **kw))
    return job_id


async def test_cli_terminate_by_query_and_batch_commands(client: Client, server, temporal_cli):
    tq = uid("batch-tq")
    handles = await start_waiting(client, tq, 4)
    other = (await start_waiting(client, uid("batch-other"), 1))[0]
    query = f"TaskQueue = '{tq}'"
    await visible(client, query, 4)

    def cli(*args: str) -> str:
        out = subprocess.run([temporal_cli, *args, "--address", server.address, "--namespace", client.namespace],
                             capture_output=True, text=True, timeout=60, env=child_env())
        assert out.returncode == 0, out.stderr + out.stdout
        return out.stdout

    out = cli("workflow", "terminate", "--query", query, "--reason", "cleanup", "--yes")
    job_id = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out).group(0)
    done = await job_done(client, job_id)
    assert done.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED
    assert (done.total_operation_count, done.complete_operation_count, done.failure_operation_count) == (4, 4, 0)
    for h in handles:
        assert (await h.describe()).status == WorkflowExecutionStatus.TERMINATED
    assert (await other.describe()).status == WorkflowExecutionStatus.RUNNING, "outside the query: untouched"

    described = json.loads(cli("batch", "describe", "--job-id", job_id, "--output", "json"))
    assert described["jobId"] == job_id
    assert int(described["completeOperationCount"]) == 4
    assert job_id in cli("batch", "list")
    await other.terminate()


async def test_signal_by_list_cancel_and_delete_by_query(client: Client):
    tq = uid("batch-tq")
    async with running_worker(client, tq, workflows=[SignalSumWorkflow]):
        sums = [await client.start_workflow(SignalSumWorkflow.run, 1, id=uid("batch-sum"), task_queue=tq)
                for _ in range(3)]
        payloads = Payloads(payloads=[default_converter().payload_converter.to_payload(5)])
        job = await start_batch(
            client, reason="add five",
            executions=[WorkflowExecution(workflow_id=h.id) for h in sums],
            signal_operation=BatchOperationSignal(signal="add", input=payloads, identity="batch-test"))
        done = await job_done(client, job)
        assert done.complete_operation_count == 3
        assert [await h.result() for h in sums] == [5, 5, 5]

    tq = uid("batch-tq")
    waiting = await start_waiting(client, tq, 3)
    query = f"TaskQueue = '{tq}'"
    await visible(client, query, 3)
    job = await start_batch(client, reason="stop them", visibility_query=query,
                            cancellation_operation=BatchOperationCancellation(identity="batch-test"))
    assert (await job_done(client, job)).complete_operation_count == 3
    for h in waiting:
        assert "WorkflowExecutionCancelRequested" in await event_types(h)

    job = await start_batch(client, reason="clean up", visibility_query=query,
                            deletion_operation=BatchOperationDeletion(identity="batch-test"))
    assert (await job_done(client, job)).complete_operation_count == 3

    async def gone():
        for h in waiting:
            try:
                await h.describe()
                return False
            except RPCError as e:
                assert e.status == RPCStatusCode.NOT_FOUND
        return True

    await wait_until(gone, timeout=20, what="deleted workflows gone")


async def test_reset_to_the_first_workflow_task(client: Client):
    tq = uid("batch-tq")
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        h = await client.start_workflow(EchoWorkflow.run, "x", id=uid("batch-echo"), task_queue=tq)
        assert await h.result() == "echo x"
        first_run = h.result_run_id
        reset = BatchOperationReset(identity="batch-test", options=ResetOptions(first_workflow_task=Empty()))
        job = await start_batch(client, reason="replay", reset_operation=reset,
                                executions=[WorkflowExecution(workflow_id=h.id, run_id=first_run)])
        assert (await job_done(client, job)).complete_operation_count == 1
        latest = client.get_workflow_handle(h.id)
        desc = await latest.describe()
        assert desc.run_id != first_run
        assert await latest.result() == "echo x"


async def test_stop_a_slow_job_and_bad_requests(client: Client):
    tq = uid("batch-tq")
    handles = await start_waiting(client, tq, 6)
    job = await start_batch(client, reason="slowly", max_operations_per_second=1,
                            executions=[WorkflowExecution(workflow_id=h.id) for h in handles],
                            termination_operation=BatchOperationTermination(identity="batch-test"))
    await client.workflow_service.stop_batch_operation(
        StopBatchOperationRequest(namespace=client.namespace, job_id=job, reason="changed my mind"))
    d = await client.workflow_service.describe_batch_operation(
        DescribeBatchOperationRequest(namespace=client.namespace, job_id=job))
    assert d.state == BatchOperationState.BATCH_OPERATION_STATE_FAILED
    statuses = [(await h.describe()).status for h in handles]
    assert statuses.count(WorkflowExecutionStatus.RUNNING) >= 3, statuses
    for h in handles:
        if (await h.describe()).status == WorkflowExecutionStatus.RUNNING:
            await h.terminate()

    with pytest.raises(RPCError) as err:
        await start_batch(client, visibility_query=f"TaskQueue = '{tq}'",
                          termination_operation=BatchOperationTermination())
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT, "a reason is required"
    with pytest.raises(RPCError) as err:
        await start_batch(client, reason="r", termination_operation=BatchOperationTermination())
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT, "a query or executions are required"
    with pytest.raises(RPCError) as err:
        await client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace=client.namespace, job_id=str(uuid.uuid4())))
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_terminate_a_thousand_workflows_by_query(client: Client):
    tq = uid("batch-k")
    n = 1000
    sem = asyncio.Semaphore(50)

    async def start(i: int):
        async with sem:
            await client.start_workflow(WaitForeverWorkflow.run, id=f"{tq}-{i}", task_queue=tq)

    await asyncio.gather(*(start(i) for i in range(n)))
    query = f"TaskQueue = '{tq}'"
    await visible(client, query, n)
    job = await start_batch(client, reason="clear the queue", visibility_query=query,
                            termination_operation=BatchOperationTermination(identity="batch-test"))
    done = await job_done(client, job, timeout=120)
    assert done.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED
    assert (done.total_operation_count, done.complete_operation_count, done.failure_operation_count) == (n, n, 0)
    running = (await client.count_workflows(f"{query} AND ExecutionStatus = 'Running'")).count
    assert running == 0
