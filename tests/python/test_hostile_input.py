"""Hostile durations, cron schedules, commands and payloads: every one gets a clean
INVALID_ARGUMENT (or, from a workflow task, a failed task with Temporal's cause), nothing
panics, and no far-away deadline keeps another workflow's timer from firing.

Temporal's rules matched here: durations are validated and capped at 100 years
(`timestamp.ValidateAndCapProtoDuration`), cron schedules are robfig/cron's
(`backoff.ValidateSchedule`), command attributes are checked by history's
`CommandAttrValidator`, and payloads over `limit.blobSize.error` are refused at start and
signal ("Blob data size exceeds limit.") and turn an activity completion into a failure.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload, Payloads, WorkflowType
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.service import RPCStatusCode

from support import assert_alive, expect_rpc_error
from wf_defs import EchoWorkflow, events_of, history_events, running_worker, uid, wait_until

# Temporal's cap for any duration (100 years of 365 days).
HUNDRED_YEARS = 100 * 365 * 24 * 3600


@pytest.fixture
async def client(server):
    return await Client.connect(server.address)


def raw_start(namespace: str, wf_id: str, tq: str, **kw) -> StartWorkflowExecutionRequest:
    return StartWorkflowExecutionRequest(
        namespace=namespace, workflow_id=wf_id, workflow_type=WorkflowType(name="NobodyRunsThis"),
        task_queue=TaskQueue(name=tq), request_id=uid("req"), identity="hostile-test", **kw)


# --------------------------------------------------------------------------------------
# (a) huge timeouts


async def test_huge_run_timeout_is_capped_and_does_not_stall_other_timers(client):
    tq = uid("nobody")
    # Several far-future runs (9e9 s is past the end of i64 nanoseconds from now), so that
    # every shard holds one, then short runs on the same shards.
    huge = []
    for _ in range(8):
        wf_id = uid("huge")
        await client.workflow_service.start_workflow_execution(raw_start(
            client.namespace, wf_id, tq,
            workflow_run_timeout=Duration(seconds=9_000_000_000),
            workflow_execution_timeout=Duration(seconds=2**62)))
        huge.append(client.get_workflow_handle(wf_id))
    short = [await client.start_workflow("NobodyRunsThis", id=uid("short"), task_queue=tq,
                                         run_timeout=timedelta(seconds=2)) for _ in range(8)]
    started = time.monotonic()

    async def all_timed_out() -> bool:
        statuses = [(await h.describe()).status for h in short]
        return all(s == WorkflowExecutionStatus.TIMED_OUT for s in statuses)
    await wait_until(all_timed_out, timeout=15, interval=0.2, what="2 s run timeouts to fire")
    assert time.monotonic() - started < 15

    for h in huge:
        desc = await h.describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING, "a capped timeout is far away, not in the past"
        started_attrs = (await history_events(h))[0].workflow_execution_started_event_attributes
        # Like Temporal: capped at 100 years, not rejected.
        assert started_attrs.workflow_run_timeout.seconds == HUNDRED_YEARS
        assert started_attrs.workflow_execution_timeout.seconds == HUNDRED_YEARS
        await h.terminate("done")
    await assert_alive(client)


async def test_invalid_durations_are_rejected(client):
    tq = uid("nobody")
    for field in ("workflow_run_timeout", "workflow_execution_timeout", "workflow_task_timeout"):
        for bad in (Duration(seconds=-1), Duration(seconds=1, nanos=-5)):
            err = await expect_rpc_error(
                client.workflow_service.start_workflow_execution(
                    raw_start(client.namespace, uid("neg"), tq, **{field: bad})),
                RPCStatusCode.INVALID_ARGUMENT)
            assert "invalid" in err.message.lower(), err.message
    # A start delay is a duration too, and cannot be combined with a cron schedule.
    err = await expect_rpc_error(
        client.workflow_service.start_workflow_execution(raw_start(
            client.namespace, uid("delay"), tq, cron_schedule="@every 1h",
            workflow_start_delay=Duration(seconds=9_000_000_000))),
        RPCStatusCode.INVALID_ARGUMENT)
    assert err.message == "CronSchedule and WorkflowStartDelay may not be used together.", err.message
    await assert_alive(client)


async def test_huge_timer_and_activity_timeouts_from_a_worker(client):
    tq = uid("huge-cmd")
    async with running_worker(client, tq, workflows=[HugeTimersWorkflow]):
        handle = await client.start_workflow(HugeTimersWorkflow.run, id=uid("huge-cmd"), task_queue=tq)

        async def scheduled() -> bool:
            events = await history_events(handle)
            return len(events_of(events, "TimerStarted")) == 2 and bool(events_of(events, "ActivityTaskScheduled"))
        await wait_until(scheduled, what="timer and activity from huge durations")
        events = await history_events(handle)
        # Like Temporal, the command's durations are capped at 100 years before they are recorded.
        timers = [e.timer_started_event_attributes.start_to_fire_timeout.seconds
                  for e in events_of(events, "TimerStarted")]
        assert max(timers) == HUNDRED_YEARS, timers
        scheduled_attrs = events_of(events, "ActivityTaskScheduled")[0].activity_task_scheduled_event_attributes
        assert scheduled_attrs.start_to_close_timeout.seconds == HUNDRED_YEARS
        # The workflow still runs its own short timer alongside.
        assert await handle.result() == "short timer fired"
    await assert_alive(client)


@workflow.defn
class HugeTimersWorkflow:
    @workflow.run
    async def run(self) -> str:
        workflow.start_activity("NobodyRunsThis", task_queue=uid("nobody"),
                                start_to_close_timeout=timedelta(days=3_000_000))
        far = asyncio.create_task(asyncio.sleep(timedelta(days=3_000_000).total_seconds()))
        await asyncio.sleep(1)
        far.cancel()
        return "short timer fired"


# --------------------------------------------------------------------------------------
# (b) cron schedules


async def test_hostile_cron_schedules(client):
    tq = uid("nobody")
    for spec in ("@every 99999999999999999s", "@every 99999999999999999999999s", "@every 9999999999s", "*/99999999999999999999 * * * *",
                 "*/-1 * * * *", "59/18446744073709551615 * * * *", "99999999999 * * * *"):
        err = await expect_rpc_error(
            client.start_workflow("NobodyRunsThis", id=uid("cron"), task_queue=tq, cron_schedule=spec),
            RPCStatusCode.INVALID_ARGUMENT)
        assert "CronSchedule" in err.message, (spec, err.message)
        await assert_alive(client)
    # A step past the field's range is valid (robfig/cron): it selects the range's start.
    for spec in ("1/4294967295 * * * *", "59/9223372036854775807 * * * *"):
        handle = await client.start_workflow("NobodyRunsThis", id=uid("cron"), task_queue=tq, cron_schedule=spec)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.terminate("done")
    await assert_alive(client)


# --------------------------------------------------------------------------------------
# (c) bad commands from a worker


@workflow.defn
class Child:
    @workflow.run
    async def run(self) -> str:
        return "child"


@workflow.defn
class BadChildCronWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.start_child_workflow(Child.run, id=f"{workflow.info().workflow_id}-child",
                                            cron_schedule="@every 99999999999999999s")


@workflow.defn
class BadChildStepCronWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.start_child_workflow(Child.run, id=f"{workflow.info().workflow_id}-child",
                                            cron_schedule="*/99999999999999999999 * * * *")


@workflow.defn
class BadContinueAsNewWorkflow:
    @workflow.run
    async def run(self) -> None:
        workflow.continue_as_new(workflow="W" * 1001)


@workflow.defn
class BadSignalExternalWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.get_external_workflow_handle("someone", run_id="not-a-uuid").signal("ping")


async def _expect_task_failed(client: Client, wf: type, cause: int) -> None:
    tq = uid("bad-cmd")
    async with running_worker(client, tq, workflows=[wf, Child]):
        handle = await client.start_workflow(wf.run, id=uid("bad-cmd"), task_queue=tq,
                                             task_timeout=timedelta(seconds=2))

        async def failed() -> bool:
            return bool(events_of(await history_events(handle), "WorkflowTaskFailed"))
        await wait_until(failed, what=f"WorkflowTaskFailed for {wf.__name__}")
    events = await history_events(handle)
    attrs = events_of(events, "WorkflowTaskFailed")[0].workflow_task_failed_event_attributes
    assert attrs.cause == cause, (WorkflowTaskFailedCause.Name(attrs.cause), attrs.failure.message)
    assert not events_of(events, "StartChildWorkflowExecutionInitiated")
    assert not events_of(events, "WorkflowExecutionContinuedAsNew")
    assert not events_of(events, "SignalExternalWorkflowExecutionInitiated")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await handle.terminate("done")
    await assert_alive(client)


async def test_start_child_with_bad_cron_fails_the_task(client):
    cause = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES
    await _expect_task_failed(client, BadChildCronWorkflow, cause)
    await _expect_task_failed(client, BadChildStepCronWorkflow, cause)


async def test_continue_as_new_with_bad_attributes_fails_the_task(client):
    await _expect_task_failed(client, BadContinueAsNewWorkflow,
                              WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES)


async def test_signal_external_with_bad_run_id_fails_the_task(client):
    await _expect_task_failed(
        client, BadSignalExternalWorkflow,
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES)


# --------------------------------------------------------------------------------------
# (d) ids and payloads over the dynamic-config limits

BLOB_LIMIT = 2000
ID_LIMIT = 64


@pytest.fixture
async def limited(start_dev):
    # Temporal errors only past both the warn and the error limit: set both.
    srv = start_dev(["--dynamic-config-value", f"limit.blobSize.error={BLOB_LIMIT}",
                     "--dynamic-config-value", f"limit.blobSize.warn={BLOB_LIMIT}",
                     "--dynamic-config-value", f"limit.maxIDLength={ID_LIMIT}"])
    return await Client.connect(srv.address)


async def test_start_and_signal_over_the_limits(limited):
    client = limited
    tq = uid("nobody")
    err = await expect_rpc_error(
        client.start_workflow("NobodyRunsThis", id="i" * (ID_LIMIT + 1), task_queue=tq),
        RPCStatusCode.INVALID_ARGUMENT)
    assert "WorkflowId" in err.message, err.message
    err = await expect_rpc_error(
        client.start_workflow("T" * (ID_LIMIT + 1), id=uid("long-type"), task_queue=tq),
        RPCStatusCode.INVALID_ARGUMENT)
    assert "WorkflowType" in err.message, err.message
    big = "x" * (BLOB_LIMIT + 100)
    err = await expect_rpc_error(
        client.start_workflow("NobodyRunsThis", big, id=uid("big"), task_queue=tq),
        RPCStatusCode.INVALID_ARGUMENT)
    assert err.message == "Blob data size exceeds limit.", err.message
    # Raw request too: the limit is on the start itself, not on what an SDK sends.
    req = raw_start(client.namespace, uid("big-raw"), tq,
                    input=Payloads(payloads=[Payload(metadata={"encoding": b"binary/plain"},
                                                     data=b"x" * (BLOB_LIMIT + 1))]))
    await expect_rpc_error(client.workflow_service.start_workflow_execution(req), RPCStatusCode.INVALID_ARGUMENT)
    ok = await client.start_workflow("NobodyRunsThis", "small", id=uid("ok"), task_queue=tq)
    err = await expect_rpc_error(ok.signal("sig", big), RPCStatusCode.INVALID_ARGUMENT)
    assert err.message == "Blob data size exceeds limit.", err.message
    await ok.terminate("done")
    await assert_alive(client)


@activity.defn
async def big_result() -> str:
    return "x" * (BLOB_LIMIT + 100)


@workflow.defn
class BigActivityResultWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity(big_result, start_to_close_timeout=timedelta(seconds=10),
                                            retry_policy=RetryPolicy(maximum_attempts=3))
        except ActivityError as e:
            return f"{type(e.cause).__name__}: {e.cause.message}"
        return "completed"


@workflow.defn
class BigResultWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "x" * (BLOB_LIMIT + 100)


# The Python SDK checks payload sizes itself when the server advertises its limits (the
# reference does; sundial does not yet), so only sundial's server-side check is reached here.
@pytest.mark.sundial_only
async def test_worker_payloads_over_the_limit(limited):
    client = limited
    tq = uid("big-worker")
    async with running_worker(client, tq, workflows=[BigActivityResultWorkflow, BigResultWorkflow],
                              activities=[big_result]):
        # An activity result over the limit fails the activity (non-retryable server failure).
        got = await client.execute_workflow(BigActivityResultWorkflow.run, id=uid("big-act"), task_queue=tq,
                                            execution_timeout=timedelta(seconds=30))
        assert got == "ServerError: Complete result exceeds size limit.", got
        # A workflow result over the limit fails the task and terminates the run.
        handle = await client.start_workflow(BigResultWorkflow.run, id=uid("big-wf"), task_queue=tq)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    events = await history_events(handle)
    failed = events_of(events, "WorkflowTaskFailed")
    assert failed, [e.event_type for e in events]
    assert failed[-1].workflow_task_failed_event_attributes.cause == \
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES
    # Smaller payloads still go through.
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        assert await client.execute_workflow(EchoWorkflow.run, "hi", id=uid("echo"), task_queue=tq) is not None
    await assert_alive(client)
