"""Durable timers: a plain 2 s sleep, a timer that fires while no worker runs (worker
restart), and (sundial only) a timer that survives a server restart."""

from __future__ import annotations

import time

import pytest
from temporalio.client import Client

from wf_defs import (SleepWorkflow, event_name, event_types, events_of, history_events,
                     running_worker, uid, wait_for_event)


async def test_timer_sleeps_two_seconds(client):
    tq = uid("timer-tq")
    async with running_worker(client, tq, workflows=[SleepWorkflow]):
        t0 = time.monotonic()
        handle = await client.start_workflow(SleepWorkflow.run, 2.0, id=uid("timer"), task_queue=tq)
        result = await handle.result()
        elapsed = time.monotonic() - t0
    assert elapsed >= 2.0, elapsed
    assert elapsed < 10, elapsed
    assert result.startswith("slept 2.")
    events = await history_events(handle)
    assert [event_name(e) for e in events] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        "TimerStarted", "TimerFired",
        "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted", "WorkflowExecutionCompleted"]
    started = events_of(events, "TimerStarted")[0]
    fired = events_of(events, "TimerFired")[0]
    assert started.timer_started_event_attributes.start_to_fire_timeout.ToMilliseconds() == 2000
    assert fired.timer_fired_event_attributes.started_event_id == started.event_id
    assert fired.timer_fired_event_attributes.timer_id == started.timer_started_event_attributes.timer_id
    gap = fired.event_time.ToDatetime() - started.event_time.ToDatetime()
    assert gap.total_seconds() >= 2.0, gap


async def test_timer_survives_worker_restart(client):
    tq = uid("timer-wr-tq")
    async with running_worker(client, tq, workflows=[SleepWorkflow]):
        handle = await client.start_workflow(SleepWorkflow.run, 2.0, id=uid("timer-wr"), task_queue=tq)
        await wait_for_event(handle, "TimerStarted")
    # Worker gone; the timer still fires on the server.
    await wait_for_event(handle, "TimerFired", timeout=15)
    names = await event_types(handle)
    assert names[-2:] == ["TimerFired", "WorkflowTaskScheduled"], names
    async with running_worker(client, tq, workflows=[SleepWorkflow]):
        assert (await handle.result()).startswith("slept ")
    names = await event_types(handle)
    assert names.count("TimerStarted") == 1 and names.count("TimerFired") == 1
    assert names[-1] == "WorkflowExecutionCompleted"


@pytest.mark.sundial_only
@pytest.mark.process
async def test_timer_survives_server_restart(start_dev, tmp_path):
    db = tmp_path / "timers.db"
    srv = start_dev(["--db-filename", str(db)])
    client = await Client.connect(srv.address)
    tq = uid("timer-sr-tq")
    wid = uid("timer-sr")
    async with running_worker(client, tq, workflows=[SleepWorkflow]):
        handle = await client.start_workflow(SleepWorkflow.run, 3.0, id=wid, task_queue=tq)
        run_id = handle.result_run_id
        await wait_for_event(handle, "TimerStarted")
    assert srv.stop() == 0, srv.diagnostics()

    srv2 = start_dev(["--db-filename", str(db)])
    client2 = await Client.connect(srv2.address)
    handle2 = client2.get_workflow_handle(wid, run_id=run_id)
    assert "TimerStarted" in await event_types(handle2)
    async with running_worker(client2, tq, workflows=[SleepWorkflow]):
        assert (await handle2.result()).startswith("slept ")
    names = await event_types(handle2)
    assert names.count("TimerStarted") == 1 and names.count("TimerFired") == 1
    assert names[-1] == "WorkflowExecutionCompleted"
    assert srv2.alive(), srv2.diagnostics()
