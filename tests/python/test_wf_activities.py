"""Activity retries, the four activity timeout kinds and heartbeat details across
attempts. Each case runs one activity from ``ActivityOptionsWorkflow`` with the
options given in an ``ActivityCall``.

Reference behaviour (Temporal 1.32 dev server) these tests pin down:
  * retries write no history between attempts: one ActivityTaskScheduled, one
    ActivityTaskStarted written at the end with the final attempt number and the
    previous attempt's failure as ``last_failure``;
  * retry states: exhausted -> RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED, non-retryable
    type -> RETRY_STATE_NON_RETRYABLE_FAILURE, schedule-to-close and schedule-to-start
    timeouts -> RETRY_STATE_TIMEOUT, start-to-close / heartbeat timeout on the last
    allowed attempt -> RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
  * a schedule-to-start timeout leaves no ActivityTaskStarted at all.
"""

from __future__ import annotations

from typing import Optional

from temporalio.api.enums.v1 import RetryState, TimeoutType
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError
from temporalio.exceptions import RetryState as SdkRetryState
from temporalio.exceptions import TimeoutType as SdkTimeoutType

from wf_defs import (ActivityCall, ActivityOptionsWorkflow, FlakyActivities, event_name, events_of,
                     history_events, running_worker, uid)

PROLOGUE = ["WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
            "WorkflowTaskCompleted", "ActivityTaskScheduled"]
EPILOGUE = ["WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted"]


async def run_call(client, call: ActivityCall, acts: Optional[FlakyActivities] = None):
    acts = acts or FlakyActivities()
    tq = uid("act-tq")
    async with running_worker(client, tq, workflows=[ActivityOptionsWorkflow], activities=acts.all()):
        handle = await client.start_workflow(ActivityOptionsWorkflow.run, call, id=uid("act"),
                                             task_queue=tq)
        try:
            return acts, handle, await handle.result(), None
        except WorkflowFailureError as e:
            return acts, handle, None, e


def activity_error(err: Optional[WorkflowFailureError]) -> ActivityError:
    assert err is not None, "workflow should have failed"
    assert isinstance(err.cause, ActivityError), repr(err.cause)
    return err.cause


async def test_activity_retry_then_success(client):
    call = ActivityCall("FailTimes", {"key": "k", "succeed_on": 3}, start_to_close_ms=5000,
                        initial_interval_ms=100)
    acts, handle, result, err = await run_call(client, call)
    assert err is None
    assert result == "ok on attempt 3"
    assert acts.attempts["k"] == [1, 2, 3]

    events = await history_events(handle)
    assert [event_name(e) for e in events] == [
        *PROLOGUE, "ActivityTaskStarted", "ActivityTaskCompleted", *EPILOGUE, "WorkflowExecutionCompleted"]
    assert len(events_of(events, "ActivityTaskScheduled")) == 1
    (started,) = events_of(events, "ActivityTaskStarted")
    attrs = started.activity_task_started_event_attributes
    assert attrs.attempt == 3
    assert attrs.last_failure.message == "attempt 2 failed"
    assert attrs.last_failure.application_failure_info.type == "Transient"
    assert attrs.scheduled_event_id == events_of(events, "ActivityTaskScheduled")[0].event_id
    completed = events_of(events, "ActivityTaskCompleted")[0].activity_task_completed_event_attributes
    assert completed.started_event_id == started.event_id


async def test_activity_retries_exhausted(client):
    call = ActivityCall("FailTimes", {"key": "k"}, start_to_close_ms=5000, maximum_attempts=3)
    acts, handle, _, err = await run_call(client, call)
    ae = activity_error(err)
    assert ae.retry_state == SdkRetryState.MAXIMUM_ATTEMPTS_REACHED
    assert isinstance(ae.cause, ApplicationError)
    assert ae.cause.type == "Transient"
    assert ae.cause.message == "attempt 3 failed"
    assert acts.attempts["k"] == [1, 2, 3]

    events = await history_events(handle)
    assert [event_name(e) for e in events] == [
        *PROLOGUE, "ActivityTaskStarted", "ActivityTaskFailed", *EPILOGUE, "WorkflowExecutionFailed"]
    assert events_of(events, "ActivityTaskStarted")[0].activity_task_started_event_attributes.attempt == 3
    failed = events_of(events, "ActivityTaskFailed")[0].activity_task_failed_event_attributes
    assert failed.retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    assert failed.failure.message == "attempt 3 failed"


async def test_activity_non_retryable_error_type(client):
    call = ActivityCall("FailTimes", {"key": "k", "type": "Fatal"}, start_to_close_ms=5000,
                        non_retryable_error_types=["Fatal"])
    acts, handle, _, err = await run_call(client, call)
    ae = activity_error(err)
    assert ae.retry_state == SdkRetryState.NON_RETRYABLE_FAILURE
    assert isinstance(ae.cause, ApplicationError) and ae.cause.type == "Fatal"
    assert acts.attempts["k"] == [1]
    events = await history_events(handle)
    assert [event_name(e) for e in events] == [
        *PROLOGUE, "ActivityTaskStarted", "ActivityTaskFailed", *EPILOGUE, "WorkflowExecutionFailed"]
    assert events_of(events, "ActivityTaskStarted")[0].activity_task_started_event_attributes.attempt == 1
    failed = events_of(events, "ActivityTaskFailed")[0].activity_task_failed_event_attributes
    assert failed.retry_state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE


def assert_timed_out(events, timeout_type, retry_state, *, started: bool = True):
    names = [event_name(e) for e in events]
    middle = ["ActivityTaskStarted", "ActivityTaskTimedOut"] if started else ["ActivityTaskTimedOut"]
    assert names == [*PROLOGUE, *middle, *EPILOGUE, "WorkflowExecutionFailed"]
    attrs = events_of(events, "ActivityTaskTimedOut")[0].activity_task_timed_out_event_attributes
    assert attrs.retry_state == retry_state, RetryState.Name(attrs.retry_state)
    assert attrs.failure.timeout_failure_info.timeout_type == timeout_type, \
        TimeoutType.Name(attrs.failure.timeout_failure_info.timeout_type)
    return attrs


async def test_activity_start_to_close_timeout(client):
    call = ActivityCall("Sleep", {"key": "k", "sleep_ms": 3000}, start_to_close_ms=500, maximum_attempts=2)
    acts, handle, _, err = await run_call(client, call)
    ae = activity_error(err)
    assert isinstance(ae.cause, TimeoutError)
    assert ae.cause.type == SdkTimeoutType.START_TO_CLOSE
    assert ae.retry_state == SdkRetryState.MAXIMUM_ATTEMPTS_REACHED
    assert acts.attempts["k"] == [1, 2]
    events = await history_events(handle)
    attrs = assert_timed_out(events, TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
                             RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED)
    started = events_of(events, "ActivityTaskStarted")[0].activity_task_started_event_attributes
    assert started.attempt == 2
    # The first attempt's timeout is carried as last_failure / as the cause.
    assert started.last_failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    assert attrs.failure.cause.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE


async def test_activity_schedule_to_close_timeout(client):
    call = ActivityCall("Sleep", {"key": "k", "sleep_ms": 3000}, schedule_to_close_ms=1000)
    acts, handle, _, err = await run_call(client, call)
    ae = activity_error(err)
    assert isinstance(ae.cause, TimeoutError)
    assert ae.cause.type == SdkTimeoutType.SCHEDULE_TO_CLOSE
    assert ae.retry_state == SdkRetryState.TIMEOUT
    assert acts.attempts["k"] == [1]
    events = await history_events(handle)
    assert_timed_out(events, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, RetryState.RETRY_STATE_TIMEOUT)


async def test_activity_heartbeat_timeout(client):
    # Heartbeats once, then goes silent for 3 s with a 500 ms heartbeat timeout.
    call = ActivityCall("Sleep", {"key": "k", "sleep_ms": 3000, "heartbeats": 1}, start_to_close_ms=10000,
                        heartbeat_ms=500, maximum_attempts=1)
    acts, handle, _, err = await run_call(client, call)
    ae = activity_error(err)
    assert isinstance(ae.cause, TimeoutError)
    assert ae.cause.type == SdkTimeoutType.HEARTBEAT
    assert ae.retry_state == SdkRetryState.MAXIMUM_ATTEMPTS_REACHED
    assert acts.attempts["k"] == [1]
    # The SDK noticed the timeout and cancelled the still-running activity.
    assert acts.cancelled == ["k"]
    events = await history_events(handle)
    assert_timed_out(events, TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
                     RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED)


async def test_activity_schedule_to_start_timeout(client):
    # Routed to a task queue nobody polls.
    call = ActivityCall("Sleep", {"key": "k", "sleep_ms": 10}, task_queue=uid("nobody"),
                        start_to_close_ms=5000, schedule_to_start_ms=1000)
    acts, handle, _, err = await run_call(client, call)
    ae = activity_error(err)
    assert isinstance(ae.cause, TimeoutError)
    assert ae.cause.type == SdkTimeoutType.SCHEDULE_TO_START
    assert ae.retry_state == SdkRetryState.TIMEOUT
    assert acts.attempts == {}
    events = await history_events(handle)
    assert_timed_out(events, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START, RetryState.RETRY_STATE_TIMEOUT,
                     started=False)
    scheduled = events_of(events, "ActivityTaskScheduled")[0].activity_task_scheduled_event_attributes
    assert scheduled.task_queue.name == call.task_queue


async def test_activity_heartbeat_details_reach_next_attempt(client):
    call = ActivityCall("HeartbeatProgress", {"key": "k", "progress": 42}, start_to_close_ms=5000,
                        heartbeat_ms=2000)
    acts, handle, result, err = await run_call(client, call)
    assert err is None
    assert result == [{"progress": 42}]
    assert acts.attempts["k"] == [1, 2]
    # First attempt saw no details, the second got what the first heartbeated.
    assert acts.heartbeat_details_seen["k"] == [[], [{"progress": 42}]]
    events = await history_events(handle)
    started = events_of(events, "ActivityTaskStarted")[0].activity_task_started_event_attributes
    assert started.attempt == 2
    assert started.last_failure.message == "crashed after heartbeat"

