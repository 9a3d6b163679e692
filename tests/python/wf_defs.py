"""Workflows, activities and worker helpers shared by the workflow-engine end-to-end
tests (tests/python/test_wf_*.py).

Everything here runs in the pytest process: activities are async and record their
calls in plain Python lists, so a test can assert exactly which activities ran and
with which attempt numbers. Workers use the unsandboxed workflow runner (workflow
code here is deterministic; the sandbox only gets in the way of test-module imports).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Awaitable, Callable, Optional, Sequence

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


# --------------------------------------------------------------------------------------
# generic helpers


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def event_name(event) -> str:
    """EVENT_TYPE_ACTIVITY_TASK_SCHEDULED -> ActivityTaskScheduled."""
    name = EventType.Name(event.event_type)
    assert name.startswith("EVENT_TYPE_"), name
    return "".join(part.capitalize() for part in name[len("EVENT_TYPE_"):].split("_"))


async def history_events(handle: WorkflowHandle) -> list:
    return list((await handle.fetch_history()).events)


async def event_types(handle: WorkflowHandle) -> list[str]:
    return [event_name(e) for e in await history_events(handle)]


def events_of(events: Sequence, name: str) -> list:
    return [e for e in events if event_name(e) == name]


async def wait_until(predicate: Callable[[], Awaitable[bool] | bool], *, timeout: float = 15.0,
                     interval: float = 0.05, what: str = "condition") -> None:
    """Poll ``predicate`` (sync or async) until it is truthy or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_for_event(handle: WorkflowHandle, name: str, *, timeout: float = 15.0) -> None:
    async def has() -> bool:
        return name in await event_types(handle)

    await wait_until(has, timeout=timeout, what=f"{name} in history of {handle.id}")


def new_worker(client: Client, task_queue: str, *, workflows: Sequence[type] = (),
               activities: Sequence[Callable] = (), **kwargs: Any) -> Worker:
    kwargs.setdefault("workflow_runner", UnsandboxedWorkflowRunner())
    kwargs.setdefault("graceful_shutdown_timeout", timedelta(seconds=0))
    return Worker(client, task_queue=task_queue, workflows=list(workflows),
                  activities=list(activities), **kwargs)


@asynccontextmanager
async def running_worker(client: Client, task_queue: str, **kwargs: Any):
    async with new_worker(client, task_queue, **kwargs) as w:
        yield w


# --------------------------------------------------------------------------------------
# 1. the order saga


ORDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)
ORDER_STEPS = ["ValidateOrder", "ProcessPayment", "FulfillOrder", "SendOrderConfirmation"]


@dataclass
class Order:
    order_id: str
    amount: int
    # Name of the activity that fails permanently (non-retryable), if any.
    fail_step: Optional[str] = None


@dataclass
class OrderResult:
    order_id: str
    status: str
    payment_id: str
    shipment_id: str
    confirmation_sent: bool


class OrderActivities:
    """The order activities; every call is recorded in ``calls`` as (name, order_id, attempt)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def _record(self, name: str, order: Order) -> None:
        self.calls.append((name, order.order_id, activity.info().attempt))
        if order.fail_step == name:
            raise ApplicationError(f"{name} failed for {order.order_id}", type=f"{name}Error",
                                   non_retryable=True)

    def names(self, order_id: str) -> list[str]:
        return [n for n, oid, _ in self.calls if oid == order_id]

    @activity.defn(name="ValidateOrder")
    async def validate_order(self, order: Order) -> bool:
        self._record("ValidateOrder", order)
        return True

    @activity.defn(name="ProcessPayment")
    async def process_payment(self, order: Order) -> str:
        self._record("ProcessPayment", order)
        return f"pay-{order.order_id}"

    @activity.defn(name="FulfillOrder")
    async def fulfill_order(self, order: Order) -> str:
        self._record("FulfillOrder", order)
        return f"ship-{order.order_id}"

    @activity.defn(name="SendOrderConfirmation")
    async def send_order_confirmation(self, order: Order) -> None:
        self._record("SendOrderConfirmation", order)

    @activity.defn(name="CancelOrder")
    async def cancel_order(self, order: Order) -> None:
        self._record("CancelOrder", order)

    @activity.defn(name="RefundPayment")
    async def refund_payment(self, order: Order) -> None:
        self._record("RefundPayment", order)

    def all(self) -> list[Callable]:
        return [self.validate_order, self.process_payment, self.fulfill_order,
                self.send_order_confirmation, self.cancel_order, self.refund_payment]


@workflow.defn(name="CreateOrderWorkflow")
class CreateOrderWorkflow:
    @workflow.run
    async def run(self, order: Order) -> OrderResult:
        def step(name: str, result_type: Optional[type] = None):
            return workflow.execute_activity(
                name, order, start_to_close_timeout=timedelta(seconds=10),
                retry_policy=ORDER_RETRY, result_type=result_type)

        await step("ValidateOrder", bool)
        try:
            payment_id = await step("ProcessPayment", str)
        except ActivityError as err:
            await step("CancelOrder")
            raise ApplicationError(f"payment failed for {order.order_id}", type="PaymentFailed",
                                   non_retryable=True) from err
        try:
            shipment_id = await step("FulfillOrder", str)
        except ActivityError as err:
            await step("RefundPayment")
            raise ApplicationError(f"fulfillment failed for {order.order_id}", type="FulfillmentFailed",
                                   non_retryable=True) from err
        confirmation_sent = True
        try:
            await step("SendOrderConfirmation")
        except ActivityError:
            workflow.logger.warning("confirmation failed; order still completes")
            confirmation_sent = False
        return OrderResult(order.order_id, "COMPLETED", payment_id, shipment_id, confirmation_sent)


# --------------------------------------------------------------------------------------
# 2. activity retries and timeouts


@dataclass
class ActivityCall:
    """Input for ``ActivityOptionsWorkflow``: run one activity with the given options."""

    activity: str
    arg: Any = None
    task_queue: Optional[str] = None
    start_to_close_ms: Optional[int] = None
    schedule_to_close_ms: Optional[int] = None
    schedule_to_start_ms: Optional[int] = None
    heartbeat_ms: Optional[int] = None
    initial_interval_ms: int = 100
    backoff: float = 1.0
    maximum_attempts: int = 0
    non_retryable_error_types: list[str] = field(default_factory=list)


def _ms(v: Optional[int]) -> Optional[timedelta]:
    return None if v is None else timedelta(milliseconds=v)


@workflow.defn(name="ActivityOptionsWorkflow")
class ActivityOptionsWorkflow:
    @workflow.run
    async def run(self, call: ActivityCall) -> Any:
        return await workflow.execute_activity(
            call.activity, call.arg,
            task_queue=call.task_queue,
            start_to_close_timeout=_ms(call.start_to_close_ms),
            schedule_to_close_timeout=_ms(call.schedule_to_close_ms),
            schedule_to_start_timeout=_ms(call.schedule_to_start_ms),
            heartbeat_timeout=_ms(call.heartbeat_ms),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=call.initial_interval_ms),
                backoff_coefficient=call.backoff,
                maximum_attempts=call.maximum_attempts,
                non_retryable_error_types=call.non_retryable_error_types or None,
            ),
        )


class FlakyActivities:
    """Activities whose behaviour is driven by their argument; attempts are recorded."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[int]] = {}
        self.heartbeat_details_seen: dict[str, list[Any]] = {}
        self.cancelled: list[str] = []

    def _attempt(self, key: str) -> int:
        attempt = activity.info().attempt
        self.attempts.setdefault(key, []).append(attempt)
        return attempt

    @activity.defn(name="FailTimes")
    async def fail_times(self, arg: dict) -> str:
        """Fails (retryably) until attempt ``succeed_on``; 0 = fail forever."""
        attempt = self._attempt(arg["key"])
        if arg.get("succeed_on") and attempt >= arg["succeed_on"]:
            return f"ok on attempt {attempt}"
        raise ApplicationError(f"attempt {attempt} failed", type=arg.get("type", "Transient"))

    @activity.defn(name="Sleep")
    async def sleep(self, arg: dict) -> str:
        """Heartbeats ``heartbeats`` times (every 100 ms), then sleeps ``sleep_ms``."""
        self._attempt(arg["key"])
        try:
            for i in range(arg.get("heartbeats", 0)):
                activity.heartbeat(i)
                await asyncio.sleep(0.1)
            await asyncio.sleep(arg["sleep_ms"] / 1000)
        except asyncio.CancelledError:
            self.cancelled.append(arg["key"])
            raise
        return "slept"

    @activity.defn(name="HeartbeatProgress")
    async def heartbeat_progress(self, arg: dict) -> Any:
        """Attempt 1: heartbeats progress, then fails. Attempt 2: returns the
        heartbeat details it was handed."""
        attempt = self._attempt(arg["key"])
        details = list(activity.info().heartbeat_details)
        self.heartbeat_details_seen.setdefault(arg["key"], []).append(details)
        if attempt == 1:
            activity.heartbeat({"progress": arg["progress"]})
            # Let the SDK's heartbeat batcher flush before failing.
            await asyncio.sleep(0.3)
            raise ApplicationError("crashed after heartbeat", type="Transient")
        return details

    def all(self) -> list[Callable]:
        return [self.fail_times, self.sleep, self.heartbeat_progress]


# --------------------------------------------------------------------------------------
# 3. signals and queries


@workflow.defn(name="SignalSumWorkflow")
class SignalSumWorkflow:
    def __init__(self) -> None:
        self.values: list[int] = []

    @workflow.run
    async def run(self, expected: int) -> int:
        await workflow.wait_condition(lambda: len(self.values) >= expected)
        return sum(self.values)

    @workflow.signal(name="add")
    def add(self, value: int) -> None:
        self.values.append(value)

    @workflow.query(name="total")
    def total(self) -> int:
        return sum(self.values)

    @workflow.query(name="count")
    def count(self) -> int:
        return len(self.values)


# --------------------------------------------------------------------------------------
# 4. timers


@workflow.defn(name="SleepWorkflow")
class SleepWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> str:
        start = workflow.now()
        await workflow.sleep(seconds)
        return f"slept {(workflow.now() - start).total_seconds():.1f}"


# --------------------------------------------------------------------------------------
# 5. cancel / terminate / id policies


class CleanupActivities:
    def __init__(self) -> None:
        self.cleaned: list[str] = []

    @activity.defn(name="Cleanup")
    async def cleanup(self, workflow_id: str) -> str:
        self.cleaned.append(workflow_id)
        return f"cleaned {workflow_id}"


@workflow.defn(name="CancellableWorkflow")
class CancellableWorkflow:
    def __init__(self) -> None:
        self.waiting = False

    @workflow.run
    async def run(self) -> str:
        try:
            self.waiting = True
            await workflow.wait_condition(lambda: False)
            return "unreachable"
        except asyncio.CancelledError:
            await workflow.execute_activity(
                "Cleanup", workflow.info().workflow_id,
                start_to_close_timeout=timedelta(seconds=10))
            raise

    @workflow.query(name="waiting")
    def is_waiting(self) -> bool:
        return self.waiting


@workflow.defn(name="WaitForeverWorkflow")
class WaitForeverWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn(name="EchoWorkflow")
class EchoWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        return f"echo {value}"


@workflow.defn(name="FailWorkflow")
class FailWorkflow:
    @workflow.run
    async def run(self, message: str) -> None:
        raise ApplicationError(message, {"why": "test"}, type="OrderRejected", non_retryable=True)


# --------------------------------------------------------------------------------------
# 7. describe: an activity stuck in retry backoff


@workflow.defn(name="PendingActivityWorkflow")
class PendingActivityWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        return await workflow.execute_activity(
            "FailWithHeartbeat", key,
            start_to_close_timeout=timedelta(seconds=10),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=60), maximum_attempts=10),
        )


class PendingActivities:
    def __init__(self) -> None:
        self.attempts: list[int] = []

    @activity.defn(name="FailWithHeartbeat")
    async def fail_with_heartbeat(self, key: str) -> str:
        self.attempts.append(activity.info().attempt)
        activity.heartbeat("hb-" + key)
        await asyncio.sleep(0.3)
        raise ApplicationError("first attempt fails", type="Transient")


# --------------------------------------------------------------------------------------
# workflows used by the CLI tests


@workflow.defn(name="GreetWorkflow")
class GreetWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            "Greet", name, start_to_close_timeout=timedelta(seconds=10))


@activity.defn(name="Greet")
async def greet(name: str) -> str:
    return f"Hello, {name}!"


ALL_WORKFLOWS = [
    CreateOrderWorkflow, ActivityOptionsWorkflow, SignalSumWorkflow, SleepWorkflow,
    CancellableWorkflow, WaitForeverWorkflow, EchoWorkflow, FailWorkflow,
    PendingActivityWorkflow, GreetWorkflow,
]
