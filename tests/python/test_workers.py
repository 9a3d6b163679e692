"""Worker heartbeats: an SDK worker whose runtime heartbeats every second shows in
`temporal worker list / describe / count` and ListWorkers (filtered by the list filter language
over worker attributes), with its task queue, host and SDK; a worker that shut down reports its
final status."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.api.enums.v1 import WorkerStatus
from temporalio.api.workflowservice.v1 import DescribeWorkerRequest, ListWorkersRequest
from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCStatusCode

from support import cli, cli_json, eventually, expect_rpc_error
from wf_defs import ALL_WORKFLOWS, new_worker, uid


async def listed(client: Client, query: str):
    resp = await client.workflow_service.list_workers(ListWorkersRequest(namespace=client.namespace, query=query))
    return list(resp.workers)


async def test_heartbeating_workers_are_listed_and_described(server):
    runtime = Runtime(telemetry=TelemetryConfig(), worker_heartbeat_interval=timedelta(seconds=1))
    client = await Client.connect(server.address, runtime=runtime)
    tq = uid("workers-tq")
    async with new_worker(client, tq, workflows=ALL_WORKFLOWS):
        async def one_running():
            workers = await listed(client, f"TaskQueue = '{tq}'")
            assert len(workers) == 1, workers
            assert workers[0].status == WorkerStatus.WORKER_STATUS_RUNNING
            return workers[0]
        worker = await eventually(one_running)
        assert worker.sdk_name and worker.host_name and worker.worker_instance_key
        key = worker.worker_instance_key
        described = await client.workflow_service.describe_worker(
            DescribeWorkerRequest(namespace=client.namespace, worker_instance_key=key))
        assert described.worker_info.worker_heartbeat.task_queue == tq
        out = await asyncio.to_thread(cli, server.address, "worker", "list", "--query", f"TaskQueue = '{tq}'")
        assert key in out.stdout
        desc = await asyncio.to_thread(cli_json, server.address, "worker", "describe", "--worker-instance-key", key)
        assert tq in str(desc)
        count = await asyncio.to_thread(cli, server.address, "worker", "count", "--query", f"TaskQueue = '{tq}'")
        assert "1" in count.stdout
        assert await listed(client, f"TaskQueue = '{tq}' AND Status = 'Shutdown'") == []
    # Shut down: its last heartbeat (with ShutdownWorker) says it is going; one that says it is
    # gone leaves the list, as in Temporal.
    workers = await listed(client, f"TaskQueue = '{tq}'")
    assert all(w.status in (WorkerStatus.WORKER_STATUS_SHUTTING_DOWN, WorkerStatus.WORKER_STATUS_SHUTDOWN)
               for w in workers), workers
    await expect_rpc_error(client.workflow_service.describe_worker(
        DescribeWorkerRequest(namespace=client.namespace, worker_instance_key="no-such-worker")),
        RPCStatusCode.NOT_FOUND)
    await expect_rpc_error(client.workflow_service.list_workers(
        ListWorkersRequest(namespace=client.namespace, query="TaskQueue = ")), RPCStatusCode.INVALID_ARGUMENT)
    assert await listed(client, "NoSuchAttribute = 'x'") == []
