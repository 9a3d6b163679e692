"""The order saga from the user's issue: CreateOrderWorkflow runs ValidateOrder ->
ProcessPayment -> FulfillOrder -> SendOrderConfirmation (each with RetryPolicy(1s, 2.0,
1min, 5 attempts)); a failing ProcessPayment runs CancelOrder and fails the workflow,
a failing FulfillOrder runs RefundPayment and fails the workflow, a failing
SendOrderConfirmation still completes it. Failures are injected as non-retryable
ApplicationErrors via ``Order.fail_step`` so every case takes one attempt."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import RetryState
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from wf_defs import (ORDER_STEPS, CreateOrderWorkflow, Order, OrderActivities, OrderResult,
                     event_name, events_of, history_events, running_worker, uid)

WFT = ["WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted"]


def activity_block(outcome: str = "ActivityTaskCompleted") -> list[str]:
    """One activity run to completion by one worker: scheduled/started/outcome, then
    the workflow task that reacts to it."""
    return ["ActivityTaskScheduled", "ActivityTaskStarted", outcome, *WFT]


def expected_history(blocks: list[list[str]], close: str) -> list[str]:
    seq = ["WorkflowExecutionStarted", *WFT]
    for b in blocks:
        seq += b
    return [*seq, close]


def scheduled_activity_types(events) -> list[str]:
    return [e.activity_task_scheduled_event_attributes.activity_type.name
            for e in events_of(events, "ActivityTaskScheduled")]


async def run_order(client, fail_step=None):
    acts = OrderActivities()
    tq = uid("saga-tq")
    order = Order(order_id=uid("order"), amount=4200, fail_step=fail_step)
    async with running_worker(client, tq, workflows=[CreateOrderWorkflow], activities=acts.all()):
        handle = await client.start_workflow(CreateOrderWorkflow.run, order, id=uid("saga"), task_queue=tq)
        try:
            result = await handle.result()
            error = None
        except WorkflowFailureError as e:
            result, error = None, e
    return acts, order, handle, result, error


def assert_each_activity_once(events, names: list[str]) -> None:
    """Each activity has exactly one Scheduled/Started/<outcome> triple, linked by ids."""
    assert scheduled_activity_types(events) == names
    by_id = {e.event_id: e for e in events}
    for started in events_of(events, "ActivityTaskStarted"):
        attrs = started.activity_task_started_event_attributes
        assert attrs.attempt == 1
        assert event_name(by_id[attrs.scheduled_event_id]) == "ActivityTaskScheduled"
    assert len(events_of(events, "ActivityTaskStarted")) == len(names)


async def test_saga_happy_path(client):
    acts, order, handle, result, error = await run_order(client)
    assert error is None
    assert result == OrderResult(order.order_id, "COMPLETED", f"pay-{order.order_id}",
                                 f"ship-{order.order_id}", True)
    assert acts.names(order.order_id) == ORDER_STEPS
    assert all(attempt == 1 for _, _, attempt in acts.calls)

    events = await history_events(handle)
    assert [event_name(e) for e in events] == expected_history(
        [activity_block() for _ in ORDER_STEPS], "WorkflowExecutionCompleted")
    assert_each_activity_once(events, ORDER_STEPS)
    # The retry policy from the workflow code reaches the server as given.
    for e in events_of(events, "ActivityTaskScheduled"):
        rp = e.activity_task_scheduled_event_attributes.retry_policy
        assert rp.initial_interval.ToSeconds() == 1
        assert rp.backoff_coefficient == 2.0
        assert rp.maximum_interval.ToSeconds() == 60
        assert rp.maximum_attempts == 5
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_saga_payment_fails_cancels_order(client):
    acts, order, handle, result, error = await run_order(client, "ProcessPayment")
    assert result is None and error is not None
    cause = error.cause
    assert isinstance(cause, ApplicationError) and cause.type == "PaymentFailed"
    assert isinstance(cause.cause, ActivityError)
    assert isinstance(cause.cause.cause, ApplicationError)
    assert cause.cause.cause.type == "ProcessPaymentError"
    assert cause.cause.cause.non_retryable

    assert acts.names(order.order_id) == ["ValidateOrder", "ProcessPayment", "CancelOrder"]
    events = await history_events(handle)
    assert [event_name(e) for e in events] == expected_history(
        [activity_block(), activity_block("ActivityTaskFailed"), activity_block()],
        "WorkflowExecutionFailed")
    assert_each_activity_once(events, ["ValidateOrder", "ProcessPayment", "CancelOrder"])
    failed = events_of(events, "ActivityTaskFailed")[0].activity_task_failed_event_attributes
    assert failed.retry_state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE
    assert failed.failure.application_failure_info.type == "ProcessPaymentError"
    assert failed.failure.application_failure_info.non_retryable
    wf_failed = events[-1].workflow_execution_failed_event_attributes
    assert wf_failed.failure.application_failure_info.type == "PaymentFailed"
    assert wf_failed.retry_state == RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED


async def test_saga_fulfillment_fails_refunds_payment(client):
    acts, order, handle, result, error = await run_order(client, "FulfillOrder")
    assert result is None and error is not None
    assert isinstance(error.cause, ApplicationError) and error.cause.type == "FulfillmentFailed"
    assert acts.names(order.order_id) == ["ValidateOrder", "ProcessPayment", "FulfillOrder", "RefundPayment"]
    assert "CancelOrder" not in acts.names(order.order_id)
    events = await history_events(handle)
    assert [event_name(e) for e in events] == expected_history(
        [activity_block(), activity_block(), activity_block("ActivityTaskFailed"), activity_block()],
        "WorkflowExecutionFailed")
    assert_each_activity_once(events, ["ValidateOrder", "ProcessPayment", "FulfillOrder", "RefundPayment"])
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED


async def test_saga_confirmation_fails_still_completes(client):
    acts, order, handle, result, error = await run_order(client, "SendOrderConfirmation")
    assert error is None
    assert result == OrderResult(order.order_id, "COMPLETED", f"pay-{order.order_id}",
                                 f"ship-{order.order_id}", False)
    names = acts.names(order.order_id)
    assert names == ORDER_STEPS
    assert "CancelOrder" not in names and "RefundPayment" not in names
    events = await history_events(handle)
    assert [event_name(e) for e in events] == expected_history(
        [activity_block(), activity_block(), activity_block(), activity_block("ActivityTaskFailed")],
        "WorkflowExecutionCompleted")
    assert_each_activity_once(events, ORDER_STEPS)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


@pytest.mark.parametrize("fail_step", ["ValidateOrder"])
async def test_saga_validation_fails_no_compensation(client, fail_step):
    acts, order, handle, result, error = await run_order(client, fail_step)
    assert error is not None
    assert isinstance(error.cause, ActivityError)
    assert acts.names(order.order_id) == ["ValidateOrder"]
    events = await history_events(handle)
    assert [event_name(e) for e in events] == expected_history(
        [activity_block("ActivityTaskFailed")], "WorkflowExecutionFailed")
