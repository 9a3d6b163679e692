"""Namespace deletion: `temporal operator namespace delete` renames the namespace and frees its
name at once; the system worker then deletes its workflows (running ones are terminated), its
schedules, and the namespace itself. Run with SUNDIAL_TEST_IMPL=reference to compare."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import CreateNexusEndpointRequest, DeleteNamespaceRequest
from temporalio.api.workflowservice.v1 import (DescribeNamespaceRequest, DescribeNexusOperationExecutionRequest,
                                               ListNamespacesRequest, RegisterNamespaceRequest,
                                               StartNexusOperationExecutionRequest)
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec
from temporalio.service import RPCError, RPCStatusCode
from google.protobuf.duration_pb2 import Duration

from conftest import AGAINST_REFERENCE, child_env
from wf_defs import EchoWorkflow, WaitForeverWorkflow, running_worker, uid, wait_until


async def register(client: Client, name: str) -> None:
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period=Duration(seconds=86400)))

    async def usable():
        try:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=name))
            return True
        except RPCError:
            return False

    await wait_until(usable, timeout=20, what=f"namespace {name} registered")


async def test_delete_namespace_frees_the_name_and_deletes_its_workflows(client: Client, server, temporal_cli):
    name = uid("ns-del")
    await register(client, name)
    ns_client = await Client.connect(server.address, namespace=name)
    tq = uid("ns-del-tq")
    async with running_worker(ns_client, tq, workflows=[EchoWorkflow, WaitForeverWorkflow]):
        done = await ns_client.start_workflow(EchoWorkflow.run, "x", id=uid("done"), task_queue=tq)
        assert await done.result() == "echo x"
        running = await ns_client.start_workflow(WaitForeverWorkflow.run, id=uid("running"), task_queue=tq)
        # A standalone activity nobody runs: it goes with the namespace too.
        activity = await ns_client.start_activity("never_polled", id=uid("activity"), task_queue=uid("nobody"),
                                                  start_to_close_timeout=timedelta(minutes=5))
        # And a standalone Nexus operation that no handler serves (not on the reference here:
        # its dev server needs a flag for standalone operations).
        operation_id = uid("operation")
        if not AGAINST_REFERENCE:
            endpoint = uid("ns-del-ep")
            await client.operator_service.create_nexus_endpoint(CreateNexusEndpointRequest(spec=EndpointSpec(
                name=endpoint, target=EndpointTarget(worker=EndpointTarget.Worker(namespace=name, task_queue=uid("nobody"))))))
            await ns_client.workflow_service.start_nexus_operation_execution(StartNexusOperationExecutionRequest(
                namespace=name, operation_id=operation_id, endpoint=endpoint, service="svc", operation="op",
                request_id=uid("req")))
        await ns_client.create_schedule(uid("sched"), Schedule(
            action=ScheduleActionStartWorkflow(EchoWorkflow.run, "s", id=uid("sched-wf"), task_queue=tq),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])))

    out = subprocess.run([temporal_cli, "operator", "namespace", "delete", "--namespace", name, "--yes",
                          "--address", server.address], capture_output=True, text=True, timeout=60, env=child_env())
    assert out.returncode == 0, out.stderr + out.stdout
    assert "has been deleted" in out.stdout

    async def old_name_gone():
        try:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=name))
            return False
        except RPCError as e:
            assert e.status == RPCStatusCode.NOT_FOUND
            return True

    await wait_until(old_name_gone, timeout=20, what="the old name to stop resolving")

    async def renamed_gone():
        resp = await client.workflow_service.list_namespaces(ListNamespacesRequest(page_size=1000))
        return not any(n.namespace_info.name.startswith(f"{name}-deleted-") for n in resp.namespaces)

    await wait_until(renamed_gone, timeout=90, interval=0.5, what="the deleted namespace and its data to go")

    # The name is free again, and the new namespace holds none of the old one's workflows.
    await register(client, name)
    fresh = await Client.connect(server.address, namespace=name)
    if not AGAINST_REFERENCE:
        # The reference's start-dev still answered DescribeWorkflowExecution and ListSchedules
        # with the old namespace's data under the re-registered name (its caches map the name
        # to the old namespace for a while); Sundial answers from the state after deletion.
        for handle in (done, running):
            with pytest.raises(RPCError) as err:
                await fresh.get_workflow_handle(handle.id).describe()
            assert err.value.status == RPCStatusCode.NOT_FOUND
        assert [s async for s in await fresh.list_schedules()] == []
        with pytest.raises(RPCError) as err:
            await fresh.get_activity_handle(activity.id).describe()
        assert err.value.status == RPCStatusCode.NOT_FOUND
        with pytest.raises(RPCError) as err:
            await fresh.workflow_service.describe_nexus_operation_execution(
                DescribeNexusOperationExecutionRequest(namespace=name, operation_id=operation_id))
        assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_delete_namespace_refuses_unknown_and_system_namespaces(client: Client):
    with pytest.raises(RPCError) as err:
        await client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace=uid("never-there")))
    assert err.value.status == RPCStatusCode.NOT_FOUND
    with pytest.raises(RPCError) as err:
        await client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace="temporal-system"))
    assert err.value.status == RPCStatusCode.FAILED_PRECONDITION
