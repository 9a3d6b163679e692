"""Signals (in a loop, buffered before a worker exists, signal-with-start) and queries
(while running, after completion)."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.converter import DataConverter

from wf_defs import (SignalSumWorkflow, event_name, event_types, events_of, history_events,
                     running_worker, uid, wait_until)


def signal_values(events) -> list[int]:
    conv = DataConverter.default.payload_converter
    out = []
    for e in events_of(events, "WorkflowExecutionSignaled"):
        attrs = e.workflow_execution_signaled_event_attributes
        assert attrs.signal_name == "add"
        out.append(conv.from_payloads(attrs.input.payloads, [int])[0])
    return out


async def test_signals_in_a_loop(client):
    tq = uid("sig-tq")
    values = [3, 5, 7, 11]
    async with running_worker(client, tq, workflows=[SignalSumWorkflow]):
        handle = await client.start_workflow(SignalSumWorkflow.run, len(values), id=uid("sig"), task_queue=tq)
        for i, v in enumerate(values):
            await handle.signal(SignalSumWorkflow.add, v)
            # Query while running: the worker has seen every signal sent so far.
            async def seen(n=i + 1):
                return await handle.query(SignalSumWorkflow.count) == n
            await wait_until(seen, what=f"{i + 1} signals processed")
            if i < len(values) - 1:
                assert await handle.query(SignalSumWorkflow.total) == sum(values[: i + 1])
                assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        assert await handle.result() == sum(values)

        events = await history_events(handle)
        assert signal_values(events) == values
        assert event_name(events[-1]) == "WorkflowExecutionCompleted"
        # Query after completion is answered (by replaying history on the worker).
        assert await handle.query(SignalSumWorkflow.total) == sum(values)
        assert await handle.query("count") == len(values)
        # An unknown query type is a query failure, not a hang.
        with pytest.raises(WorkflowQueryFailedError):
            await handle.query("no-such-query")


async def test_signals_buffered_before_worker_starts(client):
    """Signals sent while no worker polls are kept in history and delivered later."""
    tq = uid("sigbuf-tq")
    handle = await client.start_workflow(SignalSumWorkflow.run, 3, id=uid("sigbuf"), task_queue=tq)
    for v in (1, 2, 4):
        await handle.signal("add", v)
    names = await event_types(handle)
    assert names == ["WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowExecutionSignaled",
                     "WorkflowExecutionSignaled", "WorkflowExecutionSignaled"]
    async with running_worker(client, tq, workflows=[SignalSumWorkflow]):
        assert await handle.result() == 7
    events = await history_events(handle)
    assert signal_values(events) == [1, 2, 4]
    # All three signals were delivered in the first workflow task.
    assert [event_name(e) for e in events] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowExecutionSignaled",
        "WorkflowExecutionSignaled", "WorkflowExecutionSignaled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted", "WorkflowExecutionCompleted"]


async def test_signal_with_start(client):
    tq = uid("sws-tq")
    wid = uid("sws")
    # No worker yet: the history as written by signal-with-start itself.
    handle = await client.start_workflow(SignalSumWorkflow.run, 2, id=wid, task_queue=tq,
                                         start_signal="add", start_signal_args=[10])
    assert await event_types(handle) == [
        "WorkflowExecutionStarted", "WorkflowExecutionSignaled", "WorkflowTaskScheduled"]

    # Signal-with-start on the now running id signals the same run.
    again = await client.start_workflow(SignalSumWorkflow.run, 2, id=wid, task_queue=tq,
                                        start_signal="add", start_signal_args=[32])
    assert again.result_run_id == handle.result_run_id
    async with running_worker(client, tq, workflows=[SignalSumWorkflow]):
        assert await handle.result() == 42
    events = await history_events(handle)
    assert [event_name(e) for e in events[:4]] == [
        "WorkflowExecutionStarted", "WorkflowExecutionSignaled", "WorkflowTaskScheduled",
        "WorkflowExecutionSignaled"]
    assert signal_values(events) == [10, 32]
    assert len(events_of(events, "WorkflowExecutionStarted")) == 1


async def test_query_without_worker_does_not_complete_workflow(client):
    """The query is answered once a worker arrives; the workflow keeps running."""
    tq = uid("q-tq")
    handle = await client.start_workflow(SignalSumWorkflow.run, 1, id=uid("q"), task_queue=tq)
    async with running_worker(client, tq, workflows=[SignalSumWorkflow]):
        assert await handle.query(SignalSumWorkflow.total) == 0
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.signal(SignalSumWorkflow.add, 9)
        assert await handle.result() == 9
    # Queries leave nothing in history.
    assert "WorkflowExecutionSignaled" in await event_types(handle)
    assert not any("Query" in n for n in await event_types(handle))
