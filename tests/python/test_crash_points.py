"""Crash points (SUNDIAL_CRASH_AT, see crates/common/src/crash.rs) under load, with each role in
its own process on PostgreSQL: a role aborted at a point where a crash is most likely to lose
acknowledged work is started again, and every workflow still completes with its result.

matching.after_record_started: history has recorded a task started, matching dies before the
poller hears of it. The worker never gets that task; history's start-to-close timeouts must
retry it. Tasks other pollers had matched but not yet recorded must not be lost either: matching
acknowledges a task to history only once it can no longer lose it.

history.before_nexus_callback: a Nexus operation's handler workflow has closed, history dies
before its completion reaches the caller. The delivery is a queued task of the closed run: the
restarted history delivers it, once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import PendingActivityState, PendingWorkflowTaskState
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy

from conftest import PG_HOST, PG_PORT, PG_USER, sundial_bin_path
from cluster import Role, free_port, psql
from wf_defs import running_worker, uid

import nexusrpc
import nexusrpc.handler
from temporalio import nexus
from temporalio.api.enums.v1 import EventType
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import CreateNexusEndpointRequest
from temporalio.worker import Worker

pytestmark = pytest.mark.sundial_only

WORKFLOW_TASK_TIMEOUT = timedelta(seconds=10)
ACTIVITY_TIMEOUT = timedelta(seconds=10)
WORKFLOWS = 20


@activity.defn
async def crash_bump(x: int) -> int:
    return x + 1


@workflow.defn
class ThreeActivityWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        for _ in range(3):
            x = await workflow.execute_activity(
                crash_bump, x, start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=500)))
        return x


@pytest.fixture
def fixed_port_cluster(tmp_path):
    """history, matching and frontend as separate processes; history and matching on fixed
    ports, so a restarted one is found where its peers look for it."""
    db = f"sundial_cp_{uuid.uuid4().hex[:10]}"
    config = tmp_path / "cluster.yaml"
    config.write_text(
        "persistence:\n  numHistoryShards: 4\n  driver: postgres\n"
        f"  postgres: {{ host: {PG_HOST}, port: {PG_PORT}, user: {PG_USER}, password: \"\", database: {db} }}\n"
        "services:\n  frontend: { port: 0 }\n"
        f"  history: {{ port: {free_port()} }}\n  matching: {{ port: {free_port()} }}\n  worker: {{ port: 0 }}\n")
    subprocess.run([str(sundial_bin_path()), "schema", "setup", "--config", str(config)], check=True,
                   capture_output=True)
    roles: dict[str, Role] = {}
    try:
        yield config, roles, tmp_path
    finally:
        for r in roles.values():
            r.stop()
        psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


async def outcome(handle: WorkflowHandle, expected: int) -> str:
    try:
        return "completed" if await handle.result() == expected else "lost"
    except Exception:  # noqa: BLE001 - failed, terminated, timed out: the work is lost
        return "lost"


@pytest.mark.parametrize("nth", [3, 25])
async def test_matching_crash_after_record_started_loses_nothing(fixed_port_cluster, nth):
    config, roles, log_dir = fixed_port_cluster
    roles["history"] = Role(config, "history", log_dir)
    roles["matching"] = Role(config, "matching", log_dir,
                             env={"SUNDIAL_CRASH_AT": f"matching.after_record_started:{nth}"})
    roles["frontend"] = Role(config, "frontend", log_dir)
    for role in roles.values():
        role.wait_ready()
    client = await Client.connect(roles["frontend"].address)
    tq = uid("crash-tq")
    async with running_worker(client, tq, workflows=[ThreeActivityWorkflow], activities=[crash_bump]):
        handles = await asyncio.gather(*[
            client.start_workflow(ThreeActivityWorkflow.run, i * 10, id=uid("crash"), task_queue=tq,
                                  task_timeout=WORKFLOW_TASK_TIMEOUT)
            for i in range(WORKFLOWS)])
        results = [asyncio.create_task(outcome(h, i * 10 + 3)) for i, h in enumerate(handles)]

        matching = roles["matching"].proc
        deadline = time.monotonic() + 60
        while matching.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert matching.returncode == -signal.SIGABRT, \
            f"matching did not abort at its crash point: {matching.returncode}"
        assert "crash point matching.after_record_started reached" in roles["matching"].log_path.read_text()

        roles["matching"] = Role(config, "matching", log_dir).wait_ready()
        budget = (WORKFLOW_TASK_TIMEOUT + ACTIVITY_TIMEOUT).total_seconds() + 30
        restarted = time.monotonic()
        done, pending = await asyncio.wait(results, timeout=budget)
        elapsed = time.monotonic() - restarted

        stuck = []
        for h, r in zip(handles, results):
            if r in pending:
                r.cancel()
                desc = (await h.describe()).raw_description
                wft = desc.pending_workflow_task
                wft_state = (f"{PendingWorkflowTaskState.Name(wft.state)} attempt {wft.attempt}"
                             if desc.HasField("pending_workflow_task") else "none")
                acts = [f"{a.activity_id}: {PendingActivityState.Name(a.state)} attempt {a.attempt}"
                        for a in desc.pending_activities]
                stuck.append((h.id, wft_state, acts))
    completed = sum(1 for r in done if r.result() == "completed")
    lost = sum(1 for r in done if r.result() == "lost")
    print(f"crash at record #{nth}: started={len(handles)} completed={completed} stuck={len(stuck)} "
          f"lost={lost} (in {elapsed:.1f}s of {budget:.0f}s after the restart)")
    for wid, wft, acts in stuck:
        print(f"  stuck {wid}: workflow task {wft} activities {acts}")
    assert (len(stuck), lost) == (0, 0)
    assert completed == WORKFLOWS


@nexusrpc.service
class Doubler:
    double: nexusrpc.Operation[int, int]


@workflow.defn(sandboxed=False)
class DoublingWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        return 2 * x


@nexusrpc.handler.service_handler(service=Doubler)
class DoublerHandler:
    @nexus.workflow_run_operation
    async def double(self, ctx: nexus.WorkflowRunOperationContext, x: int) -> nexus.WorkflowHandle[int]:
        return await ctx.start_workflow(DoublingWorkflow.run, x, id=f"doubling-{uuid.uuid4()}")


@workflow.defn(sandboxed=False)
class NexusCaller:
    @workflow.run
    async def run(self, endpoint: str, x: int) -> int:
        client = workflow.create_nexus_client(service=Doubler, endpoint=endpoint)
        return await client.execute_operation(Doubler.double, x)


@pytest.mark.parametrize("nth", [1, 4])
async def test_history_crash_before_a_nexus_callback_loses_nothing(fixed_port_cluster, nth):
    config, roles, log_dir = fixed_port_cluster
    roles["history"] = Role(config, "history", log_dir,
                            env={"SUNDIAL_CRASH_AT": f"history.before_nexus_callback:{nth}"})
    roles["matching"] = Role(config, "matching", log_dir)
    roles["frontend"] = Role(config, "frontend", log_dir)
    for role in roles.values():
        role.wait_ready()
    client = await Client.connect(roles["frontend"].address)
    tq, endpoint = uid("nexus-crash-tq"), uid("crash-ep")
    await client.operator_service.create_nexus_endpoint(CreateNexusEndpointRequest(spec=EndpointSpec(
        name=endpoint,
        target=EndpointTarget(worker=EndpointTarget.Worker(namespace=client.namespace, task_queue=tq)))))
    calls = 10
    async with Worker(client, task_queue=tq, workflows=[DoublingWorkflow, NexusCaller],
                      nexus_service_handlers=[DoublerHandler()]):
        handles = await asyncio.gather(*[
            client.start_workflow(NexusCaller.run, args=[endpoint, i], id=uid("nexus-crash"), task_queue=tq,
                                  task_timeout=WORKFLOW_TASK_TIMEOUT)
            for i in range(calls)])
        results = [asyncio.create_task(outcome(h, 2 * i)) for i, h in enumerate(handles)]

        history = roles["history"].proc
        deadline = time.monotonic() + 60
        while history.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert history.returncode == -signal.SIGABRT, f"history did not abort at its crash point: {history.returncode}"
        assert "crash point history.before_nexus_callback reached" in roles["history"].log_path.read_text()

        roles["history"] = Role(config, "history", log_dir).wait_ready()
        budget = WORKFLOW_TASK_TIMEOUT.total_seconds() + 60
        done, pending = await asyncio.wait(results, timeout=budget)
        for r in pending:
            r.cancel()
        completed = sum(1 for r in done if r.result() == "completed")
        lost = sum(1 for r in done if r.result() == "lost")
        # Once each: no caller holds a second completion of its operation.
        twice = 0
        for h in handles:
            events = (await h.fetch_history()).events
            closes = [e for e in events if e.event_type == EventType.EVENT_TYPE_NEXUS_OPERATION_COMPLETED]
            twice += len(closes) > 1
    print(f"history crash before Nexus callback #{nth}: started={calls} completed={completed} "
          f"stuck={len(pending)} lost={lost} delivered twice={twice}")
    assert (len(pending), lost, twice) == (0, 0, 0)
    assert completed == calls
