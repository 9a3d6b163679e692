"""Workflow lifecycle: cancellation handled by the workflow (cleanup activity),
termination, workflow id reuse / conflict policies, workflow failure, and workflow
execution / run timeouts."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.enums.v1 import RetryState
from temporalio.api.errordetails.v1 import WorkflowExecutionAlreadyStartedFailure
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest
from temporalio.client import (WorkflowExecutionStatus, WorkflowFailureError)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import (ApplicationError, CancelledError, TerminatedError, TimeoutError,
                                   WorkflowAlreadyStartedError)
from temporalio.service import RPCError, RPCStatusCode

from support import DETAIL_PREFIX, expect_rpc_error
from wf_defs import (CancellableWorkflow, CleanupActivities, EchoWorkflow, FailWorkflow,
                     WaitForeverWorkflow, event_name, event_types, events_of, history_events,
                     running_worker, uid, wait_for_event, wait_until)

ALREADY_STARTED = DETAIL_PREFIX + "WorkflowExecutionAlreadyStartedFailure"
WFT = ["WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted"]


# --------------------------------------------------------------------------------------
# cancel / terminate


async def test_cancel_runs_cleanup_activity(client):
    tq = uid("cancel-tq")
    acts = CleanupActivities()
    async with running_worker(client, tq, workflows=[CancellableWorkflow], activities=[acts.cleanup]):
        handle = await client.start_workflow(CancellableWorkflow.run, id=uid("cancel"), task_queue=tq)
        await wait_until(lambda: handle.query(CancellableWorkflow.is_waiting), what="workflow waiting")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as ei:
            await handle.result()
    assert isinstance(ei.value.cause, CancelledError), repr(ei.value.cause)
    assert acts.cleaned == [handle.id]
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.CANCELED
    assert desc.close_time is not None
    events = await history_events(handle)
    assert [event_name(e) for e in events] == [
        "WorkflowExecutionStarted", *WFT,
        "WorkflowExecutionCancelRequested", *WFT,
        "ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted", *WFT,
        "WorkflowExecutionCanceled"]
    scheduled = events_of(events, "ActivityTaskScheduled")[0].activity_task_scheduled_event_attributes
    assert scheduled.activity_type.name == "Cleanup"
    # Reference: RequestCancel on a closed workflow is accepted (no error) and
    # changes nothing.
    await handle.cancel()
    assert len(await history_events(handle)) == len(events)


async def test_terminate(client):
    tq = uid("term-tq")
    async with running_worker(client, tq, workflows=[WaitForeverWorkflow]):
        handle = await client.start_workflow(WaitForeverWorkflow.run, id=uid("term"), task_queue=tq)
        await wait_for_event(handle, "WorkflowTaskCompleted")
        await handle.terminate(7, reason="enough is enough")
        with pytest.raises(WorkflowFailureError) as ei:
            await handle.result()
    assert isinstance(ei.value.cause, TerminatedError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    events = await history_events(handle)
    assert [event_name(e) for e in events] == ["WorkflowExecutionStarted", *WFT, "WorkflowExecutionTerminated"]
    attrs = events[-1].workflow_execution_terminated_event_attributes
    assert attrs.reason == "enough is enough"
    assert len(attrs.details.payloads) == 1, "terminate details recorded"
    assert attrs.identity == client.identity
    # Terminating again: NOT_FOUND + NotFoundFailure ("workflow execution already completed").
    with pytest.raises(RPCError) as ei2:
        await handle.terminate(reason="again")
    assert ei2.value.status == RPCStatusCode.NOT_FOUND
    assert [d.type_url for d in ei2.value.grpc_status.details] == [DETAIL_PREFIX + "NotFoundFailure"]


async def test_terminate_defaults(client):
    """Raw TerminateWorkflowExecution with no reason/identity: the reference fills in
    reason "terminated by user via frontend" and identity "frontend-service"."""
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import TerminateWorkflowExecutionRequest

    handle = await client.start_workflow(WaitForeverWorkflow.run, id=uid("termdef"), task_queue=uid("termdef-tq"))
    await client.workflow_service.terminate_workflow_execution(TerminateWorkflowExecutionRequest(
        namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=handle.id)))
    events = await history_events(handle)
    assert [event_name(e) for e in events] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowExecutionTerminated"]
    attrs = events[-1].workflow_execution_terminated_event_attributes
    assert attrs.reason == "terminated by user via frontend"
    assert attrs.identity == "frontend-service"


async def test_cancel_twice_before_worker_runs(client):
    """Two cancel requests before any worker: one CancelRequested event, delivered
    with the first workflow task; the workflow (which does not catch it) is canceled."""
    tq = uid("cancel2-tq")
    handle = await client.start_workflow(WaitForeverWorkflow.run, id=uid("cancel2"), task_queue=tq)
    await handle.cancel()
    await handle.cancel()
    assert await event_types(handle) == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowExecutionCancelRequested"]
    async with running_worker(client, tq, workflows=[WaitForeverWorkflow]):
        with pytest.raises(WorkflowFailureError) as ei:
            await handle.result()
    assert isinstance(ei.value.cause, CancelledError)
    assert await event_types(handle) == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowExecutionCancelRequested",
        "WorkflowTaskStarted", "WorkflowTaskCompleted", "WorkflowExecutionCanceled"]


# --------------------------------------------------------------------------------------
# id reuse / conflict policies


async def test_start_running_id_again_fails(client):
    tq = uid("dup-tq")
    wid = uid("dup")
    first = await client.start_workflow(WaitForeverWorkflow.run, id=wid, task_queue=tq)
    try:
        with pytest.raises(WorkflowAlreadyStartedError) as ei:
            await client.start_workflow(WaitForeverWorkflow.run, id=wid, task_queue=tq)
        assert ei.value.workflow_id == wid
        assert ei.value.run_id == first.result_run_id

        # The raw gRPC error: ALREADY_EXISTS with the running run's id in the detail.
        req = StartWorkflowExecutionRequest(
            namespace=client.namespace, workflow_id=wid, workflow_type=WorkflowType(name="WaitForeverWorkflow"),
            task_queue=TaskQueue(name=tq), request_id=str(uuid.uuid4()), identity="wf-tests")
        err = await expect_rpc_error(client.workflow_service.start_workflow_execution(req),
                                     RPCStatusCode.ALREADY_EXISTS, ALREADY_STARTED)
        detail = WorkflowExecutionAlreadyStartedFailure()
        assert err.grpc_status.details[0].Unpack(detail)
        assert detail.run_id == first.result_run_id
        assert detail.start_request_id
        # Same request id again is idempotent: the same run, no error.
        same = StartWorkflowExecutionRequest()
        same.CopyFrom(req)
        same.request_id = detail.start_request_id
        resp = await client.workflow_service.start_workflow_execution(same)
        assert resp.run_id == first.result_run_id
    finally:
        await first.terminate("cleanup")


async def test_conflict_policy_use_existing(client):
    tq = uid("ue-tq")
    wid = uid("ue")
    first = await client.start_workflow(WaitForeverWorkflow.run, id=wid, task_queue=tq)
    second = await client.start_workflow(WaitForeverWorkflow.run, id=wid, task_queue=tq,
                                         id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    assert second.result_run_id == first.result_run_id
    assert (await second.describe()).status == WorkflowExecutionStatus.RUNNING
    assert (await event_types(first)).count("WorkflowExecutionStarted") == 1
    await first.terminate("cleanup")


async def test_conflict_policy_terminate_existing(client):
    tq = uid("te-tq")
    wid = uid("te")
    first = await client.start_workflow(WaitForeverWorkflow.run, id=wid, task_queue=tq)
    second = await client.start_workflow(WaitForeverWorkflow.run, id=wid, task_queue=tq,
                                         id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING)
    assert second.result_run_id != first.result_run_id
    old = client.get_workflow_handle(wid, run_id=first.result_run_id)
    assert (await old.describe()).status == WorkflowExecutionStatus.TERMINATED
    old_events = await history_events(old)
    assert event_name(old_events[-1]) == "WorkflowExecutionTerminated"
    assert old_events[-1].workflow_execution_terminated_event_attributes.reason  # reference gives a reason
    assert (await second.describe()).status == WorkflowExecutionStatus.RUNNING
    # Without a run id the handle follows the newest run.
    assert (await client.get_workflow_handle(wid).describe()).run_id == second.result_run_id
    await second.terminate("cleanup")


async def test_reuse_policy_reject_duplicate(client):
    tq = uid("rd-tq")
    wid = uid("rd")
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        h = await client.start_workflow(EchoWorkflow.run, "a", id=wid, task_queue=tq)
        assert await h.result() == "echo a"
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.start_workflow(EchoWorkflow.run, "b", id=wid, task_queue=tq,
                                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        # Default policy (ALLOW_DUPLICATE) starts a new run after completion.
        h2 = await client.start_workflow(EchoWorkflow.run, "c", id=wid, task_queue=tq)
        assert h2.result_run_id != h.result_run_id
        assert await h2.result() == "echo c"


async def test_reuse_policy_allow_duplicate_failed_only(client):
    tq = uid("adfo-tq")
    ok_id, failed_id = uid("adfo-ok"), uid("adfo-fail")
    async with running_worker(client, tq, workflows=[EchoWorkflow, FailWorkflow]):
        assert await (await client.start_workflow(EchoWorkflow.run, "x", id=ok_id, task_queue=tq)).result()
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.start_workflow(EchoWorkflow.run, "y", id=ok_id, task_queue=tq,
                                        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY)

        failed = await client.start_workflow(FailWorkflow.run, "nope", id=failed_id, task_queue=tq)
        with pytest.raises(WorkflowFailureError):
            await failed.result()
        again = await client.start_workflow(EchoWorkflow.run, "z", id=failed_id, task_queue=tq,
                                            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY)
        assert again.result_run_id != failed.result_run_id
        assert await again.result() == "echo z"


# --------------------------------------------------------------------------------------
# failure and workflow timeouts


async def test_workflow_failure(client):
    tq = uid("fail-tq")
    async with running_worker(client, tq, workflows=[FailWorkflow]):
        handle = await client.start_workflow(FailWorkflow.run, "order rejected", id=uid("fail"), task_queue=tq)
        with pytest.raises(WorkflowFailureError) as ei:
            await handle.result()
    cause = ei.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == "order rejected"
    assert cause.type == "OrderRejected"
    assert cause.non_retryable
    assert list(cause.details) == [{"why": "test"}]
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    events = await history_events(handle)
    assert [event_name(e) for e in events] == ["WorkflowExecutionStarted", *WFT, "WorkflowExecutionFailed"]
    attrs = events[-1].workflow_execution_failed_event_attributes
    assert attrs.failure.message == "order rejected"
    assert attrs.failure.application_failure_info.type == "OrderRejected"
    assert attrs.retry_state == RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
    assert attrs.workflow_task_completed_event_id == events[-2].event_id


@pytest.mark.parametrize("kind,expected_state", [
    ("execution", RetryState.RETRY_STATE_TIMEOUT),
    ("run", RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET),
])
async def test_workflow_timeouts(client, kind, expected_state):
    from datetime import timedelta

    tq = uid(f"wto-{kind}-tq")
    kwargs = {f"{kind}_timeout": timedelta(seconds=1)}
    async with running_worker(client, tq, workflows=[WaitForeverWorkflow]):
        handle = await client.start_workflow(WaitForeverWorkflow.run, id=uid(f"wto-{kind}"), task_queue=tq,
                                             **kwargs)
        with pytest.raises(WorkflowFailureError) as ei:
            await handle.result()
    cause = ei.value.cause
    assert isinstance(cause, TimeoutError), repr(cause)
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.TIMED_OUT
    events = await history_events(handle)
    assert [event_name(e) for e in events] == ["WorkflowExecutionStarted", *WFT, "WorkflowExecutionTimedOut"]
    attrs = events[-1].workflow_execution_timed_out_event_attributes
    assert attrs.retry_state == expected_state, RetryState.Name(attrs.retry_state)
    started = events[0].workflow_execution_started_event_attributes
    if kind == "execution":
        assert started.workflow_execution_timeout.ToSeconds() == 1
    else:
        assert started.workflow_run_timeout.ToSeconds() == 1
