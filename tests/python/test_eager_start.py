"""Eager workflow start: a start that asks for it (`request_eager_start=True`, with a worker of
the same client on the task queue) gets its first workflow task in the start response, so the
worker runs it without a trip through matching; `system.enableEagerWorkflowStart=false` turns it
off and the task goes the usual way. Run with SUNDIAL_TEST_IMPL=reference to compare."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from wf_defs import EchoWorkflow, running_worker, uid


async def event_types(handle) -> list[str]:
    return [EventType.Name(e.event_type) async for e in handle.fetch_history_events()]


async def test_the_first_workflow_task_comes_back_with_the_start(start_dev):
    srv = start_dev()
    client = await Client.connect(srv.address)
    ns = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
    assert ns.namespace_info.capabilities.eager_workflow_start
    tq = uid("eager-tq")
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        handle = await client.start_workflow(EchoWorkflow.run, "x", id=uid("eager"), task_queue=tq,
                                             request_eager_start=True)
        assert getattr(handle, "__temporal_eagerly_started"), "no workflow task came back with the start"
        assert await handle.result() == "echo x"
        plain = await client.start_workflow(EchoWorkflow.run, "y", id=uid("plain"), task_queue=tq)
        assert not getattr(plain, "__temporal_eagerly_started")
        assert await plain.result() == "echo y"
    expected = ["EVENT_TYPE_WORKFLOW_EXECUTION_STARTED", "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
                "EVENT_TYPE_WORKFLOW_TASK_STARTED", "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
                "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"]
    assert await event_types(handle) == expected
    assert await event_types(plain) == expected


async def test_turned_off_by_dynamic_config(start_dev):
    srv = start_dev(["--dynamic-config-value", "system.enableEagerWorkflowStart=false"])
    client = await Client.connect(srv.address)
    tq = uid("eager-off-tq")
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        handle = await client.start_workflow(EchoWorkflow.run, "x", id=uid("eager-off"), task_queue=tq,
                                             request_eager_start=True)
        assert not getattr(handle, "__temporal_eagerly_started")
        assert await handle.result() == "echo x"
