"""Nothing the server acknowledged is lost: events that arrive while a workflow task is in flight
(activity results, fired timers, signals) are buffered, and the buffer is durable. Each test
acknowledges such an event, then makes the server drop its cached copy of the run (a rejected
duplicate request, or a restart) before the workflow task completes, and checks the event reached
history.

Driven with raw API calls so the interleaving is exact: a worker built on the SDK would not hold a
workflow task open on purpose."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import (Command, ScheduleActivityTaskCommandAttributes,
                                       StartTimerCommandAttributes)
from temporalio.api.common.v1 import ActivityType, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import CommandType, EventType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (GetWorkflowExecutionHistoryRequest,
                                               PollActivityTaskQueueRequest, PollWorkflowTaskQueueRequest,
                                               RespondActivityTaskCompletedRequest,
                                               RespondWorkflowTaskCompletedRequest,
                                               SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest,
                                               TerminateWorkflowExecutionRequest)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

pytestmark = pytest.mark.sundial_only

NS = "default"
POLL = timedelta(seconds=15)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Raw:
    """A hand-driven worker on one task queue."""

    def __init__(self, client: Client, queue: str):
        self.svc = client.workflow_service
        self.queue = queue

    async def start(self, workflow_id: str) -> str:
        r = await self.svc.start_workflow_execution(StartWorkflowExecutionRequest(
            namespace=NS, workflow_id=workflow_id, workflow_type=WorkflowType(name="Raw"),
            task_queue=TaskQueue(name=self.queue), request_id=uid("req"),
            workflow_task_timeout=Duration(seconds=60)))
        return r.run_id

    async def poll_workflow_task(self):
        task = await self.svc.poll_workflow_task_queue(PollWorkflowTaskQueueRequest(
            namespace=NS, task_queue=TaskQueue(name=self.queue), identity="raw"), timeout=POLL)
        assert task.task_token, "no workflow task within the poll"
        return task

    async def complete_workflow_task(self, task, commands=()):
        await self.svc.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest(
            namespace=NS, task_token=task.task_token, identity="raw", commands=list(commands)))

    async def poll_activity_task(self):
        task = await self.svc.poll_activity_task_queue(PollActivityTaskQueueRequest(
            namespace=NS, task_queue=TaskQueue(name=self.queue), identity="raw"), timeout=POLL)
        assert task.task_token, "no activity task within the poll"
        return task

    async def complete_activity(self, token: bytes, data: bytes = b'"done"'):
        from temporalio.api.common.v1 import Payload
        await self.svc.respond_activity_task_completed(RespondActivityTaskCompletedRequest(
            namespace=NS, task_token=token, identity="raw",
            result=Payloads(payloads=[Payload(metadata={"encoding": b"json/plain"}, data=data)])))

    async def signal(self, workflow_id: str, name: str = "poke"):
        await self.svc.signal_workflow_execution(SignalWorkflowExecutionRequest(
            namespace=NS, workflow_execution=WorkflowExecution(workflow_id=workflow_id), signal_name=name,
            identity="raw", request_id=uid("sig")))

    async def event_types(self, workflow_id: str) -> list[int]:
        r = await self.svc.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest(
            namespace=NS, execution=WorkflowExecution(workflow_id=workflow_id), maximum_page_size=1000))
        return [e.event_type for e in r.history.events]


def schedule_activity(activity_id: str, queue: str) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id=activity_id, activity_type=ActivityType(name="act"), task_queue=TaskQueue(name=queue),
            start_to_close_timeout=Duration(seconds=60)))


def start_timer(timer_id: str, seconds: int) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_START_TIMER,
        start_timer_command_attributes=StartTimerCommandAttributes(
            timer_id=timer_id, start_to_fire_timeout=Duration(seconds=seconds)))


async def stale_completion_is_rejected(raw: Raw, token: bytes):
    """Completing an activity twice fails; the failed transition drops the run's cached state."""
    with pytest.raises(RPCError) as err:
        await raw.complete_activity(token)
    assert err.value.status == RPCStatusCode.NOT_FOUND, err.value


async def test_activity_result_buffered_during_a_workflow_task_survives_eviction(start_dev):
    srv = start_dev()
    raw = Raw(await Client.connect(srv.address), uid("dur-q"))
    wid = uid("dur-act")
    await raw.start(wid)
    await raw.complete_workflow_task(await raw.poll_workflow_task(), [schedule_activity("a1", raw.queue)])
    activity = await raw.poll_activity_task()
    await raw.signal(wid)
    in_flight = await raw.poll_workflow_task()
    await raw.complete_activity(activity.task_token)            # acknowledged, buffered
    await stale_completion_is_rejected(raw, activity.task_token)
    await raw.complete_workflow_task(in_flight)
    events = await raw.event_types(wid)
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in events, events
    # The completion reopened a workflow task for the result: the workflow can act on it.
    assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, events
    follow_up = await raw.poll_workflow_task()
    assert any(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED for e in follow_up.history.events)


async def test_buffered_activity_result_and_signal_survive_a_restart(start_dev, tmp_path):
    db = tmp_path / "durable.db"
    srv = start_dev(["--db-filename", str(db)])
    raw = Raw(await Client.connect(srv.address), uid("dur-q"))
    wid = uid("dur-restart")
    await raw.start(wid)
    await raw.complete_workflow_task(await raw.poll_workflow_task(), [schedule_activity("a1", raw.queue)])
    activity = await raw.poll_activity_task()
    await raw.signal(wid)
    await raw.poll_workflow_task()                               # in flight when the server stops
    await raw.signal(wid, "late")                               # acknowledged, buffered
    await raw.complete_activity(activity.task_token)            # acknowledged, buffered
    srv.stop()

    srv = start_dev(["--db-filename", str(db)])
    raw = Raw(await Client.connect(srv.address), raw.queue)
    # The workflow task in flight died with the old process. Terminating the run writes its
    # buffered events before the close event (as Temporal does), so the history shows whether
    # they outlived the process.
    await raw.svc.terminate_workflow_execution(TerminateWorkflowExecutionRequest(
        namespace=NS, workflow_execution=WorkflowExecution(workflow_id=wid), reason="check"))
    events = await raw.event_types(wid)
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in events, events
    assert events.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == 2, events
    assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, events


async def test_timer_fired_during_a_workflow_task_survives_eviction(start_dev):
    srv = start_dev()
    raw = Raw(await Client.connect(srv.address), uid("dur-q"))
    wid = uid("dur-timer")
    await raw.start(wid)
    await raw.complete_workflow_task(await raw.poll_workflow_task(),
                                     [start_timer("t1", 1), schedule_activity("a1", raw.queue)])
    activity = await raw.poll_activity_task()
    await raw.complete_activity(activity.task_token)
    in_flight = await raw.poll_workflow_task()                  # carries the activity result
    await asyncio.sleep(2.5)                                    # the timer fires meanwhile: buffered
    await stale_completion_is_rejected(raw, activity.task_token)
    await raw.complete_workflow_task(in_flight)
    events = await raw.event_types(wid)
    assert EventType.EVENT_TYPE_TIMER_FIRED in events, events
    follow_up = await raw.poll_workflow_task()
    assert any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in follow_up.history.events)


async def test_a_panicking_timer_queue_is_restarted_and_no_timer_is_lost(start_dev):
    """The first pass of a shard's timer loop panics (a test hook); the supervisor reopens the
    shard from the database, and every timer still fires."""
    from wf_defs import SleepWorkflow, running_worker

    srv = start_dev(["--log-level", "info"], env={"SUNDIAL_PANIC_AT": "history.timer_loop"})
    client = await Client.connect(srv.address)
    queue = uid("dur-sleep")
    async with running_worker(client, queue, workflows=[SleepWorkflow]):
        handles = [await client.start_workflow(SleepWorkflow.run, 1.0, id=uid("sleep"), task_queue=queue)
                   for _ in range(5)]
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), timeout=30)
    slept = [float(r.removeprefix("slept ")) for r in results]
    assert all(1.0 <= s < 10 for s in slept), results
    assert srv.alive()
    log = srv.stderr()
    assert "panic point history.timer_loop reached" in log, log[-3000:]
    assert "reopening the shard" in log, log[-3000:]
