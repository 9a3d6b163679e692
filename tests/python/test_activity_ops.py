"""Operator actions on a running workflow's activities: `temporal activity pause / unpause /
reset / update-options` (the CLI's `*ActivityExecution` RPCs) and the same through the older
PauseActivity / UnpauseActivity RPCs. A paused activity gets no new attempt (a running one is
told through its heartbeat and, as the SDK reports it, fails into the paused state); unpausing
or resetting sends it again at once; new options show in DescribeWorkflowExecution. Run with
SUNDIAL_TEST_IMPL=reference to compare."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import (
    PauseActivityExecutionRequest,
    PauseActivityRequest,
    UnpauseActivityRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCStatusCode

from support import cli, expect_rpc_error as expect_status
from wf_defs import running_worker, uid

# Per workflow input: whether `flaky` still fails.
FAILING: dict[str, bool] = {}
# Per workflow input: what the heartbeating activity learned when it was cancelled.
PAUSED_SEEN: dict[str, bool] = {}


@activity.defn
async def flaky(key: str) -> str:
    if FAILING.get(key, True):
        raise ApplicationError("not yet")
    return f"done {key}"


@activity.defn
async def beating(key: str) -> str:
    if activity.info().attempt > 1:
        return f"attempt {activity.info().attempt}"
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.2)
    except asyncio.CancelledError:
        details = activity.cancellation_details()
        PAUSED_SEEN[key] = bool(details and details.paused)
        raise


@workflow.defn
class FlakyWorkflow:
    @workflow.run
    async def run(self, key: str, backoff_seconds: float) -> str:
        return await workflow.execute_activity(
            flaky, key, activity_id="flaky-1", start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=backoff_seconds), backoff_coefficient=1.0))


@workflow.defn
class BeatingWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        return await workflow.execute_activity(
            beating, key, activity_id="beat-1", start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.0))


async def expect_rpc_error(call, status: RPCStatusCode, message: str) -> None:
    e = await expect_status(call, status)
    assert message in e.message, e.message


async def pending(handle: WorkflowHandle):
    described = await handle.describe()
    acts = described.raw_description.pending_activities
    assert len(acts) <= 1, acts
    return acts[0] if acts else None


async def wait_pending(handle: WorkflowHandle, check, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        act = await pending(handle)
        if act is not None and check(act):
            return act
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {act}"
        await asyncio.sleep(0.2)


def activity_cli(srv, verb: str, handle: WorkflowHandle, activity_id: str, *extra: str):
    return cli(srv.address, "activity", verb, "--workflow-id", handle.id, "--activity-id", activity_id, *extra)


async def test_pause_stops_retries_and_unpause_resumes_them(start_dev):
    srv = start_dev()
    client = await Client.connect(srv.address)
    tq, key = uid("act-ops-tq"), uid("pause")
    async with running_worker(client, tq, workflows=[FlakyWorkflow], activities=[flaky]):
        handle = await client.start_workflow(FlakyWorkflow.run, args=[key, 0.3], id=uid("wf"), task_queue=tq)
        await wait_pending(handle, lambda a: a.attempt >= 2, "a retry")
        activity_cli(srv, "pause", handle, "flaky-1", "--reason", "maintenance")
        act = await wait_pending(handle, lambda a: a.state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED,
                                 "the paused state")
        assert act.paused and act.pause_info.manual.reason == "maintenance", act
        assert not act.HasField("next_attempt_schedule_time"), act
        # No attempt runs while paused.
        await asyncio.sleep(2)
        assert (await pending(handle)).attempt == act.attempt
        FAILING[key] = False
        activity_cli(srv, "unpause", handle, "flaky-1")
        assert await asyncio.wait_for(handle.result(), 20) == f"done {key}"


async def test_a_running_activity_learns_of_the_pause_from_its_heartbeat(start_dev):
    srv = start_dev()
    client = await Client.connect(srv.address)
    tq, key = uid("act-ops-tq"), uid("beat")
    async with running_worker(client, tq, workflows=[BeatingWorkflow], activities=[beating]):
        handle = await client.start_workflow(BeatingWorkflow.run, key, id=uid("wf"), task_queue=tq)
        await wait_pending(handle, lambda a: a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
                           "the attempt to start")
        execution = WorkflowExecution(workflow_id=handle.id)
        await client.workflow_service.pause_activity(PauseActivityRequest(
            namespace="default", execution=execution, id="beat-1", reason="look", identity="ops"))
        # The worker is told through its heartbeat, cancels the attempt and reports it failed;
        # the activity stays paused, not retried.
        act = await wait_pending(handle, lambda a: a.state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED,
                                 "the paused state after the attempt ended")
        assert PAUSED_SEEN.get(key) is True
        assert act.attempt == 2 and act.pause_info.manual.identity == "ops", act
        await client.workflow_service.unpause_activity(UnpauseActivityRequest(
            namespace="default", execution=execution, id="beat-1"))
        assert await asyncio.wait_for(handle.result(), 20) == "attempt 2"


async def test_reset_runs_a_backing_off_activity_again_at_once(start_dev):
    srv = start_dev()
    client = await Client.connect(srv.address)
    tq, key = uid("act-ops-tq"), uid("reset")
    async with running_worker(client, tq, workflows=[FlakyWorkflow], activities=[flaky]):
        handle = await client.start_workflow(FlakyWorkflow.run, args=[key, 600], id=uid("wf"), task_queue=tq)
        act = await wait_pending(handle, lambda a: a.attempt == 2, "the first failure")
        assert act.HasField("next_attempt_schedule_time"), "waiting out a 10-minute backoff"
        FAILING[key] = False
        began = time.monotonic()
        activity_cli(srv, "reset", handle, "flaky-1")
        assert await asyncio.wait_for(handle.result(), 20) == f"done {key}"
        assert time.monotonic() - began < 20


async def test_update_options_shows_in_describe(start_dev):
    srv = start_dev()
    client = await Client.connect(srv.address)
    tq, key = uid("act-ops-tq"), uid("options")
    async with running_worker(client, tq, workflows=[FlakyWorkflow], activities=[flaky]):
        handle = await client.start_workflow(FlakyWorkflow.run, args=[key, 600], id=uid("wf"), task_queue=tq)
        await wait_pending(handle, lambda a: a.attempt == 2, "the first failure")
        activity_cli(srv, "update-options", handle, "flaky-1", "--start-to-close-timeout", "7s",
                     "--retry-maximum-attempts", "20")
        options = (await pending(handle)).activity_options
        assert options.start_to_close_timeout.ToTimedelta() == timedelta(seconds=7), options
        assert options.retry_policy.maximum_attempts == 20, options
        assert options.task_queue.name == tq, options
        await handle.terminate()


async def test_bad_targets_get_temporals_errors(start_dev):
    srv = start_dev()
    client = await Client.connect(srv.address)
    tq, key = uid("act-ops-tq"), uid("errors")
    async with running_worker(client, tq, workflows=[FlakyWorkflow], activities=[flaky]):
        handle = await client.start_workflow(FlakyWorkflow.run, args=[key, 600], id=uid("wf"), task_queue=tq)
        await wait_pending(handle, lambda a: a.attempt == 2, "the first failure")
        execution = WorkflowExecution(workflow_id=handle.id)
        await expect_rpc_error(
            client.workflow_service.pause_activity(PauseActivityRequest(
                namespace="default", execution=execution, id="no-such-activity")),
            RPCStatusCode.NOT_FOUND, "Can't find pending activity with such ID")
        await expect_rpc_error(
            client.workflow_service.pause_activity(PauseActivityRequest(namespace="default", execution=execution)),
            RPCStatusCode.INVALID_ARGUMENT, "Either Activity.Id or Activity.Type should be set on request.")
        await client.workflow_service.pause_activity(PauseActivityRequest(
            namespace="default", execution=execution, type="flaky", request_id="first"))
        await expect_rpc_error(
            client.workflow_service.pause_activity(PauseActivityRequest(
                namespace="default", execution=execution, id="flaky-1", request_id="second")),
            RPCStatusCode.FAILED_PRECONDITION, "activity is already paused")
        # No workflow id names a standalone activity; there is no such one.
        standalone = client.workflow_service.pause_activity_execution(PauseActivityExecutionRequest(
            namespace="default", activity_id="standalone-1"))
        await expect_rpc_error(standalone, RPCStatusCode.NOT_FOUND, "activity not found for ID: standalone-1")
        await handle.terminate()
        await expect_rpc_error(
            client.workflow_service.pause_activity(PauseActivityRequest(
                namespace="default", execution=execution, id="flaky-1")),
            RPCStatusCode.NOT_FOUND, "workflow execution already completed")
