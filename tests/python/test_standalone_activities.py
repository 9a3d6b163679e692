"""Standalone activities (StartActivityExecution and its family) through the Python SDK's
`Client.start_activity` API and the `temporal activity` commands: results and failures with
retries, describe, id reuse and conflict policies, cancel, terminate, delete, timeouts, list and
count in their own visibility division (never among workflows), and a start that outlives a
server restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import DeleteActivityExecutionRequest
from temporalio.client import ActivityExecutionStatus, ActivityFailureError, Client
from temporalio.common import ActivityIDConflictPolicy, ActivityIDReusePolicy, RetryPolicy
from temporalio.exceptions import (
    ActivityAlreadyStartedError,
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
)
from temporalio.service import RPCError, RPCStatusCode

from support import cli, cli_json, eventually
from wf_defs import running_worker, uid

ATTEMPTS: dict[str, list] = {}


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@activity.defn
async def second_time_lucky(key: str) -> str:
    """Fails its first attempt after a heartbeat; the retry sees that heartbeat's details."""
    info = activity.info()
    ATTEMPTS.setdefault(key, []).append((info.attempt, list(info.heartbeat_details)))
    if info.attempt == 1:
        activity.heartbeat("half way")
        raise ApplicationError("first attempt fails")
    return f"done on attempt {info.attempt}"


@activity.defn
async def forever(_: str) -> str:
    while True:
        activity.heartbeat()
        await asyncio.sleep(0.2)


ACTIVITIES = [greet, second_time_lucky, forever]


async def test_result_describe_list_and_count(client: Client):
    tq, aid = uid("saa-tq"), uid("saa")
    async with running_worker(client, tq, activities=ACTIVITIES):
        handle = await client.start_activity(greet, "world", id=aid, task_queue=tq,
                                             start_to_close_timeout=timedelta(seconds=10))
        assert await handle.result() == "hello world"
    desc = await handle.describe()
    assert desc.status == ActivityExecutionStatus.COMPLETED
    assert desc.activity_type == "greet" and desc.task_queue == tq and desc.attempt == 1
    assert desc.activity_run_id == handle.run_id

    async def listed():
        found = [a async for a in client.list_activities(f'ActivityId = "{aid}"')]
        assert [(a.activity_id, a.activity_run_id, a.status) for a in found] == [
            (aid, handle.run_id, ActivityExecutionStatus.COMPLETED)]
    await eventually(listed)
    count = await client.count_activities(f'ActivityId = "{aid}" GROUP BY ExecutionStatus')
    assert count.count == 1 and [g.group_values for g in count.groups] == [["Completed"]]
    # Activities live in their own division: no workflow list shows them.
    assert [w async for w in client.list_workflows(f'WorkflowId = "{aid}"')] == []
    assert (await client.count_workflows(f'WorkflowId = "{aid}"')).count == 0


async def test_retry_carries_heartbeat_details(client: Client):
    tq, aid = uid("saa-tq"), uid("saa-retry")
    async with running_worker(client, tq, activities=ACTIVITIES):
        handle = await client.start_activity(
            second_time_lucky, aid, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)))
        assert await handle.result() == "done on attempt 2"
    assert ATTEMPTS[aid] == [(1, []), (2, ["half way"])]
    desc = await handle.describe()
    assert desc.status == ActivityExecutionStatus.COMPLETED and desc.attempt == 2


async def test_non_retryable_failure_fails_the_activity(client: Client):
    tq, aid = uid("saa-tq"), uid("saa-fail")
    async with running_worker(client, tq, activities=ACTIVITIES):
        handle = await client.start_activity(
            second_time_lucky, aid, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1))
        with pytest.raises(ActivityFailureError) as err:
            await handle.result()
    assert isinstance(err.value.cause, ApplicationError)
    assert err.value.cause.message == "first attempt fails"
    assert (await handle.describe()).status == ActivityExecutionStatus.FAILED


async def test_id_conflict_and_reuse_policies(client: Client):
    tq, aid = uid("saa-tq"), uid("saa-ids")
    first = await client.start_activity(greet, "a", id=aid, task_queue=tq,
                                        start_to_close_timeout=timedelta(seconds=10))
    with pytest.raises(ActivityAlreadyStartedError):
        await client.start_activity(greet, "b", id=aid, task_queue=tq,
                                    start_to_close_timeout=timedelta(seconds=10))
    same = await client.start_activity(greet, "c", id=aid, task_queue=tq,
                                       start_to_close_timeout=timedelta(seconds=10),
                                       id_conflict_policy=ActivityIDConflictPolicy.USE_EXISTING)
    assert same.run_id == first.run_id
    async with running_worker(client, tq, activities=ACTIVITIES):
        assert await first.result() == "hello a"
    with pytest.raises(ActivityAlreadyStartedError):
        await client.start_activity(greet, "d", id=aid, task_queue=tq,
                                    start_to_close_timeout=timedelta(seconds=10),
                                    id_reuse_policy=ActivityIDReusePolicy.REJECT_DUPLICATE)
    again = await client.start_activity(greet, "e", id=aid, task_queue=tq,
                                        start_to_close_timeout=timedelta(seconds=10))
    assert again.run_id != first.run_id


async def test_cancel_terminate_delete_and_timeout(client: Client):
    tq = uid("saa-tq")
    # No worker: a cancel request cancels it at once.
    waiting = await client.start_activity(greet, "x", id=uid("saa-cancel"), task_queue=tq,
                                          start_to_close_timeout=timedelta(seconds=10))
    await waiting.cancel(reason="not needed")
    with pytest.raises(ActivityFailureError) as err:
        await waiting.result()
    assert isinstance(err.value.cause, CancelledError)
    desc = await waiting.describe()
    assert desc.status == ActivityExecutionStatus.CANCELED
    # A running attempt is terminated at once.
    async with running_worker(client, tq, activities=ACTIVITIES):
        running = await client.start_activity(forever, "y", id=uid("saa-term"), task_queue=tq,
                                              start_to_close_timeout=timedelta(seconds=30),
                                              heartbeat_timeout=timedelta(seconds=5))

        async def started():
            d = await running.describe()
            assert d.raw_info.run_state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        await eventually(started)
        await running.terminate(reason="enough")
        with pytest.raises(ActivityFailureError) as err:
            await running.result()
        assert isinstance(err.value.cause, TerminatedError)
    assert (await running.describe()).status == ActivityExecutionStatus.TERMINATED
    await client.workflow_service.delete_activity_execution(DeleteActivityExecutionRequest(
        namespace=client.namespace, activity_id=running.id, run_id=running.run_id or ""))
    with pytest.raises(RPCError) as gone:
        await running.describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND
    # Nobody polls its queue: the schedule-to-close deadline ends it.
    late = await client.start_activity(greet, "z", id=uid("saa-late"), task_queue=uid("nobody"),
                                       schedule_to_close_timeout=timedelta(seconds=1))
    with pytest.raises(ActivityFailureError) as err:
        await late.result()
    assert isinstance(err.value.cause, TimeoutError)
    assert (await late.describe()).status == ActivityExecutionStatus.TIMED_OUT


async def test_temporal_cli_activity_commands(client: Client, server):
    tq, aid = uid("saa-tq"), uid("saa-cli")
    cli(server.address, "activity", "start", "--activity-id", aid, "--type", "greet", "--task-queue", tq,
        "--start-to-close-timeout", "10s", "--input", '"cli"')
    desc = cli_json(server.address, "activity", "describe", "--activity-id", aid)
    assert desc["info"]["status"] in ("ACTIVITY_EXECUTION_STATUS_RUNNING", "Running"), desc
    async with running_worker(client, tq, activities=ACTIVITIES):
        # In a thread: the worker shares this event loop.
        out = await asyncio.to_thread(cli, server.address, "activity", "result", "--activity-id", aid)
    assert "hello cli" in out.stdout

    async def listed():
        out = cli(server.address, "activity", "list", "--query", f'ActivityId = "{aid}"')
        assert aid in out.stdout
    await eventually(listed)
    count = cli(server.address, "activity", "count", "--query", f'ActivityId = "{aid}"')
    assert "1" in count.stdout
    other = uid("saa-cli-term")
    cli(server.address, "activity", "start", "--activity-id", other, "--type", "greet", "--task-queue", tq,
        "--start-to-close-timeout", "10s")
    cli(server.address, "activity", "terminate", "--activity-id", other, "--reason", "cli says stop")
    assert (await client.get_activity_handle(other).describe()).status == ActivityExecutionStatus.TERMINATED
    # Completed by hand (by id) while no worker has started it.
    manual = uid("saa-cli-manual")
    cli(server.address, "activity", "start", "--activity-id", manual, "--type", "greet", "--task-queue", tq,
        "--start-to-close-timeout", "10s")
    cli(server.address, "activity", "complete", "--activity-id", manual, "--result", '"by hand"')
    assert await client.get_activity_handle(manual).result() == "by hand"


async def test_pause_unpause_and_reset_a_standalone_activity(client: Client, server):
    tq, aid = uid("saa-tq"), uid("saa-pause")
    handle = await client.start_activity(greet, "paused", id=aid, task_queue=tq,
                                         start_to_close_timeout=timedelta(seconds=10))
    cli(server.address, "activity", "pause", "--activity-id", aid, "--reason", "hold on")
    desc = await handle.describe()
    assert desc.status == ActivityExecutionStatus.PAUSED
    assert desc.raw_info.run_state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED
    async with running_worker(client, tq, activities=ACTIVITIES):
        await asyncio.sleep(1.5)
        # Paused: no worker got it.
        assert (await handle.describe()).status == ActivityExecutionStatus.PAUSED
        cli(server.address, "activity", "update-options", "--activity-id", aid, "--start-to-close-timeout", "20s")
        assert (await handle.describe()).raw_info.start_to_close_timeout.seconds == 20
        cli(server.address, "activity", "unpause", "--activity-id", aid)
        assert await handle.result() == "hello paused"


@pytest.mark.sundial_only
@pytest.mark.process
async def test_a_started_activity_survives_a_server_restart(start_dev, tmp_path):
    db = tmp_path / "saa.db"
    srv = start_dev(["--db-filename", str(db)])
    client = await Client.connect(srv.address)
    tq, aid = uid("saa-tq"), uid("saa-durable")
    handle = await client.start_activity(greet, "again", id=aid, task_queue=tq,
                                         start_to_close_timeout=timedelta(seconds=10))
    assert srv.stop() == 0, srv.diagnostics()
    srv2 = start_dev(["--db-filename", str(db)])
    client = await Client.connect(srv2.address)
    async with running_worker(client, tq, activities=ACTIVITIES):
        assert await client.get_activity_handle(aid, run_id=handle.run_id).result() == "hello again"
