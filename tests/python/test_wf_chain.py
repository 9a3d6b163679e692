"""Runs that start other runs: continue-as-new, workflow retry policies and cron schedules.
Each successor must be created in the same transition that closes its predecessor, and the
SDK's `result()` must follow the chain."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import ContinueAsNewInitiator, RetryState
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from wf_defs import event_name, history_events, running_worker, uid, wait_until


@workflow.defn
class CounterWorkflow:
    @workflow.run
    async def run(self, n: int, limit: int) -> int:
        if n < limit:
            workflow.continue_as_new(args=[n + 1, limit])
        return n


@workflow.defn
class FlakyWorkflow:
    @workflow.run
    async def run(self, succeed_on: int) -> str:
        attempt = workflow.info().attempt
        if attempt < succeed_on:
            raise ApplicationError(f"attempt {attempt} fails")
        return f"succeeded on attempt {attempt}"


@workflow.defn
class CronTickWorkflow:
    @workflow.run
    async def run(self) -> str:
        prev = workflow.info().cron_schedule
        return f"tick {prev}"


async def runs_of(client: Client, workflow_id: str) -> list:
    return [w async for w in client.list_workflows() if w.id == workflow_id]


async def test_continue_as_new_five_times(client):
    tq = uid("can-tq")
    wid = uid("can")
    async with running_worker(client, tq, workflows=[CounterWorkflow]):
        handle = await client.start_workflow(CounterWorkflow.run, args=[0, 5], id=wid, task_queue=tq)
        assert await handle.result() == 5
        first = client.get_workflow_handle(wid, run_id=handle.result_run_id or handle.first_execution_run_id)
        # Walk the chain from the first run through each ContinuedAsNew event.
        run_id = handle.first_execution_run_id
        chain = []
        while True:
            events = await history_events(client.get_workflow_handle(wid, run_id=run_id))
            chain.append(run_id)
            last = events[-1]
            if event_name(last) != "WorkflowExecutionContinuedAsNew":
                assert event_name(last) == "WorkflowExecutionCompleted"
                break
            attrs = last.workflow_execution_continued_as_new_event_attributes
            assert attrs.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW
            next_events = await history_events(client.get_workflow_handle(wid, run_id=attrs.new_execution_run_id))
            started = next_events[0].workflow_execution_started_event_attributes
            assert started.continued_execution_run_id == run_id
            assert started.first_execution_run_id == handle.first_execution_run_id
            run_id = attrs.new_execution_run_id
        assert len(chain) == 6
        desc = await client.get_workflow_handle(wid).describe()
        assert desc.run_id == chain[-1]
        assert desc.status == WorkflowExecutionStatus.COMPLETED
        old = await client.get_workflow_handle(wid, run_id=chain[0]).describe()
        assert old.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
        del first


async def test_workflow_retry_policy_fails_twice_then_succeeds(client):
    tq = uid("wfretry-tq")
    wid = uid("wfretry")
    policy = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0, maximum_attempts=5)
    async with running_worker(client, tq, workflows=[FlakyWorkflow]):
        handle = await client.start_workflow(FlakyWorkflow.run, 3, id=wid, task_queue=tq, retry_policy=policy)
        assert await handle.result() == "succeeded on attempt 3"
    first = await history_events(client.get_workflow_handle(wid, run_id=handle.first_execution_run_id))
    failed = first[-1]
    assert event_name(failed) == "WorkflowExecutionFailed"
    attrs = failed.workflow_execution_failed_event_attributes
    assert attrs.retry_state == RetryState.RETRY_STATE_IN_PROGRESS
    assert attrs.new_execution_run_id
    second = await history_events(client.get_workflow_handle(wid, run_id=attrs.new_execution_run_id))
    started = second[0].workflow_execution_started_event_attributes
    assert started.attempt == 2
    assert started.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY
    assert started.continued_failure.message == "attempt 1 fails"
    assert started.first_workflow_task_backoff.ToMilliseconds() == 100


async def test_workflow_retry_exhausted(client):
    tq = uid("wfretry-tq")
    policy = RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=2)
    async with running_worker(client, tq, workflows=[FlakyWorkflow]):
        handle = await client.start_workflow(FlakyWorkflow.run, 10, id=uid("wfretry"), task_queue=tq,
                                             retry_policy=policy)
        try:
            await handle.result()
            raise AssertionError("workflow should fail")
        except Exception as err:  # WorkflowFailureError
            assert "attempt 2 fails" in str(err.__cause__ or err)
    events = await history_events(handle)
    attrs = events[-1].workflow_execution_failed_event_attributes
    assert attrs.retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    assert attrs.new_execution_run_id == ""


async def test_cron_runs_on_schedule_until_terminated(client):
    tq = uid("cron-tq")
    wid = uid("cron")
    async with running_worker(client, tq, workflows=[CronTickWorkflow]):
        handle = await client.start_workflow(CronTickWorkflow.run, id=wid, task_queue=tq, cron_schedule="@every 1s")
        first = await history_events(client.get_workflow_handle(wid, run_id=handle.first_execution_run_id))
        backoff = first[0].workflow_execution_started_event_attributes.first_workflow_task_backoff
        assert 0 < backoff.ToMilliseconds() <= 1000

        async def completed_runs() -> bool:
            runs = await runs_of(client, wid)
            return sum(1 for r in runs if r.status == WorkflowExecutionStatus.COMPLETED) >= 2
        await wait_until(completed_runs, timeout=20, what="two cron runs")
        await client.get_workflow_handle(wid).terminate("enough")
    runs = await runs_of(client, wid)
    statuses = sorted(r.status.name for r in runs)
    assert statuses.count("TERMINATED") == 1, statuses
    assert statuses.count("COMPLETED") >= 2, statuses
    # Terminating stops the chain: no run is left open.
    assert "RUNNING" not in statuses
    completed = [r for r in runs if r.status == WorkflowExecutionStatus.COMPLETED][0]
    events = await history_events(client.get_workflow_handle(wid, run_id=completed.run_id))
    done = events[-1].workflow_execution_completed_event_attributes
    assert done.new_execution_run_id
    nxt = await history_events(client.get_workflow_handle(wid, run_id=done.new_execution_run_id))
    started = nxt[0].workflow_execution_started_event_attributes
    assert started.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
    assert started.last_completion_result.payloads


async def test_bad_cron_schedule_is_rejected(client):
    from temporalio.service import RPCError, RPCStatusCode
    try:
        await client.start_workflow(CronTickWorkflow.run, id=uid("cron-bad"), task_queue="x", cron_schedule="61 * * * *")
        raise AssertionError("start should fail")
    except RPCError as err:
        assert err.status == RPCStatusCode.INVALID_ARGUMENT
        assert "CronSchedule" in err.message
