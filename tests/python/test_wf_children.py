"""Workflows acting on other workflows: child workflows (result, failure, id collision, parent
close policies) and signals and cancel requests to external workflows."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError, ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from wf_defs import event_name, history_events, running_worker, uid, wait_until


@workflow.defn
class ChildWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        if value == "fail":
            raise ApplicationError("child says no", non_retryable=True)
        return f"child got {value}"


@workflow.defn
class ParentWorkflow:
    @workflow.run
    async def run(self, value: str, child_id: str) -> str:
        try:
            return await workflow.execute_child_workflow(ChildWorkflow.run, value, id=child_id)
        except ChildWorkflowError as err:
            return f"child failed: {err.cause}"
        except WorkflowAlreadyStartedError:
            return "child id taken"


@workflow.defn
class WaitingChildWorkflow:
    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.released)
        return "released"

    @workflow.signal
    def release(self) -> None:
        self.released = True


@workflow.defn
class AbandoningParentWorkflow:
    @workflow.run
    async def run(self, child_id: str, policy: str) -> str:
        await workflow.start_child_workflow(WaitingChildWorkflow.run, id=child_id,
                                            parent_close_policy=ParentClosePolicy[policy])
        return "parent done"


@workflow.defn
class SignalSenderWorkflow:
    @workflow.run
    async def run(self, target: str) -> str:
        await workflow.get_external_workflow_handle(target).signal(WaitingChildWorkflow.release)
        return "sent"


@workflow.defn
class CancelSenderWorkflow:
    @workflow.run
    async def run(self, target: str) -> str:
        await workflow.get_external_workflow_handle(target).cancel()
        return "cancel sent"


WORKFLOWS = [ChildWorkflow, ParentWorkflow, WaitingChildWorkflow, AbandoningParentWorkflow,
             SignalSenderWorkflow, CancelSenderWorkflow]


async def test_child_result_and_history(client):
    tq = uid("child-tq")
    child_id = uid("child")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        parent = await client.start_workflow(ParentWorkflow.run, args=["x", child_id], id=uid("parent"), task_queue=tq)
        assert await parent.result() == "child got x"
    names = [event_name(e) for e in await history_events(parent)]
    for expected in ("StartChildWorkflowExecutionInitiated", "ChildWorkflowExecutionStarted",
                     "ChildWorkflowExecutionCompleted"):
        assert expected in names, names
    assert names.index("StartChildWorkflowExecutionInitiated") < names.index("ChildWorkflowExecutionStarted") \
        < names.index("ChildWorkflowExecutionCompleted")
    child_events = await history_events(client.get_workflow_handle(child_id))
    started = child_events[0].workflow_execution_started_event_attributes
    assert started.parent_workflow_execution.workflow_id == parent.id
    assert started.parent_workflow_execution.run_id == parent.first_execution_run_id
    assert started.root_workflow_execution.workflow_id == parent.id
    completed = [e for e in await history_events(parent) if event_name(e) == "ChildWorkflowExecutionCompleted"][0]
    attrs = completed.child_workflow_execution_completed_event_attributes
    started_evt = [e for e in await history_events(parent) if event_name(e) == "ChildWorkflowExecutionStarted"][0]
    assert attrs.started_event_id == started_evt.event_id
    assert attrs.workflow_execution.workflow_id == child_id


async def test_child_failure_reaches_parent(client):
    tq = uid("child-tq")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        parent = await client.start_workflow(ParentWorkflow.run, args=["fail", uid("child")], id=uid("parent"),
                                             task_queue=tq)
        result = await parent.result()
    assert result.startswith("child failed:"), result
    assert "child says no" in result
    assert "ChildWorkflowExecutionFailed" in [event_name(e) for e in await history_events(parent)]


async def test_child_id_collision(client):
    tq = uid("child-tq")
    taken = uid("taken")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        blocker = await client.start_workflow(WaitingChildWorkflow.run, id=taken, task_queue=tq)
        parent = await client.start_workflow(ParentWorkflow.run, args=["x", taken], id=uid("parent"), task_queue=tq)
        assert await parent.result() == "child id taken"
        await blocker.signal(WaitingChildWorkflow.release)
        await blocker.result()
    names = [event_name(e) for e in await history_events(parent)]
    assert "StartChildWorkflowExecutionFailed" in names, names


async def run_policy(client, policy: str) -> WorkflowExecutionStatus:
    tq = uid("policy-tq")
    child_id = uid("policy-child")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        parent = await client.start_workflow(AbandoningParentWorkflow.run, args=[child_id, policy], id=uid("parent"),
                                             task_queue=tq)
        assert await parent.result() == "parent done"
        child = client.get_workflow_handle(child_id)
        if policy == "ABANDON":
            await asyncio.sleep(1.0)
            status = (await child.describe()).status
            await child.signal(WaitingChildWorkflow.release)
            assert await child.result() == "released"
            return status

        async def closed():
            return (await child.describe()).status != WorkflowExecutionStatus.RUNNING
        await wait_until(closed, timeout=15, what=f"child closed by {policy}")
        return (await child.describe()).status


async def test_parent_close_policy_terminate(client):
    assert await run_policy(client, "TERMINATE") == WorkflowExecutionStatus.TERMINATED


async def test_parent_close_policy_request_cancel(client):
    assert await run_policy(client, "REQUEST_CANCEL") == WorkflowExecutionStatus.CANCELED


async def test_parent_close_policy_abandon(client):
    assert await run_policy(client, "ABANDON") == WorkflowExecutionStatus.RUNNING


async def test_signal_external_workflow(client):
    tq = uid("ext-tq")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        target = await client.start_workflow(WaitingChildWorkflow.run, id=uid("target"), task_queue=tq)
        sender = await client.start_workflow(SignalSenderWorkflow.run, target.id, id=uid("sender"), task_queue=tq)
        assert await sender.result() == "sent"
        assert await target.result() == "released"
    sender_names = [event_name(e) for e in await history_events(sender)]
    assert "SignalExternalWorkflowExecutionInitiated" in sender_names
    assert "ExternalWorkflowExecutionSignaled" in sender_names
    signaled = [e for e in await history_events(target) if event_name(e) == "WorkflowExecutionSignaled"][0]
    assert signaled.workflow_execution_signaled_event_attributes.external_workflow_execution.workflow_id == sender.id


async def test_signal_external_unknown_workflow_fails(client):
    tq = uid("ext-tq")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        sender = await client.start_workflow(SignalSenderWorkflow.run, uid("nobody"), id=uid("sender"), task_queue=tq)
        try:
            await sender.result()
            raise AssertionError("signalling a missing workflow must fail")
        except WorkflowFailureError:
            pass
    assert "SignalExternalWorkflowExecutionFailed" in [event_name(e) for e in await history_events(sender)]


async def test_cancel_external_workflow(client):
    tq = uid("ext-tq")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        target = await client.start_workflow(WaitingChildWorkflow.run, id=uid("target"), task_queue=tq)
        sender = await client.start_workflow(CancelSenderWorkflow.run, target.id, id=uid("sender"), task_queue=tq)
        assert await sender.result() == "cancel sent"

        async def canceled():
            return (await target.describe()).status == WorkflowExecutionStatus.CANCELED
        await wait_until(canceled, timeout=15, what="target canceled")
    names = [event_name(e) for e in await history_events(sender)]
    assert "RequestCancelExternalWorkflowExecutionInitiated" in names
    assert "ExternalWorkflowExecutionCancelRequested" in names
