"""Behaviour the Python SDK's own test suite expects of a server (found running it against
sundial): updates finished in the task that completes the workflow, memo removal, the root
and parent of a child, UUIDv7 run ids, user metadata on the start event, and the
continue-as-new suggestion."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.converter import PayloadConverter

from wf_defs import SignalSumWorkflow, history_events, running_worker, uid


@workflow.defn
class CompletesWithUpdate:
    @workflow.run
    async def run(self) -> str:
        return "workflow-done"

    @workflow.update
    async def finish(self) -> str:
        return "update-done"


@workflow.defn
class MemoEditor:
    @workflow.run
    async def run(self) -> None:
        workflow.upsert_memo({"kept": "yes", "dropped": None})


@workflow.defn
class ChildReportsRoot:
    @workflow.run
    async def run(self) -> str:
        root = workflow.info().root
        return f"{root.workflow_id}/{root.run_id}" if root else ""


@workflow.defn
class ParentOfChild:
    @workflow.run
    async def run(self, child_id: str) -> str:
        return await workflow.execute_child_workflow(ChildReportsRoot.run, id=child_id)


@workflow.defn
class LongHistory:
    @workflow.run
    async def run(self, timers: int) -> bool:
        for _ in range(timers):
            await asyncio.sleep(0.001)
        return workflow.info().is_continue_as_new_suggested()


async def test_update_finished_with_the_workflow_gets_its_result(client: Client):
    tq = uid("upd-close")
    handle = await client.start_workflow(CompletesWithUpdate.run, id=uid("upd-close"), task_queue=tq)
    update = asyncio.create_task(handle.execute_update(CompletesWithUpdate.finish, id="u1"))
    await asyncio.sleep(0.5)  # the update waits for the first workflow task
    async with running_worker(client, tq, workflows=[CompletesWithUpdate], max_cached_workflows=0):
        assert await handle.result() == "workflow-done"
        assert await asyncio.wait_for(update, 20) == "update-done"


async def test_upserting_none_removes_a_memo_key(client: Client):
    tq = uid("memo")
    async with running_worker(client, tq, workflows=[MemoEditor]):
        handle = await client.start_workflow(MemoEditor.run, id=uid("memo"), task_queue=tq,
                                             memo={"dropped": "soon", "other": 1})
        await handle.result()
    assert await (await handle.describe()).memo() == {"kept": "yes", "other": 1}


async def test_child_knows_its_root_and_parent(client: Client):
    tq = uid("root")
    child_id = uid("child")
    async with running_worker(client, tq, workflows=[ParentOfChild, ChildReportsRoot]):
        parent = await client.start_workflow(ParentOfChild.run, child_id, id=uid("parent"), task_queue=tq)
        reported = await parent.result()
    assert reported == f"{parent.id}/{parent.result_run_id}"
    child = await client.get_workflow_handle(child_id).describe()
    assert (child.root_id, child.root_run_id) == (parent.id, parent.result_run_id)
    assert (child.parent_id, child.parent_run_id) == (parent.id, parent.result_run_id)
    top = await parent.describe()
    assert (top.root_id, top.root_run_id) == (parent.id, parent.result_run_id)


async def test_run_ids_are_uuid_v7_and_start_carries_user_metadata(client: Client):
    tq = uid("meta")
    async with running_worker(client, tq, workflows=[CompletesWithUpdate]):
        handle = await client.start_workflow(CompletesWithUpdate.run, id=uid("meta"), task_queue=tq,
                                             static_summary="cool summary", static_details="long details")
        await handle.result()
    assert uuid.UUID(handle.result_run_id).version == 7
    started = (await history_events(handle))[0]
    convert = PayloadConverter.default.from_payload
    assert convert(started.user_metadata.summary) == "cool summary"
    assert convert(started.user_metadata.details) == "long details"
    desc = await handle.describe()
    assert await desc.static_summary() == "cool summary"
    assert await desc.static_details() == "long details"


@pytest.mark.sundial_only
async def test_continue_as_new_is_suggested_past_the_configured_history_length(start_dev):
    srv = start_dev(["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=20"])
    client = await Client.connect(srv.address)
    tq = uid("can")
    async with running_worker(client, tq, workflows=[LongHistory]):
        short = client.execute_workflow(LongHistory.run, 1, id=uid("short"), task_queue=tq,
                                        execution_timeout=timedelta(seconds=60))
        long = client.execute_workflow(LongHistory.run, 12, id=uid("long"), task_queue=tq,
                                       execution_timeout=timedelta(seconds=60))
        assert await asyncio.gather(short, long) == [False, True]


async def test_reset_to_a_started_workflow_task(client: Client):
    tq = uid("reset-started")
    async with running_worker(client, tq, workflows=[SignalSumWorkflow]):
        handle = await client.start_workflow(SignalSumWorkflow.run, 1, id=uid("reset-started"), task_queue=tq)
        await handle.signal(SignalSumWorkflow.add, 1)
        assert await handle.result() == 1
        started = [e for e in await history_events(handle)
                   if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED][-1]
        reset = await client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
            namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=handle.id),
            reason="to a started task", workflow_task_finish_event_id=started.event_id,
            request_id=str(uuid.uuid4())))
        new_run = client.get_workflow_handle(handle.id, run_id=reset.run_id)
        assert await new_run.result() == 1
    events = await history_events(new_run)
    failed = events[started.event_id]
    assert failed.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    attrs = failed.workflow_task_failed_event_attributes
    assert attrs.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
    scheduled = started.workflow_task_started_event_attributes.scheduled_event_id
    assert (attrs.scheduled_event_id, attrs.started_event_id) == (scheduled, started.event_id)


async def test_next_task_after_worker_shutdown_goes_to_the_normal_queue(client: Client):
    tq = uid("shutdown")
    async with running_worker(client, tq, workflows=[SignalSumWorkflow]):
        handle = await client.start_workflow(SignalSumWorkflow.run, 1, id=uid("shutdown"), task_queue=tq)
        async def first_task_done() -> bool:
            return any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
                       for e in await history_events(handle))
        while not await first_task_done():
            await asyncio.sleep(0.05)
    # The worker said goodbye (ShutdownWorker): its sticky queue must not hold the next task
    # for the sticky schedule-to-start timeout (10 s).
    await handle.signal(SignalSumWorkflow.add, 1)
    async with running_worker(client, tq, workflows=[SignalSumWorkflow]):
        assert await asyncio.wait_for(handle.result(), 5) == 1
    types = [e.event_type for e in await history_events(handle)]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT not in types


@workflow.defn
class ReportsBuildId:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(0.01)
        return workflow.info().get_current_build_id()


async def test_workflow_task_events_carry_the_workers_build_id(client: Client):
    tq = uid("build-id")
    async with running_worker(client, tq, workflows=[ReportsBuildId], build_id="1.0", max_cached_workflows=0):
        handle = await client.start_workflow(ReportsBuildId.run, id=uid("build-id"), task_queue=tq)
        assert await handle.result() == "1.0"
    events = await history_events(handle)
    started = [e.workflow_task_started_event_attributes for e in events
               if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]
    completed = [e.workflow_task_completed_event_attributes for e in events
                 if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]
    assert started and completed
    assert all(a.worker_version.build_id == "1.0" for a in started + completed)


@workflow.defn
class ZeroTimer:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(0, summary="now")
        return "fired"


async def test_a_zero_timer_fires_at_once(client: Client):
    tq = uid("zero-timer")
    async with running_worker(client, tq, workflows=[ZeroTimer]):
        handle = await client.start_workflow(ZeroTimer.run, id=uid("zero-timer"), task_queue=tq)
        assert await asyncio.wait_for(handle.result(), 10) == "fired"
    types = [e.event_type for e in await history_events(handle)]
    assert EventType.EVENT_TYPE_TIMER_STARTED in types and EventType.EVENT_TYPE_TIMER_FIRED in types
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in types
