"""Fault injection under load: history, matching and frontend run as separate processes on
PostgreSQL (tests/python/cluster.py) while Python SDK workers in this process run a steady
stream of order workflows (three activities, a timer, a signal sent by the test). Roles are
killed with SIGKILL and restarted, PostgreSQL is stopped for 10 s, history aborts at its crash
points; afterwards every acknowledged workflow must complete exactly once with its correct
result, promptly, and every history must replay cleanly with the SDK's Replayer.

Counts printed per test:
  started    workflows whose start the server acknowledged
  completed  ... that completed with the correct result
  stuck      ... still running at the deadline (last fault + task timeout + activity timeout + 30 s)
  lost       ... unknown to the server, or closed with a wrong result / not completed
Set SUNDIAL_KEEP_DB=1 to keep the database (and read the role logs under the test's tmp dir)."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from cluster import Cluster, psql
from wf_defs import uid

pytestmark = [pytest.mark.sundial_only, pytest.mark.process]

TASK_TIMEOUT = timedelta(seconds=10)  # workflow task timeout
ACTIVITY_TIMEOUT = timedelta(seconds=10)  # activity start-to-close timeout
# A workflow must be done this long after the last fault.
RECOVERY = TASK_TIMEOUT.total_seconds() + ACTIVITY_TIMEOUT.total_seconds() + 30
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500), backoff_coefficient=2.0,
                             maximum_interval=timedelta(seconds=2))
PG_CLUSTER = os.environ.get("SUNDIAL_TEST_PG_CLUSTER", "15 main").split()

# ---------------------------------------------------------------------------------------------
# the workload

# (workflow id, step) -> how many times the activity's effect was applied.
EFFECTS: collections.Counter = collections.Counter()
STEPS = ("reserve_stock", "charge_card", "ship_order")


@dataclass
class FaultOrder:
    order_id: str
    quantity: int
    unit_price: int


def discount_for(order: FaultOrder) -> int:
    return order.quantity % 5


def expected_result(order: FaultOrder) -> str:
    subtotal = order.quantity * order.unit_price
    return f"{order.order_id}:shipped:{subtotal * 108 // 100 - discount_for(order)}"


def _effect(step: str) -> None:
    EFFECTS[(activity.info().workflow_id, step)] += 1


@activity.defn
async def reserve_stock(order: FaultOrder) -> int:
    _effect("reserve_stock")
    return order.quantity * order.unit_price


@activity.defn
async def charge_card(order_id: str, subtotal: int) -> int:
    _effect("charge_card")
    return subtotal * 108 // 100


@activity.defn
async def ship_order(order_id: str, total: int, discount: int) -> str:
    _effect("ship_order")
    return f"{order_id}:shipped:{total - discount}"


@workflow.defn
class FaultOrderWorkflow:
    """Reserve, charge, wait a second, wait for the approval signal (carrying a discount), ship."""

    def __init__(self) -> None:
        self.discount: Optional[int] = None

    @workflow.signal
    def approve(self, discount: int) -> None:
        self.discount = discount

    @workflow.run
    async def run(self, order: FaultOrder) -> str:
        opts = dict(start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY)
        subtotal = await workflow.execute_activity(reserve_stock, order, **opts)
        total = await workflow.execute_activity(charge_card, args=[order.order_id, subtotal], **opts)
        await workflow.sleep(1)
        await workflow.wait_condition(lambda: self.discount is not None)
        return await workflow.execute_activity(ship_order, args=[order.order_id, total, self.discount], **opts)


# The SDK's core logs every retried call at WARN; through role kills that is thousands of lines.
_QUIET_RUNTIME: Optional[Runtime] = None


async def connect(address: str) -> Client:
    global _QUIET_RUNTIME
    if _QUIET_RUNTIME is None:
        _QUIET_RUNTIME = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
            filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))))
    return await Client.connect(address, runtime=_QUIET_RUNTIME)


TRANSIENT = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.INTERNAL,
             RPCStatusCode.UNKNOWN, RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.ABORTED,
             RPCStatusCode.CANCELLED)


async def retrying(call, what: str, *, timeout: float = 120.0):
    """``await call()`` until it does not fail with a transient gRPC error (a role or the database
    being down). Other errors propagate."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            return await call()
        except RPCError as e:
            if e.status not in TRANSIENT or time.monotonic() > deadline:
                raise AssertionError(f"{what}: {e.status.name if e.status else e.status}: {e.message}") from e
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


class Load:
    """Starts ``total`` workflows at ``rate`` per second with at most ``max_in_flight`` running, sends
    each its signal and waits for its result, retrying through faults."""

    def __init__(self, client: Client, task_queue: str, total: int, rate: float, max_in_flight: int):
        self.client = client
        self.task_queue = task_queue
        self.total = total
        self.rate = rate
        self.slots = asyncio.Semaphore(max_in_flight)
        self.orders: dict[str, FaultOrder] = {}
        self.acked: dict[str, Optional[str]] = {}  # workflow id -> first run id (None: found already started)
        self.results: dict[str, object] = {}
        self.errors: dict[str, str] = {}
        self.tasks: list[asyncio.Task] = []
        self.launched = asyncio.Event()

    def in_flight(self) -> int:
        return sum(1 for w in self.acked if w not in self.results)

    async def run(self) -> None:
        t0 = time.monotonic()
        for i in range(self.total):
            await self.slots.acquire()
            # Steady rate: never ahead of schedule (after a stall, catch up no faster than the rate).
            await asyncio.sleep(max(0.0, t0 + i / self.rate - time.monotonic()))
            t0 = max(t0, time.monotonic() - i / self.rate - 1.0)
            wid = uid("fault-order")
            self.orders[wid] = FaultOrder(wid, quantity=1 + i % 13, unit_price=100 + i)
            self.tasks.append(asyncio.create_task(self._one(wid)))
        self.launched.set()

    async def _one(self, wid: str) -> None:
        try:
            order = self.orders[wid]
            # Start, retrying through faults; "already started" means an earlier attempt went through.
            while True:
                try:
                    handle = await self.client.start_workflow(
                        FaultOrderWorkflow.run, order, id=wid, task_queue=self.task_queue,
                        task_timeout=TASK_TIMEOUT, rpc_timeout=timedelta(seconds=10))
                    self.acked[wid] = handle.first_execution_run_id
                    break
                except WorkflowAlreadyStartedError:
                    self.acked[wid] = None
                    handle = self.client.get_workflow_handle(wid)
                    break
                except RPCError as e:
                    if e.status not in TRANSIENT:
                        raise
                    await asyncio.sleep(0.5)
            await retrying(lambda: handle.signal(FaultOrderWorkflow.approve, discount_for(order),
                                                 rpc_timeout=timedelta(seconds=10)), f"signal {wid}", timeout=600)
            while True:
                try:
                    self.results[wid] = await handle.result(follow_runs=False)
                    return
                except WorkflowFailureError as e:
                    self.results[wid] = e
                    return
                except RPCError as e:
                    if e.status not in TRANSIENT:
                        raise
                    await asyncio.sleep(0.5)
        except Exception as e:  # noqa: BLE001 - reported in the counts
            self.errors[wid] = repr(e)
        finally:
            self.slots.release()

    async def wait_all(self, deadline: float) -> bool:
        """Waits until every workflow finished or ``deadline``; False if not all were even launched."""
        try:
            await asyncio.wait_for(self.launched.wait(), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            pass
        pending = [t for t in self.tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        for t in self.tasks:
            t.cancel()
        return self.launched.is_set()


async def start_workers(address: str, task_queue: str, count: int = 2) -> list[tuple[Worker, asyncio.Task]]:
    # One client (connection) per worker: the SDK allows one worker per client and task queue.
    workers = []
    for _ in range(count):
        w = Worker(await connect(address), task_queue=task_queue, workflows=[FaultOrderWorkflow],
                   activities=[reserve_stock, charge_card, ship_order],
                   workflow_runner=UnsandboxedWorkflowRunner(),
                   max_concurrent_workflow_tasks=100, max_concurrent_activities=100,
                   max_concurrent_workflow_task_polls=6, max_concurrent_activity_task_polls=6,
                   graceful_shutdown_timeout=timedelta(seconds=0))
        workers.append((w, asyncio.create_task(w.run())))
    return workers


async def stop_workers(workers) -> None:
    for w, task in workers:
        if not task.done():
            await asyncio.wait_for(w.shutdown(), 30)
    for w, task in workers:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise AssertionError(f"worker died: {task.exception()!r}")


# ---------------------------------------------------------------------------------------------
# checking


@dataclass
class Counts:
    name: str
    started: int = 0
    completed: int = 0
    stuck: int = 0
    lost: int = 0
    duplicate: int = 0
    replay_failures: int = 0
    seconds: float = 0.0

    def row(self) -> str:
        return (f"| {self.name:<28} | {self.started:>7} | {self.completed:>9} | {self.stuck:>5} | {self.lost:>4} "
                f"| {self.duplicate:>9} | {self.replay_failures:>11} | {self.seconds:>6.0f}s |")


def print_table(counts: Counts, notes: list[str]) -> None:
    print("\n| test                         | started | completed | stuck | lost | duplicate | replay-fail | time    |")
    print("|------------------------------|---------|-----------|-------|------|-----------|-------------|---------|")
    print(counts.row())
    for n in notes:
        print("  " + n)


async def check(client: Client, load: Load, counts: Counts, notes: list[str]) -> list:
    """Classifies every acknowledged workflow, checks activity effects, duplicate runs and replay;
    returns the histories of the completed workflows."""
    sem = asyncio.Semaphore(20)
    completed: list[str] = []
    stuck: list[str] = []
    lost: list[tuple[str, str]] = []
    duplicate: list[tuple[str, str]] = []
    histories = []

    async def classify(wid: str) -> None:
        async with sem:
            handle = client.get_workflow_handle(wid)
            try:
                desc = await retrying(lambda: handle.describe(rpc_timeout=timedelta(seconds=10)), f"describe {wid}")
            except AssertionError as e:
                if isinstance(e.__cause__, RPCError) and e.__cause__.status == RPCStatusCode.NOT_FOUND:
                    lost.append((wid, "unknown to the server"))
                    return
                raise
            if desc.status == WorkflowExecutionStatus.RUNNING:
                stuck.append(wid)
                return
            if desc.status != WorkflowExecutionStatus.COMPLETED:
                lost.append((wid, f"closed as {desc.status.name}"))
                return
            run_id = load.acked[wid]
            if run_id is not None and desc.run_id != run_id:
                duplicate.append((wid, f"latest run {desc.run_id} is not the acknowledged run {run_id}"))
            result = await retrying(lambda: handle.result(follow_runs=False, rpc_timeout=timedelta(seconds=10)),
                                    f"result {wid}")
            if result != expected_result(load.orders[wid]):
                lost.append((wid, f"result {result!r} != {expected_result(load.orders[wid])!r}"))
                return
            missing = [s for s in STEPS if EFFECTS[(wid, s)] < 1]
            if missing:
                lost.append((wid, f"completed but activities {missing} never ran"))
                return
            history = await retrying(lambda: handle.fetch_history(), f"history {wid}")
            closes = [e for e in history.events
                      if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED]
            if len(closes) != 1:
                duplicate.append((wid, f"{len(closes)} completion events"))
            ids = [e.event_id for e in history.events]
            if ids != list(range(1, len(ids) + 1)):
                duplicate.append((wid, f"event ids are not 1..n: {ids}"))
            histories.append(history)
            completed.append(wid)

    await asyncio.gather(*[classify(w) for w in load.acked])

    # Exactly one run per workflow id (each is started once; a second run would be a duplicate).
    runs: collections.Counter = collections.Counter()
    async for ex in client.list_workflows(f"WorkflowType = '{FaultOrderWorkflow.__name__}'"):
        runs[ex.id] += 1
    for wid, n in runs.items():
        if n > 1:
            duplicate.append((wid, f"{n} runs"))
    unknown = set(runs) - set(load.orders)
    if unknown:
        notes.append(f"{len(unknown)} workflows listed that the test never started: {sorted(unknown)[:3]}")

    # Replay every completed history with the SDK.
    replay_failures = {}
    if histories:
        replayer = Replayer(workflows=[FaultOrderWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
        async def each():
            for h in histories:
                yield h

        results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
        replay_failures = results.replay_failures

    retried = sum(1 for (w, s), n in EFFECTS.items() if w in load.orders and n > 1)
    counts.started = len(load.acked)
    counts.completed = len(completed)
    counts.stuck = len(stuck)
    counts.lost = len(lost)
    counts.duplicate = len(duplicate)
    counts.replay_failures = len(replay_failures)
    never_acked = [w for w in load.orders if w not in load.acked]
    notes.append(f"activities applied more than once (at-least-once, allowed): {retried}")
    notes.append(f"starts never acknowledged: {len(never_acked)}; load errors: {len(load.errors)} "
                 f"{list(load.errors.items())[:3]}")
    for wid in stuck[:5]:
        notes.append(f"stuck: {wid}")
    for wid, why in lost[:5]:
        notes.append(f"lost: {wid}: {why}")
    for wid, why in duplicate[:5]:
        notes.append(f"duplicate: {wid}: {why}")
    for run_id, err in list(replay_failures.items())[:5]:
        notes.append(f"replay failure: run {run_id}: {err!r}")
    return histories


def leftover_tasks(cluster: Cluster, older_than: float = 20.0) -> str:
    """What the database still holds for the queue processors: immediate tasks not carried out,
    and timers overdue by more than ``older_than`` seconds (a live owner should have fired them)."""
    overdue_before = time.time_ns() - int(older_than * 1e9)
    transfer = psql("select count(*) from transfer_tasks", cluster.db, check=False).strip()
    timers = psql(f"select count(*) from timer_tasks where visibility_timestamp < {overdue_before}",
                  cluster.db, check=False).strip()
    backlog = psql("select count(*) from tasks", cluster.db, check=False).strip()
    return f"database: {transfer} transfer tasks left, {timers} timers overdue by >{older_than:.0f}s, " \
           f"{backlog} matching backlog tasks"


def assert_counts(counts: Counts, notes: list[str], cluster: Cluster) -> None:
    if counts.stuck or counts.lost:
        notes.append(leftover_tasks(cluster))
    detail = "\n".join(notes) + "\nlogs:\n" + "\n".join(str(p) for p in cluster.logs) + f"\ndatabase {cluster.db}"
    assert counts.started > 0
    assert counts.stuck == 0, f"{counts.stuck} workflows stuck\n{detail}"
    assert counts.lost == 0, f"{counts.lost} workflows lost\n{detail}"
    assert counts.duplicate == 0, f"{counts.duplicate} duplicate completions\n{detail}"
    assert counts.replay_failures == 0, f"{counts.replay_failures} histories do not replay\n{detail}"
    assert counts.completed == counts.started, detail


# ---------------------------------------------------------------------------------------------
# faults


async def kill_and_restart(cluster: Cluster, role: str, load: Load, notes: list[str], down: float = 2.0) -> None:
    in_flight = load.in_flight()
    await asyncio.to_thread(cluster.kill, role, signal.SIGKILL)
    await asyncio.sleep(down)
    await asyncio.to_thread(cluster.restart, role)
    notes.append(f"kill -9 {role} with {in_flight} workflows in flight; restarted")
    assert in_flight > 0, f"the {role} kill hit no in-flight work"


def pg_ctl(action: str) -> None:
    args = ["pg_ctlcluster", *PG_CLUSTER, action]
    if action == "stop":
        args += ["-m", "fast"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{' '.join(args)}: {r.stdout}{r.stderr}"


async def database_outage(load: Load, notes: list[str], seconds: float = 10.0) -> None:
    """Stops PostgreSQL for ``seconds``; ALWAYS starts it again (others share it)."""
    in_flight = load.in_flight()
    try:
        await asyncio.to_thread(pg_ctl, "stop")
        await asyncio.sleep(seconds)
    finally:
        await asyncio.to_thread(pg_ctl, "start")
    notes.append(f"PostgreSQL stopped for {seconds:.0f}s with {in_flight} workflows in flight; started")
    assert in_flight > 0, "the database outage hit no in-flight work"


def assert_roles_alive(cluster: Cluster, notes: list[str]) -> None:
    dead = {name: r.proc.returncode for name, r in cluster.roles.items() if not r.alive()}
    assert not dead, f"roles died: {dead}\n" + "\n".join(notes) + "\n" + "\n".join(str(p) for p in cluster.logs)


# ---------------------------------------------------------------------------------------------
# tests


@pytest.fixture
def fault_cluster(tmp_path, request):
    env = getattr(request, "param", None)
    cluster = Cluster(tmp_path, env=env)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


async def run_with_faults(cluster: Cluster, name: str, total: int, rate: float, max_in_flight: int,
                          faults, hard_timeout: float) -> tuple[Counts, list[str]]:
    """Runs the load, awaits ``faults(load, notes)`` (which returns the monotonic time of the last
    fault) alongside, waits until RECOVERY after it, then checks everything."""
    EFFECTS.clear()
    began = time.monotonic()
    counts = Counts(name)
    notes: list[str] = []
    client = await connect(cluster.address)
    task_queue = uid("faults-tq")
    workers = await start_workers(cluster.address, task_queue)
    load = Load(client, task_queue, total, rate, max_in_flight)

    async def body() -> None:
        driver = asyncio.create_task(load.run())
        last_fault = await faults(load, notes)
        deadline = last_fault + RECOVERY
        if not await load.wait_all(deadline):
            notes.append(f"only {len(load.orders)} of {total} workflows launched by the deadline")
        driver.cancel()
        notes.append(f"{len(load.results)}/{len(load.acked)} results seen by the load "
                     f"{time.monotonic() - last_fault:.0f}s after the last fault")

    try:
        await asyncio.wait_for(body(), hard_timeout)
        await asyncio.wait_for(check(client, load, counts, notes), 180)
    finally:
        try:
            await stop_workers(workers)
        finally:
            counts.seconds = time.monotonic() - began
            print_table(counts, notes)
    return counts, notes


async def test_load_survives_role_kills_and_a_database_outage(fault_cluster):
    """1000 order workflows; kill -9 history, matching, frontend (each restarted), then PostgreSQL
    down for 10 s. Every acknowledged workflow completes once, correctly, within RECOVERY."""
    cluster = fault_cluster

    async def faults(load: Load, notes: list[str]) -> float:
        await asyncio.sleep(10)
        await kill_and_restart(cluster, "history", load, notes)
        await asyncio.sleep(10)
        await kill_and_restart(cluster, "matching", load, notes)
        await asyncio.sleep(10)
        await kill_and_restart(cluster, "frontend", load, notes)
        await asyncio.sleep(10)
        await database_outage(load, notes, 10)
        last = time.monotonic()
        await asyncio.sleep(5)
        assert_roles_alive(cluster, notes)
        return last

    counts, notes = await run_with_faults(cluster, "role kills + db outage", total=1000, rate=20,
                                          max_in_flight=150, faults=faults, hard_timeout=240)
    assert_counts(counts, notes, cluster)


CRASH_POINTS = ["history.before_commit", "history.after_commit"]


@pytest.mark.parametrize("fault_cluster,point",
                         [({"history": {"SUNDIAL_CRASH_AT": f"{p}:400"}}, p) for p in CRASH_POINTS],
                         indirect=["fault_cluster"], ids=CRASH_POINTS)
async def test_history_crash_point_loses_nothing(fault_cluster, point):
    """History aborts at a crash point mid-load (the 400th pass, a few seconds into ~100 workflows)
    and is restarted; nothing acknowledged is lost."""
    cluster = fault_cluster

    async def faults(load: Load, notes: list[str]) -> float:
        history = cluster.roles["history"]
        deadline = time.monotonic() + 60
        while history.alive():
            assert time.monotonic() < deadline, f"history never reached crash point {point}"
            await asyncio.sleep(0.05)
        in_flight = load.in_flight()
        crashed = time.monotonic()
        log = history.log_path.read_text(errors="replace")
        assert f"crash point {point} reached" in log, f"history exited {history.proc.returncode} otherwise:\n{log[-3000:]}"
        await asyncio.to_thread(cluster.restart, "history")
        notes.append(f"history aborted at {point} with {in_flight} workflows in flight; restarted")
        assert in_flight > 0, "the crash hit no in-flight work"
        return crashed

    counts, notes = await run_with_faults(cluster, point, total=100, rate=20, max_in_flight=60,
                                          faults=faults, hard_timeout=150)
    assert_counts(counts, notes, cluster)


# ---------------------------------------------------------------------------------------------
# a request cancelled while its transition commits


@workflow.defn
class QuickWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        return x + 1


class TableLock:
    """Holds ACCESS EXCLUSIVE on ``table`` from a psql session until ``release()``: history's
    commits (which write that table) wait meanwhile."""

    def __init__(self, db: str, table: str):
        from conftest import PG_HOST, PG_PORT, PG_USER
        self.proc = subprocess.Popen(["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", db, "-q"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     text=True)
        self.proc.stdin.write(f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + 10
        while psql(f"select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
                   f"where c.relname = '{table}' and l.mode = 'AccessExclusiveLock' and l.granted", db).strip() != "1":
            assert time.monotonic() < deadline, f"could not lock {table}"
            time.sleep(0.05)

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("COMMIT;\n")
            self.proc.stdin.close()
            self.proc.wait(10)


async def test_start_cancelled_during_its_commit_still_runs(fault_cluster):
    """A StartWorkflowExecution whose caller gives up (rpc timeout) while the commit waits on the
    database: once the database answers, the start commits; the workflow must then run (its first
    workflow task dispatched) without any restart."""
    cluster = fault_cluster
    client = await connect(cluster.address)
    task_queue = uid("cancel-tq")
    async with Worker(client, task_queue=task_queue, workflows=[QuickWorkflow],
                      workflow_runner=UnsandboxedWorkflowRunner(), graceful_shutdown_timeout=timedelta(seconds=0)):
        assert await client.execute_workflow(QuickWorkflow.run, 1, id=uid("warm"), task_queue=task_queue) == 2
        wid = uid("cancelled-start")
        lock = TableLock(cluster.db, "transfer_tasks")
        try:
            with pytest.raises(RPCError):
                await client.start_workflow(QuickWorkflow.run, 41, id=wid, task_queue=task_queue,
                                            rpc_timeout=timedelta(seconds=2))
        finally:
            lock.release()
        # The caller does what any client does after a timeout: start again (or learn it started).
        async def start_again() -> None:
            try:
                await client.start_workflow(QuickWorkflow.run, 41, id=wid, task_queue=task_queue,
                                            rpc_timeout=timedelta(seconds=10))
            except WorkflowAlreadyStartedError:
                pass

        await retrying(start_again, f"start {wid} again", timeout=30)
        handle = client.get_workflow_handle(wid)
        try:
            # No timeout is involved: a healthy server dispatches the first workflow task at once.
            result = await asyncio.wait_for(handle.result(), 20)
        except asyncio.TimeoutError:
            desc = await handle.describe()
            raise AssertionError(f"{wid} still {desc.status.name} 20s after its start committed; "
                                 f"{leftover_tasks(cluster, 0)}")
        assert result == 42


@workflow.defn
class WaitForGoWorkflow:
    def __init__(self) -> None:
        self.go: Optional[int] = None

    @workflow.signal
    def go_signal(self, value: int) -> None:
        self.go = value

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.go is not None)
        return self.go


async def test_signal_cancelled_while_its_commit_fails_leaves_no_phantom_state(fault_cluster):
    """A signal whose caller gives up while its commit waits, and whose commit then fails (the
    database connection is terminated): the signal was never acknowledged, so it may be lost, but
    the run must go on exactly as if it never happened: the next signal wakes the workflow, and
    the history has no gaps (it replays)."""
    cluster = fault_cluster
    client = await connect(cluster.address)
    task_queue = uid("phantom-tq")
    async with Worker(client, task_queue=task_queue, workflows=[WaitForGoWorkflow],
                      workflow_runner=UnsandboxedWorkflowRunner(), graceful_shutdown_timeout=timedelta(seconds=0)):
        handle = await client.start_workflow(WaitForGoWorkflow.run, id=uid("phantom"), task_queue=task_queue)

        async def first_task_done() -> bool:
            events = (await handle.fetch_history()).events
            return any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in events)

        deadline = time.monotonic() + 20
        while not await first_task_done():
            assert time.monotonic() < deadline, "first workflow task never completed"
            await asyncio.sleep(0.1)
        lock = TableLock(cluster.db, "transfer_tasks")
        try:
            with pytest.raises(RPCError):
                await handle.signal(WaitForGoWorkflow.go_signal, 1, rpc_timeout=timedelta(seconds=2))
            # Fail the commits waiting on the lock.
            killed = psql(f"select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = "
                          f"'{cluster.db}' and wait_event_type = 'Lock'", cluster.db).strip()
            assert int(killed) >= 1, "no commit was waiting on the lock"
        finally:
            lock.release()
        await retrying(lambda: handle.signal(WaitForGoWorkflow.go_signal, 2, rpc_timeout=timedelta(seconds=10)),
                       "second signal", timeout=30)
        try:
            result = await asyncio.wait_for(handle.result(), 20)
        except asyncio.TimeoutError:
            events = (await handle.fetch_history()).events
            raise AssertionError(f"workflow still running 20s after an acknowledged signal; history event ids "
                                 f"{[e.event_id for e in events]}; {leftover_tasks(cluster, 0)}")
        assert result in (1, 2)
        history = await handle.fetch_history()
        ids = [e.event_id for e in history.events]
        assert ids == list(range(1, len(ids) + 1)), f"history has gaps: {ids}"
        replayed = await Replayer(workflows=[WaitForGoWorkflow], workflow_runner=UnsandboxedWorkflowRunner()) \
            .replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, replayed.replay_failure
