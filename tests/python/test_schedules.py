"""Schedules through the Python SDK and the `temporal schedule` CLI: interval and calendar specs,
the workflow ids and search attributes of started runs, describe/list, trigger, pause, update,
backfill, overlap policies, limited actions, errors, and a schedule that outlives a server
restart. Run with SUNDIAL_TEST_IMPL=reference to check the same expectations against Temporal."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from temporalio import workflow
from temporalio.client import (Client, Schedule, WorkflowExecutionStatus, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError,
                               ScheduleBackfill, ScheduleCalendarSpec, ScheduleIntervalSpec,
                               ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange, ScheduleSpec,
                               ScheduleState, ScheduleUpdate)
from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest
from temporalio.service import RPCError, RPCStatusCode

from conftest import child_env
from wf_defs import EchoWorkflow, SleepWorkflow, running_worker, uid, wait_until

WORKFLOWS = [EchoWorkflow, SleepWorkflow]


def rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def every(seconds: float) -> ScheduleSpec:
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=seconds))])


def echo(tq: str, wid: str, **kw) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(EchoWorkflow.run, "tick", id=wid, task_queue=tq, **kw)


async def actions(handle, at_least: int, timeout: float = 20.0):
    async def enough():
        return (await handle.describe()).info.num_actions >= at_least

    await wait_until(enough, timeout=timeout, interval=0.2, what=f"{at_least} schedule actions")
    return await handle.describe()


async def test_interval_schedule_starts_runs_named_by_nominal_time(client: Client):
    tq, sid, wid = uid("sched-tq"), uid("sched"), uid("sched-wf")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        handle = await client.create_schedule(
            sid, Schedule(action=echo(tq, wid, memo={"team": "payments"}), spec=every(2),
                          policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL)))
        desc = await actions(handle, 2)
        recent = desc.info.recent_actions
        assert len(recent) >= 2
        for a in recent:
            # Temporal's id: the action's id and the nominal time, UTC, whole seconds.
            assert a.action.workflow_id == f"{wid}-{rfc3339(a.scheduled_at)}"
            assert a.scheduled_at.timestamp() % 2 == 0, "interval times are aligned to the epoch"
            assert a.started_at >= a.scheduled_at
            run = client.get_workflow_handle(a.action.workflow_id, run_id=a.action.first_execution_run_id)
            assert await run.result() == "echo tick"
            wf = await run.describe()
            assert wf.search_attributes.get("TemporalScheduledById") == [sid]
            scheduled = wf.search_attributes.get("TemporalScheduledStartTime")
            assert scheduled and scheduled[0] == a.scheduled_at
            assert await wf.memo_value("team") == "payments"
        nxt = desc.info.next_action_times
        assert len(nxt) >= 3 and all((b - a) == timedelta(seconds=2) for a, b in zip(nxt, nxt[1:]))
        assert nxt[0] > datetime.now(timezone.utc) - timedelta(seconds=1)

        listed = {s.id: s async for s in await client.list_schedules()}
        assert sid in listed
        assert listed[sid].info.recent_actions and listed[sid].info.next_action_times

        kept = recent[0].action.workflow_id
        await handle.delete()
        with pytest.raises(RPCError) as err:
            await handle.describe()
        assert err.value.status == RPCStatusCode.NOT_FOUND
        # Deleting a schedule leaves what it started alone.
        await client.get_workflow_handle(kept).describe()


async def test_trigger_pause_unpause_and_update(client: Client):
    tq, sid, wid = uid("sched-tq"), uid("sched"), uid("sched-wf")
    yearly = ScheduleSpec(calendars=[ScheduleCalendarSpec(month=[ScheduleRange(1)], day_of_month=[ScheduleRange(1)])])
    async with running_worker(client, tq, workflows=WORKFLOWS):
        handle = await client.create_schedule(
            sid, Schedule(action=echo(tq, wid), spec=yearly, state=ScheduleState(paused=True, note="created paused")))
        desc = await handle.describe()
        assert desc.schedule.state.paused and desc.schedule.state.note == "created paused"
        assert desc.info.num_actions == 0
        assert all(t.month == 1 and t.day == 1 for t in desc.info.next_action_times)

        # A trigger runs even while paused.
        await handle.trigger()
        desc = await actions(handle, 1)
        assert desc.info.recent_actions[0].action.workflow_id.startswith(f"{wid}-")

        await handle.unpause(note="back on")
        desc = await handle.describe()
        assert not desc.schedule.state.paused and desc.schedule.state.note == "back on"
        await handle.pause(note="hold")
        assert (await handle.describe()).schedule.state.note == "hold"

        def to_interval(inp):
            s = inp.description.schedule
            s.spec = every(3600)
            s.state.paused = False
            return ScheduleUpdate(schedule=s)

        await handle.update(to_interval)
        desc = await handle.describe()
        assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(hours=1)]
        assert desc.info.num_actions == 1, "an update keeps the schedule's history"
        await handle.delete()


async def test_backfill_starts_every_time_in_the_range(client: Client):
    tq, sid, wid = uid("sched-tq"), uid("sched"), uid("sched-wf")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        handle = await client.create_schedule(
            sid, Schedule(action=echo(tq, wid), spec=every(60), state=ScheduleState(paused=True)))
        end = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=10)
        start = end - timedelta(minutes=4)
        await handle.backfill(ScheduleBackfill(start_at=start, end_at=end, overlap=ScheduleOverlapPolicy.ALLOW_ALL))
        desc = await actions(handle, 5)
        nominal = sorted(a.scheduled_at for a in desc.info.recent_actions)
        assert nominal == [start + timedelta(minutes=i) for i in range(5)]
        await handle.delete()


async def test_overlap_skip_and_buffer_one(client: Client):
    tq = uid("sched-tq")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        skip = await client.create_schedule(
            uid("sched-skip"),
            Schedule(action=ScheduleActionStartWorkflow(SleepWorkflow.run, 5.0, id=uid("skip-wf"), task_queue=tq),
                     spec=every(1), policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)))
        buffer_one = await client.create_schedule(
            uid("sched-buf"),
            Schedule(action=ScheduleActionStartWorkflow(SleepWorkflow.run, 5.0, id=uid("buf-wf"), task_queue=tq),
                     spec=every(1), policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE)))
        desc = await actions(skip, 2, timeout=30)
        assert desc.info.num_actions == 2
        assert desc.info.num_actions_skipped_overlap >= 3, "times that came while a run was going were skipped"
        assert len(desc.info.running_actions) <= 1
        desc = await actions(buffer_one, 2, timeout=30)
        assert len(desc.info.running_actions) <= 1
        assert desc.info.num_actions >= 2
        await skip.delete()
        await buffer_one.delete()


async def test_limited_actions_stop_the_schedule(client: Client):
    tq, sid = uid("sched-tq"), uid("sched")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        handle = await client.create_schedule(
            sid, Schedule(action=echo(tq, uid("lim-wf")), spec=every(1),
                          policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
                          state=ScheduleState(limited_actions=True, remaining_actions=2)))
        await actions(handle, 2)
        await asyncio.sleep(2.5)
        desc = await handle.describe()
        assert desc.info.num_actions == 2
        assert desc.schedule.state.remaining_actions == 0
        assert desc.info.next_action_times == []
        await handle.delete()


async def test_bad_requests_are_refused(client: Client):
    tq, sid = uid("sched-tq"), uid("sched")
    handle = await client.create_schedule(sid, Schedule(action=echo(tq, uid("wf")), spec=every(3600)))
    with pytest.raises(ScheduleAlreadyRunningError):
        await client.create_schedule(sid, Schedule(action=echo(tq, uid("wf")), spec=every(3600)))
    with pytest.raises(RPCError) as err:
        await client.create_schedule(
            uid("sched-bad"), Schedule(action=echo(tq, uid("wf")), spec=ScheduleSpec(cron_expressions=["61 * * * *"])))
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    with pytest.raises(RPCError) as err:
        await client.get_schedule_handle(uid("missing")).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND
    await handle.delete()


async def test_list_schedules_with_a_query_and_matching_times(client: Client):
    tq = uid("sched-tq")
    paused_id, running_id = uid("sched-p"), uid("sched-r")
    await client.create_schedule(paused_id, Schedule(action=echo(tq, uid("wf")), spec=every(3600),
                                                     state=ScheduleState(paused=True)))
    h = await client.create_schedule(running_id, Schedule(action=echo(tq, uid("wf")), spec=every(3600)))

    async def listed(query: str) -> set[str]:
        return {s.id async for s in await client.list_schedules(query=query)}

    await wait_until(lambda: listed("TemporalSchedulePaused = true"), timeout=20, what="paused schedule listed")
    paused = await listed("TemporalSchedulePaused = true")
    assert paused_id in paused and running_id not in paused
    # ListScheduleMatchingTimes: every hour on the hour from the epoch.
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    resp = await client.workflow_service.list_schedule_matching_times(ListScheduleMatchingTimesRequest(
        namespace=client.namespace, schedule_id=running_id,
        start_time=_ts(start), end_time=_ts(start + timedelta(hours=3))))
    assert [t.ToDatetime(tzinfo=timezone.utc) for t in resp.start_time] == \
        [start + timedelta(hours=i) for i in (1, 2, 3)]
    await h.delete()
    await client.get_schedule_handle(paused_id).delete()


def _ts(t: datetime):
    from google.protobuf.timestamp_pb2 import Timestamp
    ts = Timestamp()
    ts.FromDatetime(t)
    return ts


async def test_temporal_cli_schedule_commands(client: Client, server, temporal_cli):
    tq, sid, wid = uid("sched-tq"), uid("sched-cli"), uid("cli-wf")

    def cli(*args: str) -> str:
        out = subprocess.run([temporal_cli, *args, "--address", server.address, "--namespace", client.namespace],
                             capture_output=True, text=True, timeout=60, env=child_env())
        assert out.returncode == 0, out.stderr + out.stdout
        return out.stdout

    async with running_worker(client, tq, workflows=WORKFLOWS):
        cli("schedule", "create", "--schedule-id", sid, "--interval", "1h", "--workflow-id", wid,
            "--task-queue", tq, "--type", "EchoWorkflow", "--input", '"cli"')
        assert sid in cli("schedule", "list")
        cli("schedule", "trigger", "--schedule-id", sid)
        handle = client.get_schedule_handle(sid)
        desc = await actions(handle, 1)
        described = json.loads(cli("schedule", "describe", "--schedule-id", sid, "--output", "json"))
        assert described["schedule"]["action"]["startWorkflow"]["workflowId"] == wid
        assert int(described["info"]["actionCount"]) == 1
        result = await client.get_workflow_handle(desc.info.recent_actions[0].action.workflow_id).result()
        assert result == "echo cli"
        end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        cli("schedule", "backfill", "--schedule-id", sid, "--start-time", rfc3339(end - timedelta(hours=2)),
            "--end-time", rfc3339(end), "--overlap-policy", "AllowAll")
        desc = await actions(handle, 4)
        assert sorted(a.scheduled_at for a in desc.info.recent_actions)[:3] == \
            [end - timedelta(hours=2), end - timedelta(hours=1), end]
        cli("schedule", "update", "--schedule-id", sid, "--interval", "2h", "--workflow-id", wid,
            "--task-queue", tq, "--type", "EchoWorkflow")
        assert [i.every for i in (await handle.describe()).schedule.spec.intervals] == [timedelta(hours=2)]
        cli("schedule", "toggle", "--schedule-id", sid, "--pause", "--reason", "cli pause")
        assert (await handle.describe()).schedule.state.paused
        cli("schedule", "delete", "--schedule-id", sid)
        with pytest.raises(RPCError):
            await handle.describe()


@pytest.mark.sundial_only
@pytest.mark.process
async def test_schedule_keeps_firing_across_a_server_restart(start_dev, tmp_path):
    db = tmp_path / "sched.db"
    srv = start_dev(["--db-filename", str(db)])
    client = await Client.connect(srv.address)
    tq, sid, wid = uid("sched-tq"), uid("sched-rs"), uid("rs-wf")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        handle = await client.create_schedule(
            sid, Schedule(action=echo(tq, wid), spec=every(1),
                          policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL)))
        before = (await actions(handle, 2)).info.num_actions
    assert srv.stop() == 0, srv.diagnostics()
    await asyncio.sleep(3)  # down for a few nominal times
    srv2 = start_dev(["--db-filename", str(db)])
    client = await Client.connect(srv2.address)
    async with running_worker(client, tq, workflows=WORKFLOWS):
        handle = client.get_schedule_handle(sid)
        desc = await actions(handle, before + 3)
        ids = [a.action.workflow_id for a in desc.info.recent_actions]
        assert len(ids) == len(set(ids)), "no nominal time started twice"
        # The times missed while the server was down were caught up (the default window is a year).
        times = sorted(a.scheduled_at for a in desc.info.recent_actions)
        assert all((b - a) == timedelta(seconds=1) for a, b in zip(times, times[1:])), times
        await handle.delete()


@pytest.mark.parametrize("policy", [ScheduleOverlapPolicy.BUFFER_ALL, ScheduleOverlapPolicy.CANCEL_OTHER,
                                    ScheduleOverlapPolicy.TERMINATE_OTHER, ScheduleOverlapPolicy.ALLOW_ALL])
async def test_overlap_policies_with_a_run_that_outlives_its_interval(client: Client, policy):
    tq = uid("sched-tq")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        handle = await client.create_schedule(
            uid("sched-ov"),
            Schedule(action=ScheduleActionStartWorkflow(SleepWorkflow.run, 3.0, id=uid("ov-wf"), task_queue=tq),
                     spec=every(1), policy=SchedulePolicy(overlap=policy)))
        desc = await actions(handle, 3, timeout=30)
        await handle.pause(note="checking")
        runs = [client.get_workflow_handle(a.action.workflow_id, run_id=a.action.first_execution_run_id)
                for a in desc.info.recent_actions]
        statuses = [(await r.describe()).status for r in runs]
        running = [s for s in statuses if s == WorkflowExecutionStatus.RUNNING]
        if policy == ScheduleOverlapPolicy.ALLOW_ALL:
            assert len(running) >= 2, statuses  # runs of 3 s started every second overlap
        elif policy == ScheduleOverlapPolicy.BUFFER_ALL:
            assert len(running) <= 1, statuses
            assert desc.info.num_actions_skipped_overlap == 0
            assert WorkflowExecutionStatus.COMPLETED in statuses, "each waited for the one before"
        else:
            stopped = (WorkflowExecutionStatus.CANCELED if policy == ScheduleOverlapPolicy.CANCEL_OTHER
                       else WorkflowExecutionStatus.TERMINATED)
            assert len(running) <= 1, statuses
            assert stopped in statuses, statuses
        await handle.delete()


async def test_pause_stops_actions_and_unpause_resumes_them(client: Client):
    tq = uid("sched-tq")
    async with running_worker(client, tq, workflows=WORKFLOWS):
        handle = await client.create_schedule(
            uid("sched-pause"), Schedule(action=echo(tq, uid("pause-wf")), spec=every(1),
                                         policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL)))
        await actions(handle, 1)
        await handle.pause(note="quiet")
        paused_at = (await handle.describe()).info.num_actions
        await asyncio.sleep(3)
        assert (await handle.describe()).info.num_actions <= paused_at + 1  # one may have been under way
        held = (await handle.describe()).info.num_actions
        await asyncio.sleep(2)
        assert (await handle.describe()).info.num_actions == held
        await handle.unpause()
        await actions(handle, held + 2)
        await handle.delete()


@workflow.defn
class CountingWorkflow:
    """Returns how many runs of its schedule came before it, from the last completion result."""

    @workflow.run
    async def run(self) -> int:
        last = workflow.get_last_completion_result(type_hint=int)
        return 1 if last is None else last + 1


async def test_triggered_actions_show_at_once_and_pass_on_the_last_result(client: Client):
    tq, sid = uid("sched-tq"), uid("sched-lcr")
    async with running_worker(client, tq, workflows=[CountingWorkflow]):
        handle = await client.create_schedule(
            sid, Schedule(action=ScheduleActionStartWorkflow(CountingWorkflow.run, id=uid("lcr-wf"), task_queue=tq),
                          spec=ScheduleSpec(), state=ScheduleState(paused=True)),
            trigger_immediately=True)
        results = []
        for n in range(1, 4):
            if n > 1:
                await handle.trigger()
            # Describe answers once the trigger was acted on (as Temporal's does).
            desc = await handle.describe()
            assert desc.info.num_actions == n
            action = desc.info.recent_actions[-1].action
            results.append(await client.get_workflow_handle(action.workflow_id, run_id=action.first_execution_run_id)
                           .result())
        # Triggers within one second share a workflow id and still each start a run.
        assert results == [1, 2, 3]
        await handle.delete()
