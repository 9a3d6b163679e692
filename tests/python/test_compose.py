"""The docker compose deployment, end to end, as users run it (docker-compose.yml, .env).

The images are built by ``scripts/docker-images.sh --debug`` (cached: a re-run with the same
binaries takes seconds). The repository's docker-compose.yml, .env and dynamicconfig/ are
copied to a temporary project directory, so the test edits a copy of
dynamicconfig/docker.yaml and never the repository's file. Then, as project ``saaster``:

1. ``docker-compose -p saaster up -d`` of every service but temporal-ui (its image cannot be
   built here), waiting until every role is healthy;
2. the runbook: ``docker exec temporal-admin-tools tctl --ns order-service namespace register
   --retention 1``;
3. an order saga (CreateOrderWorkflow) run by a Python SDK worker on this host against
   127.0.0.1:7233;
4. editing the mounted dynamicconfig/docker.yaml changes order-service's workflow task timeout
   with no container restarted;
5. ``docker-compose -p saaster restart temporal``, then temporal-history killed (SIGKILL) under a
   small load (compose's restart policy brings it back): every workflow completes;
   temporal-history recreated on a new IP: the other roles find it through the membership rings;
6. ``docker-compose -p saaster down -v`` leaves no container, network or volume behind.

Teardown always runs ``down -v`` (also after a failure) and prints the containers' logs when a
step failed. Set SUNDIAL_COMPOSE_TEST=0 to skip the module (e.g. on a machine without docker);
``scripts/test.sh`` runs it by default and it fails when docker is unusable.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from conftest import REPO_ROOT
from wf_defs import CreateOrderWorkflow, EchoWorkflow, Order, OrderActivities, history_events, new_worker

PROJECT = "saaster"
IP_HOLDER = f"{PROJECT}-ip-holder"   # a plain container that takes history's old IP
ADDRESS = "127.0.0.1:7233"
NS = "order-service"
ROLES = ["temporal", "temporal-history", "temporal-matching", "temporal-worker"]
# Everything in docker-compose.yml except temporal-ui (temporalio/ui cannot be built here).
SERVICES = ["postgresql", "temporal-schema-setup", "temporal-history", "temporal-matching",
            "temporal", "temporal-worker", "temporal-admin-tools"]

pytestmark = [
    pytest.mark.sundial_only,
    pytest.mark.skipif(os.environ.get("SUNDIAL_COMPOSE_TEST", "1") == "0",
                       reason="SUNDIAL_COMPOSE_TEST=0"),
]


def run(*args: str, check: bool = True, timeout: float = 600, cwd: Path | None = None,
        quiet: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if not quiet and proc.returncode != 0:
        print(f"$ {' '.join(args)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}")
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


class Compose:
    """docker-compose -p saaster on a copy of the repository's compose project."""

    def __init__(self, project_dir: Path) -> None:
        self.dir = project_dir

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return run("docker-compose", "-p", PROJECT, "-f", str(self.dir / "docker-compose.yml"),
                   *args, check=check, timeout=timeout, cwd=self.dir)

    def dump_logs_if_failed(self) -> None:
        """Prints the state and logs of every container once, if a test of this module failed."""
        if getattr(self, "dumped", False) or self.session.testsfailed == self.failed_before:
            return
        self.dumped = True
        print(self("ps", check=False).stdout)
        for name in ROLES + ["temporal-postgresql", "temporal-schema-setup"]:
            logs = run("docker", "logs", "--tail", "80", name, check=False, quiet=True)
            print(f"----- logs {name}\n{logs.stdout}{logs.stderr}")

    @property
    def dynamic_config(self) -> Path:
        return self.dir / "dynamicconfig" / "docker.yaml"


def inspect(container: str) -> dict:
    out = run("docker", "inspect", container, check=False, quiet=True)
    if out.returncode != 0:
        return {}
    return json.loads(out.stdout)[0]


def ip_of(container: str) -> str:
    return inspect(container)["NetworkSettings"]["Networks"]["temporal-network"]["IPAddress"]


def health(container: str) -> str:
    state = inspect(container).get("State", {})
    if not state:
        return "missing"
    if not state.get("Running"):
        return f"not running ({state.get('Status')}, exit {state.get('ExitCode')})"
    return (state.get("Health") or {}).get("Status", "no healthcheck")


def wait_healthy(containers: list[str], timeout: float = 120) -> float:
    """Waits until every container's healthcheck passes; returns when (time.monotonic())."""
    deadline = time.monotonic() + timeout
    while True:
        states = {c: health(c) for c in containers}
        if all(s == "healthy" for s in states.values()):
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"not healthy after {timeout}s: {states}")
        time.sleep(0.5)


async def connect(namespace: str = NS, timeout: float = 60) -> Client:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client = await Client.connect(ADDRESS, namespace=namespace)
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


def project_leftovers() -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={PROJECT}"
    found = {
        "containers": run("docker", "ps", "-a", "--filter", label, "--format", "{{.Names}}").stdout.split(),
        "networks": run("docker", "network", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split(),
        "volumes": run("docker", "volume", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split(),
    }
    named = run("docker", "network", "ls", "--filter", "name=^temporal-network$", "--format", "{{.Name}}").stdout.split()
    found["networks"] += [n for n in named if n not in found["networks"]]
    return found


@pytest.fixture(scope="module")
def compose(tmp_path_factory, request):
    if shutil.which("docker") is None or shutil.which("docker-compose") is None:
        pytest.fail("docker and docker-compose are required (SUNDIAL_COMPOSE_TEST=0 skips this module)")
    started = time.monotonic()
    out = run("bash", str(REPO_ROOT / "scripts" / "docker-images.sh"), "--debug", timeout=3600)
    print(f"\n[compose] images ready in {time.monotonic() - started:.1f}s\n{out.stdout}")

    project = tmp_path_factory.mktemp("compose")
    for name in ("docker-compose.yml", "docker-compose.scaled.yml", ".env"):
        shutil.copy(REPO_ROOT / name, project / name)
    shutil.copytree(REPO_ROOT / "dynamicconfig", project / "dynamicconfig")
    os.chmod(project, 0o755)
    c = Compose(project)
    c("down", "-v", "--remove-orphans", check=False)   # leftovers of an interrupted run
    c.session = request.session
    c.failed_before = request.session.testsfailed
    try:
        started = time.monotonic()
        c("up", "-d", *SERVICES, timeout=300)
        wait_healthy(ROLES)
        print(f"[compose] up and healthy in {time.monotonic() - started:.1f}s")
        yield c
    finally:
        c.dump_logs_if_failed()
        run("docker", "rm", "-f", IP_HOLDER, check=False, quiet=True)
        c("down", "-v", "--remove-orphans", check=False)


def test_images_and_layout(compose):
    """Only the frontend (7233) is published; every role runs the same image."""
    images = {inspect(c)["Config"]["Image"] for c in ROLES}
    assert len(images) == 1, images
    published = {}
    for c in ROLES + ["temporal-postgresql", "temporal-admin-tools"]:
        ports = inspect(c)["NetworkSettings"]["Ports"] or {}
        published[c] = sorted(p for p, bindings in ports.items() if bindings)
    assert published == {**{c: [] for c in published}, "temporal": ["7233/tcp"]}, published
    assert inspect("temporal-schema-setup")["State"]["ExitCode"] == 0
    # Each role (bound to 0.0.0.0) recorded its container's own IP for its peers.
    rows = run("docker", "exec", "temporal-postgresql", "psql", "-U", "temporal", "-d", "temporal", "-At",
               "-c", "SELECT DISTINCT role, rpc_address, rpc_port FROM cluster_membership ORDER BY 1").stdout.split()
    expected = sorted(f"{role}|{ip_of(c)}|{port}" for role, c, port in
                      [(1, "temporal", 7233), (2, "temporal-history", 7234), (3, "temporal-matching", 7235),
                       (4, "temporal-worker", 7239)])
    assert rows == expected, (rows, expected)
    for c in ROLES:
        out = run("docker", "logs", c, quiet=True).stdout
        assert f"broadcast  {ip_of(c)}" in out, (c, out[:500])


def test_runbook_namespace_register(compose):
    run("docker", "exec", "temporal-admin-tools", "tctl", "--ns", NS, "namespace", "register", "--retention", "1")
    described = run("docker", "exec", "temporal-admin-tools", "tctl", "--ns", NS, "namespace", "describe").stdout
    assert NS in described, described
    # The temporal CLI in the same image reads TEMPORAL_ADDRESS=temporal:7233.
    out = run("docker", "exec", "temporal-admin-tools", "temporal", "operator", "namespace", "describe",
              "--namespace", NS, "-o", "json").stdout
    assert json.loads(out)["namespaceInfo"]["name"] == NS


async def run_orders(client: Client, n: int, tq: str) -> list:
    acts = OrderActivities()
    async with new_worker(client, tq, workflows=[CreateOrderWorkflow], activities=acts.all()):
        handles = [await client.start_workflow(CreateOrderWorkflow.run, Order(f"o-{uuid.uuid4().hex[:8]}", 10 + i),
                                               id=f"order-{uuid.uuid4()}", task_queue=tq)
                   for i in range(n)]
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), timeout=90)
    for r in results:
        assert r.status == "COMPLETED" and r.payment_id == f"pay-{r.order_id}", r
        assert acts.names(r.order_id) == ["ValidateOrder", "ProcessPayment", "FulfillOrder",
                                          "SendOrderConfirmation"]
    return results


async def test_order_saga_from_host_worker(compose):
    client = await connect()
    await run_orders(client, 3, f"order-service-task-queue-{uuid.uuid4().hex[:6]}")


async def started_task_timeout(client: Client) -> int:
    tq = f"dc-{uuid.uuid4().hex[:8]}"
    async with new_worker(client, tq, workflows=[EchoWorkflow]):
        handle = await client.start_workflow(EchoWorkflow.run, "hi", id=f"dc-{uuid.uuid4()}", task_queue=tq)
        await handle.result()
    events = await history_events(handle)
    return events[0].workflow_execution_started_event_attributes.workflow_task_timeout.ToSeconds()


async def test_dynamic_config_reload_without_restart(compose):
    client = await connect()
    before = {c: inspect(c)["State"]["StartedAt"] for c in ROLES}
    assert await started_task_timeout(client) == 10, "dynamicconfig/docker.yaml: 10s for order-service"
    text = compose.dynamic_config.read_text()
    assert 'workflow.workflowTaskTimeout:\n  - value: "10s"' in text
    time.sleep(1.1)  # a new mtime
    compose.dynamic_config.write_text(text.replace('workflow.workflowTaskTimeout:\n  - value: "10s"',
                                                   'workflow.workflowTaskTimeout:\n  - value: "17s"'))
    deadline = time.monotonic() + 60
    while (seen := await started_task_timeout(client)) != 17:
        assert time.monotonic() < deadline, f"still {seen}s a minute after the edit"
        await asyncio.sleep(2)
    after = {c: inspect(c)["State"]["StartedAt"] for c in ROLES}
    assert after == before, "no container may restart for a dynamic config change"


async def test_restart_frontend(compose):
    ip_before = ip_of("temporal")
    started = time.monotonic()
    compose("restart", "temporal", timeout=120)
    back = wait_healthy(["temporal"])
    print(f"[compose] frontend restarted and healthy in {back - started:.1f}s, IP {ip_before}->{ip_of('temporal')}")
    client = await connect()
    await run_orders(client, 2, f"after-restart-{uuid.uuid4().hex[:6]}")


async def test_history_killed_under_load(compose):
    """Orders keep being started while temporal-history's process is SIGKILLed; its restart
    policy (`restart: unless-stopped`) brings it back.
    Every acknowledged start must complete: nothing stuck, nothing lost."""
    client = await connect()
    tq = f"load-{uuid.uuid4().hex[:6]}"
    acts = OrderActivities()
    acked: list[str] = []
    unacked: list[str] = []
    history_ip_before = ip_of("temporal-history")
    restarts_before = inspect("temporal-history")["RestartCount"]

    async def load(duration: float) -> None:
        end = time.monotonic() + duration
        i = 0
        while time.monotonic() < end:
            wid = f"load-{uuid.uuid4()}"
            try:
                await asyncio.wait_for(
                    client.start_workflow(CreateOrderWorkflow.run, Order(f"l{i}", i), id=wid, task_queue=tq,
                                          execution_timeout=timedelta(minutes=10)),
                    timeout=10)
                acked.append(wid)
            except Exception:  # during the outage; the id is checked afterwards
                unacked.append(wid)
            i += 1
            await asyncio.sleep(0.2)

    async with new_worker(client, tq, workflows=[CreateOrderWorkflow], activities=acts.all(),
                          max_concurrent_workflow_tasks=20):
        loader = asyncio.create_task(load(25))
        await asyncio.sleep(6)
        crash("temporal-history")
        killed_at = time.monotonic()
        back = asyncio.create_task(asyncio.to_thread(wait_healthy, ["temporal-history"], 120))
        await loader
        healthy_at = await back
        print(f"[compose] temporal-history restarted and healthy {healthy_at - killed_at:.1f}s after the kill")

        deadline = time.monotonic() + 120
        states: dict[str, str] = {}
        while True:
            states = {}
            for wid in acked:
                try:
                    desc = await client.get_workflow_handle(wid).describe()
                    states[wid] = desc.status.name if desc.status else "UNKNOWN"
                except RPCError as err:
                    states[wid] = "LOST" if err.status == RPCStatusCode.NOT_FOUND else f"ERR {err.status.name}"
            if all(s == WorkflowExecutionStatus.COMPLETED.name for s in states.values()) \
                    or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)

    completed = sum(s == "COMPLETED" for s in states.values())
    lost = sum(s == "LOST" for s in states.values())
    stuck = len(states) - completed - lost
    unacked_existing = 0
    for wid in unacked:
        try:
            await client.get_workflow_handle(wid).describe()
            unacked_existing += 1
        except RPCError:
            pass
    after = inspect("temporal-history")
    history_ip_after = ip_of("temporal-history")
    print(f"[compose] history kill: started={len(acked)} completed={completed} stuck={stuck} lost={lost} "
          f"start-errors={len(unacked)} (of which created anyway: {unacked_existing}); "
          f"history restarts {restarts_before}->{after['RestartCount']}, IP {history_ip_before}->{history_ip_after}")
    if stuck:
        print("[compose] not completed:", {w: s for w, s in states.items() if s != "COMPLETED"})
    assert after["RestartCount"] > restarts_before, "compose's restart policy must bring history back"
    assert len(acked) >= 20, f"the load must keep going around the kill: {len(acked)} started"
    assert (stuck, lost) == (0, 0), f"stuck={stuck} lost={lost} of {len(acked)}"
    assert completed == len(acked)


async def test_history_replaced_on_a_new_ip(compose):
    """temporal-history is recreated while its old IP is taken by another container, so it comes back
    on a new IP (as after `docker compose up -d` recreates it and Docker hands its address out). The
    other roles must find it through cluster_membership and orders must complete."""
    old_ip = ip_of("temporal-history")
    try:
        compose("rm", "-s", "-f", "temporal-history", timeout=120)
        run("docker", "run", "-d", "--rm", "--name", IP_HOLDER, "--network", "temporal-network",
            "debian:bookworm-slim", "sleep", "600")
        compose("up", "-d", "--no-deps", "temporal-history", timeout=120)
        wait_healthy(["temporal-history"])
        new_ip = ip_of("temporal-history")
        if new_ip == old_ip:
            raise RuntimeError(f"precondition: history came back on its old IP {old_ip}")
        rows = run("docker", "exec", "temporal-postgresql", "psql", "-U", "temporal", "-d", "temporal", "-At", "-c",
                   "SELECT rpc_address FROM cluster_membership WHERE role = 2 "
                   "ORDER BY last_heartbeat DESC LIMIT 1").stdout.split()
        if rows != [new_ip]:
            raise RuntimeError(f"precondition: history must have recorded {new_ip}, found {rows}")

        client = await connect()
        tq = f"new-ip-{uuid.uuid4().hex[:6]}"
        acts = OrderActivities()
        started, completed = 0, 0
        async with new_worker(client, tq, workflows=[CreateOrderWorkflow], activities=acts.all()):
            for i in range(3):
                try:
                    handle = await asyncio.wait_for(client.start_workflow(
                        CreateOrderWorkflow.run, Order(f"n{i}", i), id=f"new-ip-{uuid.uuid4()}", task_queue=tq),
                        timeout=15)
                    started += 1
                    await asyncio.wait_for(handle.result(), timeout=30)
                    completed += 1
                except (asyncio.TimeoutError, RPCError) as err:
                    print(f"[compose] history on a new IP ({old_ip} -> {new_ip}): order {i}: {type(err).__name__} {err}")
        print(f"[compose] history on a new IP ({old_ip} -> {new_ip}): started={started} completed={completed} of 3")
        assert completed == 3, f"history moved {old_ip} -> {new_ip}: {completed} of 3 orders completed"
    finally:
        run("docker", "rm", "-f", IP_HOLDER, check=False, quiet=True)


def crash(container: str) -> None:
    """SIGKILLs the container's main process from the host: a crash, which the container's
    restart policy answers. (`docker kill` would not do: Docker marks a container it kills
    itself as stopped by the user and never restarts it by policy; on this engine it stays
    `Exited (137)` with `restart: unless-stopped`, `on-failure` and `always` alike.)"""
    pid = inspect(container)["State"]["Pid"]
    assert pid > 0, f"{container} is not running"
    os.kill(pid, signal.SIGKILL)

async def test_schedule_fires_through_the_worker_container(compose):
    """The worker container runs the scheduler: a schedule created with the temporal CLI in the
    admin-tools container starts runs, named by their nominal time."""
    client = await connect()
    sid, wid, tq = f"sched-{uuid.uuid4().hex[:6]}", f"sched-wf-{uuid.uuid4().hex[:6]}", f"sched-{uuid.uuid4().hex[:6]}"
    run("docker", "exec", "temporal-admin-tools", "temporal", "schedule", "create", "--namespace", NS,
        "--schedule-id", sid, "--interval", "2s", "--workflow-id", wid, "--task-queue", tq,
        "--type", "EchoWorkflow", "--input", '"compose"', "--overlap-policy", "AllowAll")
    handle = client.get_schedule_handle(sid)
    async with new_worker(client, tq, workflows=[EchoWorkflow]):
        deadline = time.monotonic() + 60
        while (desc := await handle.describe()).info.num_actions < 2:
            assert time.monotonic() < deadline, "the schedule never fired twice"
            await asyncio.sleep(0.5)
        action = desc.info.recent_actions[0]
        assert action.action.workflow_id.startswith(f"{wid}-")
        assert await client.get_workflow_handle(action.action.workflow_id).result() == "echo compose"
    await handle.delete()


async def test_scaled_out_layout(compose):
    """docker-compose.scaled.yml adds a second process of every role: the rings hold two of
    each, every shard is served by one of the history containers, workflows started through
    either frontend complete, and they still complete when the history container serving the
    most shards is killed."""
    scaled = ["temporal-history2", "temporal-matching2", "temporal-frontend2", "temporal-worker2"]
    run("docker-compose", "-p", PROJECT, "-f", str(compose.dir / "docker-compose.yml"),
        "-f", str(compose.dir / "docker-compose.scaled.yml"), "up", "-d", *scaled, cwd=compose.dir, timeout=300)
    wait_healthy(scaled)

    def members() -> dict:
        out = run("docker", "exec", "temporal-admin-tools", "tctl", "admin", "membership", "list_gossip",
                  "--output", "json", quiet=True, check=False).stdout
        try:
            return {r["role"]: r["memberCount"] for r in json.loads(out)}
        except ValueError:
            return {}

    deadline = time.monotonic() + 60
    while not all(members().get(r) == 2 for r in ("frontend", "history", "matching", "worker")):
        assert time.monotonic() < deadline, f"rings never held two of each role: {members()}"
        await asyncio.sleep(1)
    shards = json.loads(run("docker", "exec", "temporal-admin-tools", "tctl", "admin", "shard", "list",
                            "--output", "json").stdout)
    # Shards go where the ring's hash puts them: with the compose file's 4 shards both hosts
    # usually get some, but one host may get all. Either way the host that serves the most is
    # the one killed below, so the takeover is always exercised.
    ips = {name: next(iter(inspect(name)["NetworkSettings"]["Networks"].values()))["IPAddress"]
           for name in ("temporal-history", "temporal-history2")}
    served = {name: sum(1 for s in shards if s["owner"].rsplit(":", 1)[0] == ip) for name, ip in ips.items()}
    assert sum(served.values()) == len(shards), f"a shard is served by no history container: {shards} {ips}"
    victim = max(served, key=lambda name: served[name])
    print(f"shards per history container: {served}; killing {victim}")

    tq = f"scaled-{uuid.uuid4().hex[:6]}"
    first = await connect()
    second = await Client.connect("127.0.0.1:7236", namespace=NS)
    acts = OrderActivities()
    async with new_worker(first, tq, workflows=[CreateOrderWorkflow], activities=acts.all()):
        handles = [await c.start_workflow(CreateOrderWorkflow.run, Order(f"s{i}", 10 + i), id=f"scaled-{uuid.uuid4()}",
                                          task_queue=tq, execution_timeout=timedelta(minutes=5))
                   for i, c in enumerate([first, second] * 5)]
        crash(victim)
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), timeout=120)
    assert [r.status for r in results] == ["COMPLETED"] * len(handles)
    run("docker-compose", "-p", PROJECT, "-f", str(compose.dir / "docker-compose.yml"),
        "-f", str(compose.dir / "docker-compose.scaled.yml"), "rm", "-sf", *scaled, cwd=compose.dir)


def test_down_leaves_nothing(compose):
    compose.dump_logs_if_failed()
    compose("down", "-v", "--remove-orphans", timeout=180)
    left = project_leftovers()
    assert left == {"containers": [], "networks": [], "volumes": []}, left
