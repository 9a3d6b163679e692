"""Workflow updates: accepted and completed, rejected by a validator (nothing in history),
a handler that raises, start-update waiting for ACCEPTED, polling a finished update,
de-duplication by update id, updates to closed workflows, update-with-start, and the real
`temporal workflow update execute` CLI."""

from __future__ import annotations

import asyncio
import json

import pytest
from temporalio import workflow
from temporalio.client import (WithStartWorkflowOperation, WorkflowUpdateFailedError,
                               WorkflowUpdateStage)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from support import cli
from wf_defs import event_name, event_types, events_of, history_events, running_worker, uid, wait_for_event


@workflow.defn
class UpdateCounterWorkflow:
    def __init__(self) -> None:
        self.total = 0
        self.done = False
        self.released = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        # Let update handlers that are still running finish first.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.total

    @workflow.update
    async def add(self, n: int) -> int:
        self.total += n
        return self.total

    @add.validator
    def validate_add(self, n: int) -> None:
        if n < 0:
            raise ValueError(f"cannot add a negative number: {n}")

    @workflow.update
    async def explode(self, message: str) -> None:
        raise ApplicationError(message, type="UpdateExploded", non_retryable=True)

    @workflow.update
    async def add_when_released(self, n: int) -> int:
        await workflow.wait_condition(lambda: self.released)
        self.total += n
        return self.total

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.signal
    def finish(self) -> None:
        self.done = True


def _payload_value(payloads, typ=int):
    return DataConverter.default.payload_converter.from_payloads(payloads.payloads, [typ])[0]


async def _started(client, tq: str, prefix: str):
    handle = await client.start_workflow(UpdateCounterWorkflow.run, id=uid(prefix), task_queue=tq)
    await wait_for_event(handle, "WorkflowTaskCompleted")
    return handle


async def test_update_accepted_and_completed(client):
    tq = uid("upd-tq")
    async with running_worker(client, tq, workflows=[UpdateCounterWorkflow]):
        handle = await _started(client, tq, "upd-ok")
        assert await handle.execute_update(UpdateCounterWorkflow.add, 5, id="first") == 5
        assert await handle.execute_update(UpdateCounterWorkflow.add, 2, id="second") == 7
        await handle.signal(UpdateCounterWorkflow.finish)
        assert await handle.result() == 7

    events = await history_events(handle)
    names = [event_name(e) for e in events]
    assert names == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        # Each update: a (speculative, then written) workflow task, accepted and completed in it.
        "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        "WorkflowExecutionUpdateAccepted", "WorkflowExecutionUpdateCompleted",
        "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        "WorkflowExecutionUpdateAccepted", "WorkflowExecutionUpdateCompleted",
        "WorkflowExecutionSignaled", "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        "WorkflowExecutionCompleted",
    ]
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))
    accepted = events_of(events, "WorkflowExecutionUpdateAccepted")
    completed = events_of(events, "WorkflowExecutionUpdateCompleted")
    for upd_id, value, acc, comp in zip(["first", "second"], [5, 7], accepted, completed):
        a = acc.workflow_execution_update_accepted_event_attributes
        assert a.protocol_instance_id == upd_id
        assert a.accepted_request_message_id == f"{upd_id}/request"
        # Sequenced after the event before its workflow task's started event (scheduled).
        assert a.accepted_request_sequencing_event_id == acc.event_id - 3
        assert a.accepted_request.meta.update_id == upd_id
        assert a.accepted_request.input.name == "add"
        c = comp.workflow_execution_update_completed_event_attributes
        assert c.meta.update_id == upd_id
        assert c.accepted_event_id == acc.event_id
        assert _payload_value(c.outcome.success) == value


async def test_rejected_update_leaves_nothing_in_history(client):
    tq = uid("upd-rej-tq")
    async with running_worker(client, tq, workflows=[UpdateCounterWorkflow]):
        handle = await _started(client, tq, "upd-rej")
        before = [(e.event_id, event_name(e)) for e in await history_events(handle)]
        for attempt in range(2):
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await handle.execute_update(UpdateCounterWorkflow.add, -1, id=f"neg-{attempt}")
            assert isinstance(err.value.cause, ApplicationError)
            assert "cannot add a negative number" in str(err.value.cause)
            after = [(e.event_id, event_name(e)) for e in await history_events(handle)]
            assert after == before, "a rejected update must leave nothing in history"
        # The workflow goes on: an accepted update after the rejections.
        assert await handle.execute_update(UpdateCounterWorkflow.add, 4) == 4
        await handle.signal(UpdateCounterWorkflow.finish)
        assert await handle.result() == 4
    names = await event_types(handle)
    assert names.count("WorkflowExecutionUpdateAccepted") == 1
    assert names.count("WorkflowExecutionUpdateCompleted") == 1
    assert "WorkflowTaskFailed" not in names


async def test_update_handler_failure(client):
    tq = uid("upd-fail-tq")
    async with running_worker(client, tq, workflows=[UpdateCounterWorkflow]):
        handle = await _started(client, tq, "upd-fail")
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(UpdateCounterWorkflow.explode, "kaboom", id="boom")
        assert isinstance(err.value.cause, ApplicationError)
        assert err.value.cause.message == "kaboom"
        assert err.value.cause.type == "UpdateExploded"
        await handle.signal(UpdateCounterWorkflow.finish)
        assert await handle.result() == 0
    events = await history_events(handle)
    (acc,) = events_of(events, "WorkflowExecutionUpdateAccepted")
    (comp,) = events_of(events, "WorkflowExecutionUpdateCompleted")
    c = comp.workflow_execution_update_completed_event_attributes
    assert c.accepted_event_id == acc.event_id
    assert c.meta.update_id == "boom"
    assert c.outcome.failure.message == "kaboom"
    assert c.outcome.failure.application_failure_info.type == "UpdateExploded"


async def test_start_update_accepted_then_result_and_poll(client):
    tq = uid("upd-acc-tq")
    async with running_worker(client, tq, workflows=[UpdateCounterWorkflow]):
        handle = await _started(client, tq, "upd-acc")
        upd = await handle.start_update(UpdateCounterWorkflow.add_when_released, 3, id="held",
                                        wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        # Accepted, not completed: only the acceptance is in history.
        names = await event_types(handle)
        assert names.count("WorkflowExecutionUpdateAccepted") == 1
        assert "WorkflowExecutionUpdateCompleted" not in names
        await handle.signal(UpdateCounterWorkflow.release)
        assert await upd.result() == 3
        # The same update id again: the first update's result, nothing new in history.
        assert await handle.execute_update(UpdateCounterWorkflow.add_when_released, 3, id="held") == 3
        # A fresh handle polls the completed update (PollWorkflowExecutionUpdate).
        again = client.get_workflow_handle(handle.id).get_update_handle("held", result_type=int)
        assert await again.result() == 3
        await handle.signal(UpdateCounterWorkflow.finish)
        assert await handle.result() == 3
    names = await event_types(handle)
    assert names.count("WorkflowExecutionUpdateAccepted") == 1
    assert names.count("WorkflowExecutionUpdateCompleted") == 1
    # After the run closed, the update's outcome is still answered (from history).
    again = client.get_workflow_handle(handle.id).get_update_handle("held", result_type=int)
    assert await again.result() == 3


async def test_update_on_closed_workflow(client):
    tq = uid("upd-closed-tq")
    async with running_worker(client, tq, workflows=[UpdateCounterWorkflow]):
        handle = await _started(client, tq, "upd-closed")
        assert await handle.execute_update(UpdateCounterWorkflow.add, 1, id="before-close") == 1
        await handle.signal(UpdateCounterWorkflow.finish)
        assert await handle.result() == 1
        with pytest.raises(RPCError) as err:
            await handle.execute_update(UpdateCounterWorkflow.add, 1, id="after-close")
        assert err.value.status == RPCStatusCode.NOT_FOUND
        assert "workflow execution already completed" in err.value.message
        # A completed update of the closed run is still answered with its result.
        assert await handle.execute_update(UpdateCounterWorkflow.add, 1, id="before-close") == 1
    # An unknown workflow: NOT_FOUND too.
    missing = client.get_workflow_handle(uid("no-such-workflow"))
    with pytest.raises(RPCError) as err:
        await missing.execute_update(UpdateCounterWorkflow.add, 1)
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_update_with_start(client):
    tq = uid("upd-ws-tq")
    wid = uid("upd-ws")
    async with running_worker(client, tq, workflows=[UpdateCounterWorkflow]):
        for n, expected in ((2, 2), (5, 7)):
            op = WithStartWorkflowOperation(UpdateCounterWorkflow.run, id=wid, task_queue=tq,
                                            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
            assert await client.execute_update_with_start_workflow(
                UpdateCounterWorkflow.add, n, start_workflow_operation=op) == expected
            handle = await op.workflow_handle()
        await handle.signal(UpdateCounterWorkflow.finish)
        assert await handle.result() == 7
    names = await event_types(handle)
    assert names.count("WorkflowExecutionStarted") == 1
    assert names.count("WorkflowExecutionUpdateCompleted") == 2


async def test_update_with_start_attaches_to_a_known_update_whatever_the_policies(client):
    """An update id the workflow id's current run already knows is attached to, even with
    conflict policy FAIL and reuse policy REJECT_DUPLICATE: while the run runs and after it
    closed (a completed update's outcome stays)."""
    tq, wid, update_id = uid("upd-ws-tq"), uid("upd-ws-known"), uid("upd")

    def op():
        return WithStartWorkflowOperation(UpdateCounterWorkflow.run, id=wid, task_queue=tq,
                                          id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                                          id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    async with running_worker(client, tq, workflows=[UpdateCounterWorkflow]):
        first = op()
        assert await client.execute_update_with_start_workflow(
            UpdateCounterWorkflow.add, 4, id=update_id, start_workflow_operation=first) == 4
        again = op()
        assert await client.execute_update_with_start_workflow(
            UpdateCounterWorkflow.add, 4, id=update_id, start_workflow_operation=again) == 4
        handle = await first.workflow_handle()
        assert (await again.workflow_handle()).first_execution_run_id == handle.first_execution_run_id
        await handle.signal(UpdateCounterWorkflow.finish)
        assert await handle.result() == 4
        closed = op()
        assert await client.execute_update_with_start_workflow(
            UpdateCounterWorkflow.add, 4, id=update_id, start_workflow_operation=closed) == 4
        # Another update id is a new start, which the reuse policy refuses.
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.execute_update_with_start_workflow(
                UpdateCounterWorkflow.add, 1, id=uid("upd"), start_workflow_operation=op())
    assert (await event_types(handle)).count("WorkflowExecutionUpdateCompleted") == 1


@workflow.defn
class ReturnsAtOnceWorkflow:
    """Completes in its first workflow task; an update can only reach it in that task."""

    @workflow.run
    async def run(self) -> str:
        return "done"

    @workflow.update
    def hello(self, name: str) -> str:
        return f"hello {name}"


async def test_update_with_start_admits_the_update_with_the_start(client):
    """The update is part of the new run's first workflow task: a workflow that ends in that
    task still answers it (sent after the start, it would find the run closed)."""
    tq = uid("upd-ws-tq")
    async with running_worker(client, tq, workflows=[ReturnsAtOnceWorkflow]):
        for _ in range(3):
            op = WithStartWorkflowOperation(ReturnsAtOnceWorkflow.run, id=uid("upd-ws-atomic"), task_queue=tq,
                                            id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
            assert await client.execute_update_with_start_workflow(
                ReturnsAtOnceWorkflow.hello, "there", start_workflow_operation=op) == "hello there"
            assert await (await op.workflow_handle()).result() == "done"


async def test_cli_update_execute(client, server):
    tq = uid("upd-cli-tq")
    async with running_worker(client, tq, workflows=[UpdateCounterWorkflow]):
        handle = await _started(client, tq, "upd-cli")
        r = await asyncio.to_thread(cli, server.address, "workflow", "update", "execute", "--name", "add",
                                    "-w", handle.id, "-i", "6", "--update-id", "from-cli", "-o", "json")
        out = json.loads(r.stdout)
        assert out["updateId"] == "from-cli"
        assert out["result"] == 6
        # A rejection is reported as a failure by the CLI.
        r = await asyncio.to_thread(cli, server.address, "workflow", "update", "execute", "--name", "add",
                                    "-w", handle.id, "-i", "-3", check=False)
        assert r.returncode != 0
        assert "cannot add a negative number" in (r.stdout + r.stderr)
        await handle.signal(UpdateCounterWorkflow.finish)
        assert await handle.result() == 6
    names = await event_types(handle)
    assert names.count("WorkflowExecutionUpdateCompleted") == 1


async def test_namespace_advertises_updates(client):
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    resp = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    assert resp.namespace_info.capabilities.sync_update
    assert resp.namespace_info.capabilities.async_update
