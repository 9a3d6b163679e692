"""DescribeWorkflowExecution (pending activity in retry backoff; closed workflow) and
ListWorkflowExecutions / CountWorkflowExecutions with an empty query."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.converter import DataConverter

from support import DAY
from wf_defs import (EchoWorkflow, GreetWorkflow, PendingActivities, PendingActivityWorkflow, greet,
                     history_events, running_worker, uid, wait_until)


async def test_describe_pending_activity_after_failure(client):
    tq = uid("desc-tq")
    acts = PendingActivities()
    key = uid("k")
    async with running_worker(client, tq, workflows=[PendingActivityWorkflow],
                              activities=[acts.fail_with_heartbeat]):
        handle = await client.start_workflow(PendingActivityWorkflow.run, key, id=uid("desc"), task_queue=tq)

        async def retrying():
            d = await handle.describe()
            pa = d.raw_description.pending_activities
            return len(pa) == 1 and pa[0].attempt == 2

        # Attempt 1 fails; attempt 2 waits out a 60 s backoff.
        await wait_until(retrying, what="pending activity on attempt 2")
        desc = await handle.describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING
        assert desc.close_time is None
        (pa,) = desc.raw_description.pending_activities
        assert pa.activity_type.name == "FailWithHeartbeat"
        assert pa.activity_id == "1"
        assert pa.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
        assert pa.attempt == 2
        assert pa.maximum_attempts == 10
        assert pa.last_failure.message == "first attempt fails"
        assert pa.last_failure.application_failure_info.type == "Transient"
        assert pa.last_worker_identity
        hb = DataConverter.default.payload_converter.from_payloads(pa.heartbeat_details.payloads, [str])
        assert hb == [f"hb-{key}"]
        assert pa.HasField("last_heartbeat_time")
        assert pa.HasField("next_attempt_schedule_time")
        assert pa.current_retry_interval.ToSeconds() == 60
        # Reference: while waiting out the backoff, scheduled_time is the next attempt's time.
        assert pa.scheduled_time == pa.next_attempt_schedule_time
        next_at = pa.next_attempt_schedule_time.ToDatetime()
        last_hb = pa.last_heartbeat_time.ToDatetime()
        assert timedelta(seconds=50) < next_at - last_hb < timedelta(seconds=70), next_at - last_hb
        assert acts.attempts == [1]
        # Nothing was written to history for the failed attempt.
        names = [e.event_type for e in await history_events(handle)]
        assert len(names) == 5, names  # started, WFT x3, ActivityTaskScheduled
        await handle.terminate(reason="done")
    # (The reference still reports the pending activity on the terminated execution,
    # so only the status is asserted here.)
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED


async def test_describe_after_completion(client):
    tq = uid("descdone-tq")
    async with running_worker(client, tq, workflows=[GreetWorkflow], activities=[greet]):
        handle = await client.start_workflow(GreetWorkflow.run, "Ann", id=uid("descdone"), task_queue=tq)
        assert await handle.result() == "Hello, Ann!"
    desc = await handle.describe()
    events = await history_events(handle)
    assert desc.status == WorkflowExecutionStatus.COMPLETED
    assert desc.id == handle.id
    assert desc.run_id == handle.result_run_id
    assert desc.workflow_type == "GreetWorkflow"
    assert desc.task_queue == tq
    assert desc.close_time is not None and desc.close_time >= desc.start_time
    assert desc.history_length == len(events) == 11
    assert desc.raw_description.pending_activities == []
    assert desc.raw_description.workflow_execution_info.history_size_bytes > 0
    assert desc.close_time == events[-1].event_time.ToDatetime().replace(tzinfo=desc.close_time.tzinfo)


async def test_list_and_count_with_empty_query(client, server):
    """In a fresh namespace: list with "" returns exactly this test's executions,
    newest first; count matches."""
    ns = uid("wf-list")
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=ns, workflow_execution_retention_period=Duration(seconds=DAY)))
    nsc = await Client.connect(server.address, namespace=ns)
    tq = uid("list-tq")
    ids = []
    async with running_worker(nsc, tq, workflows=[EchoWorkflow]):
        for i in range(4):
            wid = f"list-{i}-{uid('w')}"
            h = await nsc.start_workflow(EchoWorkflow.run, str(i), id=wid, task_queue=tq)
            await h.result()
            ids.append(wid)
            await asyncio.sleep(0.01)  # distinct start times for the ordering check
    running = await nsc.start_workflow(EchoWorkflow.run, "open", id=uid("list-open"), task_queue=uid("nobody"))
    ids.append(running.id)

    async def listed():
        return [w async for w in nsc.list_workflows("")]

    async def all_visible():
        ws = await listed()
        return len(ws) == len(ids) and all(w.status is not None for w in ws) and \
            sum(1 for w in ws if w.status == WorkflowExecutionStatus.COMPLETED) == 4

    await wait_until(all_visible, what="all executions visible")
    ws = await listed()
    assert [w.id for w in ws] == list(reversed(ids))
    starts = [w.start_time for w in ws]
    assert starts == sorted(starts, reverse=True)
    assert ws[0].status == WorkflowExecutionStatus.RUNNING and ws[0].close_time is None
    for w in ws[1:]:
        assert w.workflow_type == "EchoWorkflow"
        assert w.task_queue == tq
        assert w.close_time is not None
    assert (await nsc.count_workflows()).count == len(ids)
    assert (await nsc.count_workflows("")).count == len(ids)
    await running.terminate(reason="cleanup")
