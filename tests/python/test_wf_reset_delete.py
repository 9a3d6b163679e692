"""ResetWorkflowExecution and DeleteWorkflowExecution, driven through the real `temporal`
CLI and the SDK's raw workflow service.

Reference behaviour (temporal server start-dev 1.32 / CLI 1.9.1) asserted here:

reset to workflow-task-finish event N (N = a WorkflowTaskCompleted, or the
--type FirstWorkflowTask / LastWorkflowTask shortcuts that resolve to one):
  * a new run is created; its history is a copy of the base run's events 1..N-1
    followed, at event N, by WorkflowTaskFailed{cause=RESET_WORKFLOW,
    scheduled/started_event_id = the task's, base_run_id, new_run_id,
    identity="history-service", failure.message=reason,
    failure.reset_workflow_failure_info set}; then every WorkflowExecutionSignaled of
    the base run after N, in order (input, identity and request_id kept) -- unless
    signals are excluded from re-application; then WorkflowTaskScheduled.
  * the new run's WorkflowExecutionStarted is the base run's (same
    original_execution_run_id / first_execution_run_id = base run id).
  * a RUNNING base run is terminated: WorkflowExecutionTerminated{reason,
    identity="history-resetter"}; a closed base run is left untouched.
  * the CLI prefixes the reason with "<os user>: "; the raw API stores it as given.
  * N <= 1 or N > last event id -> INVALID_ARGUMENT "Workflow task finish ID must be
    > 1 && <= workflow last event ID."; N not at a workflow-task boundary (e.g. the
    WorkflowTaskScheduled event 2) -> INVALID_ARGUMENT; unknown workflow id ->
    NOT_FOUND (NotFoundFailure).

delete:
  * closed run: deleted asynchronously (describe keeps answering for 3-35 s on the
    reference start-dev), then describe / history -> NOT_FOUND and the run leaves visibility.
  * running run: terminated and deleted.
  * unknown workflow id, unknown run id, deleting twice -> NOT_FOUND (NotFoundFailure).
  * the workflow id can be started again afterwards.
"""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import ResetReapplyExcludeType, WorkflowTaskFailedCause
from temporalio.api.workflowservice.v1 import (DeleteWorkflowExecutionRequest,
                                               ResetWorkflowExecutionRequest)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from support import DETAIL_PREFIX, cli, expect_rpc_error
from wf_defs import (EchoWorkflow, WaitForeverWorkflow, event_name, events_of, history_events,
                     running_worker, uid, wait_for_event, wait_until)

NOT_FOUND_DETAIL = DETAIL_PREFIX + "NotFoundFailure"
BAD_FINISH_ID = "Workflow task finish ID must be > 1 && <= workflow last event ID."
# Deletion of a closed run is asynchronous: the reference waits until the run's close
# visibility task is acked, measured at 3 to 35 s on start-dev.
DELETE_TIMEOUT = 90.0


@workflow.defn(name="TwoSignalsWorkflow")
class TwoSignalsWorkflow:
    def __init__(self) -> None:
        self.got: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.got) >= 2)
        return self.got

    @workflow.signal(name="sig")
    def sig(self, value: str) -> None:
        self.got.append(value)


async def acli(address: str, *args: str, check: bool = True):
    return await asyncio.to_thread(cli, address, *args, check=check)


def signal_values(events) -> list[str]:
    conv = DataConverter.default.payload_converter
    return [conv.from_payloads(e.workflow_execution_signaled_event_attributes.input.payloads, [str])[0]
            for e in events_of(events, "WorkflowExecutionSignaled")]


async def count_workflow_tasks_completed(handle) -> int:
    return len(events_of(await history_events(handle), "WorkflowTaskCompleted"))


async def start_with_signal_a(client: Client, tq: str):
    """Start TwoSignalsWorkflow and deliver signal A in a second workflow task, so the
    base history is: Started, WTScheduled, WTStarted, WTCompleted(4), Signaled A(5),
    WTScheduled, WTStarted, WTCompleted(8) -- the run then waits for a second signal."""
    handle = await client.start_workflow(TwoSignalsWorkflow.run, id=uid("reset"), task_queue=tq)
    await wait_for_event(handle, "WorkflowTaskCompleted")
    await handle.signal(TwoSignalsWorkflow.sig, "A")

    async def two_tasks() -> bool:
        return await count_workflow_tasks_completed(handle) >= 2
    await wait_until(two_tasks, what="signal A processed")
    assert [event_name(e) for e in await history_events(handle)] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted", "WorkflowExecutionSignaled", "WorkflowTaskScheduled",
        "WorkflowTaskStarted", "WorkflowTaskCompleted"]
    return handle


async def finish_with_signal_b(handle) -> list:
    await handle.signal(TwoSignalsWorkflow.sig, "B")
    assert await handle.result() == ["A", "B"]
    events = await history_events(handle)
    assert [event_name(e) for e in events] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted", "WorkflowExecutionSignaled", "WorkflowTaskScheduled",
        "WorkflowTaskStarted", "WorkflowTaskCompleted", "WorkflowExecutionSignaled",
        "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        "WorkflowExecutionCompleted"]
    return events


async def new_run_after_reset(client: Client, wid: str, base_run_id: str):
    desc = await client.get_workflow_handle(wid).describe()
    assert desc.run_id != base_run_id, "reset did not create a new run"
    return client.get_workflow_handle(wid, run_id=desc.run_id)


def assert_reset_failed_event(event, *, scheduled: int, started: int, base_run_id: str,
                              new_run_id: str, reason_suffix: str, exact_reason: bool = False) -> None:
    assert event_name(event) == "WorkflowTaskFailed"
    attrs = event.workflow_task_failed_event_attributes
    assert attrs.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
    assert attrs.scheduled_event_id == scheduled
    assert attrs.started_event_id == started
    assert attrs.base_run_id == base_run_id
    assert attrs.new_run_id == new_run_id
    assert attrs.identity == "history-service"
    assert attrs.failure.HasField("reset_workflow_failure_info")
    if exact_reason:
        assert attrs.failure.message == reason_suffix
    else:
        # The CLI sends "<os user>: <reason>".
        assert attrs.failure.message.endswith(": " + reason_suffix), attrs.failure.message


def assert_started_copied(new_events, base_events, base_run_id: str) -> None:
    new_started = new_events[0].workflow_execution_started_event_attributes
    base_started = base_events[0].workflow_execution_started_event_attributes
    assert new_started.workflow_type.name == base_started.workflow_type.name
    assert new_started.task_queue.name == base_started.task_queue.name
    assert new_started.original_execution_run_id == base_run_id
    assert new_started.first_execution_run_id == base_run_id


def assert_signals_reapplied(reapplied, originals) -> None:
    assert len(reapplied) == len(originals)
    for new, old in zip(reapplied, originals):
        n = new.workflow_execution_signaled_event_attributes
        o = old.workflow_execution_signaled_event_attributes
        assert n.signal_name == o.signal_name
        assert n.input == o.input
        assert n.identity == o.identity
        assert n.request_id == o.request_id


# --------------------------------------------------------------------------------------
# reset


async def test_cli_reset_completed_workflow_to_first_workflow_task_completed(client, server):
    tq = uid("reset-tq")
    async with running_worker(client, tq, workflows=[TwoSignalsWorkflow]):
        base = await start_with_signal_a(client, tq)
        wid, base_run = base.id, base.first_execution_run_id
        base_events = await finish_with_signal_b(base)
        first_wtc = events_of(base_events, "WorkflowTaskCompleted")[0].event_id
        assert first_wtc == 4

        r = await acli(server.address, "workflow", "reset", "--workflow-id", wid,
                       "--event-id", str(first_wtc), "--reason", "redo from start")
        assert f"Resetting workflow {wid} to event ID {first_wtc}" in r.stdout

        new = await new_run_after_reset(client, wid, base_run)
        # Signals A and B (both after the reset point) are re-applied: the new run
        # completes with both without any new signal.
        assert await new.result() == ["A", "B"]

    new_events = await history_events(new)
    assert [event_name(e) for e in new_events] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskFailed", "WorkflowExecutionSignaled", "WorkflowExecutionSignaled",
        "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        "WorkflowExecutionCompleted"]
    assert [e.event_id for e in new_events] == list(range(1, 11))
    assert_reset_failed_event(new_events[3], scheduled=2, started=3, base_run_id=base_run,
                              new_run_id=new.run_id, reason_suffix="redo from start")
    assert_started_copied(new_events, base_events, base_run)
    assert signal_values(new_events) == ["A", "B"]
    assert_signals_reapplied(events_of(new_events, "WorkflowExecutionSignaled"),
                             events_of(base_events, "WorkflowExecutionSignaled"))

    # The closed base run is untouched: still COMPLETED with the same history.
    old = client.get_workflow_handle(wid, run_id=base_run)
    assert (await old.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert [event_name(e) for e in await history_events(old)] == [event_name(e) for e in base_events]
    assert (await new.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_cli_reset_running_workflow_last_workflow_task(client, server):
    tq = uid("reset-tq")
    async with running_worker(client, tq, workflows=[TwoSignalsWorkflow]):
        base = await start_with_signal_a(client, tq)
        wid, base_run = base.id, base.first_execution_run_id
        base_events = await history_events(base)

        r = await acli(server.address, "workflow", "reset", "--workflow-id", wid,
                       "--type", "LastWorkflowTask", "--reason", "last task")
        assert f"Resetting workflow {wid} to event ID 8" in r.stdout

        new = await new_run_after_reset(client, wid, base_run)
        old = client.get_workflow_handle(wid, run_id=base_run)
        assert (await old.describe()).status == WorkflowExecutionStatus.TERMINATED
        # Signal A was before the reset point: it is in the copied prefix, not re-applied.
        await wait_for_event(new, "WorkflowTaskCompleted")
        await new.signal(TwoSignalsWorkflow.sig, "C")
        assert await new.result() == ["A", "C"]

    old_events = await history_events(old)
    assert [event_name(e) for e in old_events] == [event_name(e) for e in base_events] + [
        "WorkflowExecutionTerminated"]
    term = old_events[-1].workflow_execution_terminated_event_attributes
    assert term.reason.endswith(": last task"), term.reason
    assert term.identity == "history-resetter"

    new_events = await history_events(new)
    names = [event_name(e) for e in new_events]
    assert names == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted", "WorkflowExecutionSignaled", "WorkflowTaskScheduled",
        "WorkflowTaskStarted", "WorkflowTaskFailed", "WorkflowTaskScheduled",
        "WorkflowTaskStarted", "WorkflowTaskCompleted", "WorkflowExecutionSignaled",
        "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        "WorkflowExecutionCompleted"]
    assert [e.event_id for e in new_events] == list(range(1, len(names) + 1))
    # The copied prefix keeps the base run's event ids and payloads.
    for n, o in zip(new_events[:7], base_events[:7]):
        assert (n.event_id, n.event_type) == (o.event_id, o.event_type)
    assert_signals_reapplied(new_events[4:5], base_events[4:5])
    assert_reset_failed_event(new_events[7], scheduled=6, started=7, base_run_id=base_run,
                              new_run_id=new.run_id, reason_suffix="last task")
    assert_started_copied(new_events, base_events, base_run)
    assert signal_values(new_events) == ["A", "C"]


async def test_cli_reset_running_workflow_first_workflow_task(client, server):
    tq = uid("reset-tq")
    async with running_worker(client, tq, workflows=[TwoSignalsWorkflow]):
        base = await start_with_signal_a(client, tq)
        wid, base_run = base.id, base.first_execution_run_id
        base_events = await history_events(base)

        r = await acli(server.address, "workflow", "reset", "--workflow-id", wid,
                       "--type", "FirstWorkflowTask", "--reason", "first task")
        assert f"Resetting workflow {wid} to event ID 4" in r.stdout

        new = await new_run_after_reset(client, wid, base_run)
        old = client.get_workflow_handle(wid, run_id=base_run)
        assert (await old.describe()).status == WorkflowExecutionStatus.TERMINATED
        await wait_for_event(new, "WorkflowTaskCompleted")
        # A is re-applied; B is new.
        await new.signal(TwoSignalsWorkflow.sig, "B")
        assert await new.result() == ["A", "B"]

    new_events = await history_events(new)
    assert [event_name(e) for e in new_events] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskFailed", "WorkflowExecutionSignaled", "WorkflowTaskScheduled",
        "WorkflowTaskStarted", "WorkflowTaskCompleted", "WorkflowExecutionSignaled",
        "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        "WorkflowExecutionCompleted"]
    assert_reset_failed_event(new_events[3], scheduled=2, started=3, base_run_id=base_run,
                              new_run_id=new.run_id, reason_suffix="first task")
    assert_signals_reapplied(new_events[4:5], events_of(base_events, "WorkflowExecutionSignaled"))
    old_events = await history_events(old)
    assert event_name(old_events[-1]) == "WorkflowExecutionTerminated"
    assert old_events[-1].workflow_execution_terminated_event_attributes.identity == "history-resetter"


async def test_raw_reset_returns_new_run_and_keeps_reason(client):
    tq = uid("reset-tq")
    async with running_worker(client, tq, workflows=[TwoSignalsWorkflow]):
        base = await start_with_signal_a(client, tq)
        wid, base_run = base.id, base.first_execution_run_id
        resp = await client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=wid, run_id=base_run),
            reason="raw reason", workflow_task_finish_event_id=4, request_id=str(uuid.uuid4())))
        assert resp.run_id and resp.run_id != base_run
        assert (await client.get_workflow_handle(wid).describe()).run_id == resp.run_id
        new = client.get_workflow_handle(wid, run_id=resp.run_id)
        await wait_for_event(new, "WorkflowTaskCompleted")
        await new.signal(TwoSignalsWorkflow.sig, "B")
        assert await new.result() == ["A", "B"]
    new_events = await history_events(new)
    assert_reset_failed_event(new_events[3], scheduled=2, started=3, base_run_id=base_run,
                              new_run_id=resp.run_id, reason_suffix="raw reason", exact_reason=True)
    old_events = await history_events(client.get_workflow_handle(wid, run_id=base_run))
    term = old_events[-1].workflow_execution_terminated_event_attributes
    assert event_name(old_events[-1]) == "WorkflowExecutionTerminated"
    assert term.reason == "raw reason"


async def test_reset_excluding_signals_does_not_reapply_them(client, server):
    tq = uid("reset-tq")
    async with running_worker(client, tq, workflows=[TwoSignalsWorkflow]):
        base = await start_with_signal_a(client, tq)
        wid, base_run = base.id, base.first_execution_run_id
        await acli(server.address, "workflow", "reset", "--workflow-id", wid, "--event-id", "4",
                   "--reason", "no signals", "--reapply-exclude", "Signal")
        new = await new_run_after_reset(client, wid, base_run)
        await wait_for_event(new, "WorkflowTaskCompleted")
        new_events = await history_events(new)
        assert [event_name(e) for e in new_events] == [
            "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
            "WorkflowTaskFailed", "WorkflowTaskScheduled", "WorkflowTaskStarted",
            "WorkflowTaskCompleted"]
        # Same result via the raw request field on a second reset of the new run.
        resp = await client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
            namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=wid),
            reason="raw no signals", workflow_task_finish_event_id=4, request_id=str(uuid.uuid4()),
            reset_reapply_exclude_types=[ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL]))
        newer = client.get_workflow_handle(wid, run_id=resp.run_id)
        await wait_for_event(newer, "WorkflowTaskCompleted")
        assert signal_values(await history_events(newer)) == []
        await newer.signal(TwoSignalsWorkflow.sig, "X")
        await newer.signal(TwoSignalsWorkflow.sig, "Y")
        assert await newer.result() == ["X", "Y"]
    assert (await new.describe()).status == WorkflowExecutionStatus.TERMINATED
    newer_started = (await history_events(newer))[0].workflow_execution_started_event_attributes
    assert newer_started.first_execution_run_id == base_run


async def test_reset_invalid_event_ids(client, server):
    tq = uid("reset-tq")
    async with running_worker(client, tq, workflows=[TwoSignalsWorkflow]):
        base = await start_with_signal_a(client, tq)
        wid, base_run = base.id, base.first_execution_run_id

        def request(event_id: int, workflow_id: str = wid) -> ResetWorkflowExecutionRequest:
            return ResetWorkflowExecutionRequest(
                namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id),
                reason="bad", workflow_task_finish_event_id=event_id, request_id=str(uuid.uuid4()))

        for event_id in (999, 9, 1, 0):
            err = await expect_rpc_error(client.workflow_service.reset_workflow_execution(request(event_id)),
                                         RPCStatusCode.INVALID_ARGUMENT)
            assert err.message == BAD_FINISH_ID, (event_id, err.message)
        # Event 2 is a WorkflowTaskScheduled: not the end of a workflow task.
        await expect_rpc_error(client.workflow_service.reset_workflow_execution(request(2)),
                               RPCStatusCode.INVALID_ARGUMENT)
        await expect_rpc_error(
            client.workflow_service.reset_workflow_execution(request(4, uid("no-such-wf"))),
            RPCStatusCode.NOT_FOUND, NOT_FOUND_DETAIL)

        r = await acli(server.address, "workflow", "reset", "--workflow-id", wid, "--event-id", "999",
                       "--reason", "bad", check=False)
        assert r.returncode != 0
        assert BAD_FINISH_ID in r.stderr, r.stderr
        missing = uid("no-such-wf")
        for how in (["--event-id", "4"], ["--type", "FirstWorkflowTask"]):
            r = await acli(server.address, "workflow", "reset", "--workflow-id", missing, *how,
                           "--reason", "bad", check=False)
            assert r.returncode != 0
            assert "not found" in r.stderr.lower(), r.stderr

        # Nothing happened to the workflow: same run, still running, history unchanged.
        desc = await client.get_workflow_handle(wid).describe()
        assert desc.run_id == base_run
        assert desc.status == WorkflowExecutionStatus.RUNNING
        assert await count_workflow_tasks_completed(base) == 2
        assert len(await history_events(base)) == 8
        await base.signal(TwoSignalsWorkflow.sig, "B")
        assert await base.result() == ["A", "B"]


# --------------------------------------------------------------------------------------
# delete


async def describe_not_found(client: Client, wid: str, run_id: str | None = None) -> bool:
    try:
        await client.get_workflow_handle(wid, run_id=run_id).describe()
        return False
    except RPCError as e:
        assert e.status == RPCStatusCode.NOT_FOUND, f"{e.status!r}: {e.message}"
        return True


async def listed(client: Client, wid: str) -> bool:
    return any([w.id == wid async for w in client.list_workflows(f"WorkflowId = '{wid}'")])


async def test_cli_delete_completed_workflow(client, server):
    tq = uid("del-tq")
    wid = uid("del")
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        handle = await client.start_workflow(EchoWorkflow.run, "x", id=wid, task_queue=tq)
        assert await handle.result() == "echo x"
    await wait_until(lambda: listed(client, wid), what="completed run visible")

    r = await acli(server.address, "workflow", "delete", "--yes", "--workflow-id", wid)
    assert "Delete workflow succeeded" in r.stdout

    await wait_until(lambda: describe_not_found(client, wid), timeout=DELETE_TIMEOUT,
                     interval=0.5, what="describe NOT_FOUND after delete")
    err = await expect_rpc_error(client.get_workflow_handle(wid, run_id=handle.first_execution_run_id)
                                 .describe(), RPCStatusCode.NOT_FOUND, NOT_FOUND_DETAIL)
    assert wid in err.message
    await expect_rpc_error(handle.fetch_history(), RPCStatusCode.NOT_FOUND)

    async def gone() -> bool:
        return not await listed(client, wid) and \
            wid not in [w.id async for w in client.list_workflows()]
    await wait_until(gone, timeout=DELETE_TIMEOUT, interval=0.5, what="run gone from visibility")

    # Deleting again: NOT_FOUND (the CLI exits non-zero).
    r = await acli(server.address, "workflow", "delete", "--yes", "--workflow-id", wid, check=False)
    assert r.returncode != 0
    assert "not found" in r.stderr.lower(), r.stderr

    # The id is free again.
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        again = await client.start_workflow(EchoWorkflow.run, "y", id=wid, task_queue=tq)
        assert await again.result() == "echo y"
    assert again.first_execution_run_id != handle.first_execution_run_id
    assert [event_name(e) for e in await history_events(client.get_workflow_handle(wid))] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted", "WorkflowExecutionCompleted"]


async def test_cli_delete_running_workflow(client, server):
    tq = uid("del-tq")
    wid = uid("del-run")
    async with running_worker(client, tq, workflows=[WaitForeverWorkflow]):
        handle = await client.start_workflow(WaitForeverWorkflow.run, id=wid, task_queue=tq)
        await wait_for_event(handle, "WorkflowTaskCompleted")
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

        r = await acli(server.address, "workflow", "delete", "--yes", "--workflow-id", wid)
        assert "Delete workflow succeeded" in r.stdout
        await wait_until(lambda: describe_not_found(client, wid), timeout=DELETE_TIMEOUT,
                         interval=0.5, what="running workflow deleted")
        # Waiting for the result of the deleted run fails with NOT_FOUND (no hang).
        err = await expect_rpc_error(asyncio.wait_for(handle.result(), 30), RPCStatusCode.NOT_FOUND)
        assert wid in err.message

    await wait_until(lambda: _not_listed(client, wid), timeout=DELETE_TIMEOUT, interval=0.5,
                     what="deleted running run gone from visibility")
    # It was terminated, not left running: signalling the old run fails.
    await expect_rpc_error(client.get_workflow_handle(wid, run_id=handle.first_execution_run_id)
                           .signal("anything"), RPCStatusCode.NOT_FOUND)


async def _not_listed(client: Client, wid: str) -> bool:
    return not await listed(client, wid)


async def test_delete_unknown_workflow_and_run(client, server):
    missing = uid("no-such-wf")
    r = await acli(server.address, "workflow", "delete", "--yes", "--workflow-id", missing, check=False)
    assert r.returncode != 0
    assert "not found" in r.stderr.lower(), r.stderr
    err = await expect_rpc_error(client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(namespace=client.namespace,
                                       workflow_execution=WorkflowExecution(workflow_id=missing))),
        RPCStatusCode.NOT_FOUND, NOT_FOUND_DETAIL)
    assert missing in err.message

    # Existing workflow id, unknown run id: NOT_FOUND and the real run is untouched.
    tq = uid("del-tq")
    wid = uid("del-run-id")
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        handle = await client.start_workflow(EchoWorkflow.run, "z", id=wid, task_queue=tq)
        await handle.result()
    await expect_rpc_error(client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=wid, run_id=str(uuid.uuid4())))),
        RPCStatusCode.NOT_FOUND, NOT_FOUND_DETAIL)
    await asyncio.sleep(1.0)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

    # Deleting by explicit run id works.
    await client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=wid, run_id=handle.first_execution_run_id)))
    await wait_until(lambda: describe_not_found(client, wid), timeout=DELETE_TIMEOUT, interval=0.5,
                     what="deleted by run id")
