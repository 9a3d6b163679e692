"""History shards spread over several history processes by the membership ring: each host
serves only its shards, workflows whose parent and child (or signaller and target) live on
different hosts still complete, and when one host is killed its shards are taken over by
the other within the membership timeout, losing nothing."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import Client

from cluster import Cluster, Role, extra_instance, free_port
from test_tctl import tctl
from wf_defs import running_worker, uid

pytestmark = pytest.mark.sundial_only

SHARDS = 8
# Membership timeout (10 s) + refresh + the time to acquire a shard, with room for CI.
TAKEOVER_BUDGET = 40


@activity.defn
async def double(x: int) -> int:
    return 2 * x


@workflow.defn
class ChildWorkflow:
    def __init__(self) -> None:
        self.bonus = 0

    @workflow.run
    async def run(self, x: int) -> int:
        y = await workflow.execute_activity(double, x, start_to_close_timeout=timedelta(seconds=10))
        await workflow.wait_condition(lambda: self.bonus != 0)
        return y + self.bonus

    @workflow.signal
    async def bonus_signal(self, bonus: int) -> None:
        self.bonus = bonus


@workflow.defn
class ParentWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        child = await workflow.start_child_workflow(ChildWorkflow.run, x, id=f"{workflow.info().workflow_id}-child")
        # Signalled by the parent: an external signal from one workflow to another.
        await child.signal(ChildWorkflow.bonus_signal, 1)
        return await child + 1


def owned_shards(log: Path) -> set[int]:
    """Shards a history process acquired and did not release since, from its log."""
    owned: set[int] = set()
    for line in log.read_text(errors="replace").splitlines():
        m = re.search(r"shard=(\d+)", line)
        if not m:
            continue
        if "acquired history shard" in line:
            owned.add(int(m.group(1)))
        elif "releasing it" in line:
            owned.discard(int(m.group(1)))
    return owned


async def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def run_parents(client: Client, queue: str, n: int, timeout: float) -> list[int]:
    handles = [await client.start_workflow(ParentWorkflow.run, i, id=uid("parent"), task_queue=queue)
               for i in range(n)]
    return await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), timeout)


async def print_history(client: Client, workflow_id: str, error: BaseException) -> None:
    """What a failed parent saw, and its child's history, so a failure explains itself."""
    print(f"FAILED {workflow_id}: {error!r} cause={error.__cause__!r}")
    for wid in (workflow_id, f"{workflow_id}-child"):
        try:
            history = await client.get_workflow_handle(wid).fetch_history()
        except Exception as e:  # noqa: BLE001 - diagnostics only
            print(f"  {wid}: no history ({e!r})")
            continue
        for event in history.events:
            attrs = event.WhichOneof("attributes")
            print(f"  {wid} #{event.event_id} {attrs}: {str(getattr(event, attrs))[:300]!r}")


async def test_shards_spread_over_history_hosts_and_move_when_one_dies(tmp_path):
    cluster = Cluster(tmp_path, shards=SHARDS).start()
    second = None
    try:
        # A second history process on its own port, same database.
        config_b = tmp_path / "history-b.yaml"
        config_b.write_text(cluster.config.read_text().replace(
            f"history: {{ port: {cluster.ports['history']} }}", f"history: {{ port: {free_port()} }}"))
        second = Role(config_b, "history", tmp_path, incarnation=7).wait_ready()
        first_log = cluster.roles["history"].log_path

        # The shards split between the two hosts, none served twice.
        def split() -> bool:
            a, b = owned_shards(first_log), owned_shards(second.log_path)
            return bool(a) and bool(b) and not (a & b) and len(a | b) == SHARDS
        await wait_for(split, TAKEOVER_BUDGET, "the shards to split between two history hosts")
        print(f"shards: first {sorted(owned_shards(first_log))}, second {sorted(owned_shards(second.log_path))}")

        # The admin view: both history hosts in the ring, and each shard named with the host
        # that serves it.
        gossip = json.loads(tctl(cluster.address, "admin", "membership", "list_gossip", "--output", "json").stdout)
        history_ring = next(r for r in gossip if r["role"] == "history")
        assert history_ring["memberCount"] == 2, gossip
        listed = json.loads(tctl(cluster.address, "adm", "s", "l", "--output", "json").stdout)
        by_host: dict[str, set[int]] = {}
        for item in listed:
            by_host.setdefault(item["owner"], set()).add(item["shardId"])
        assert sorted(by_host.values(), key=min) == sorted(
            [owned_shards(first_log), owned_shards(second.log_path)], key=min), (listed, by_host)
        one = json.loads(tctl(cluster.address, "admin", "shard", "describe", "--shard_id", "3", "--output", "json").stdout)
        assert one["shardId"] == 3 and 3 in by_host[one["owner"]], one

        client = await Client.connect(cluster.address)
        queue = uid("hosts-q")
        async with running_worker(client, queue, workflows=[ParentWorkflow, ChildWorkflow], activities=[double]):
            results = await run_parents(client, queue, 16, timeout=90)
            assert results == [2 * i + 2 for i in range(16)]

            # Kill the second host under load: its shards move to the first.
            handles = [await client.start_workflow(ParentWorkflow.run, i, id=uid("parent"), task_queue=queue)
                       for i in range(16)]
            second.stop(signal.SIGKILL)
            killed = time.monotonic()
            await wait_for(lambda: len(owned_shards(first_log)) == SHARDS, TAKEOVER_BUDGET,
                           "the surviving host to take every shard")
            takeover = time.monotonic() - killed
            print(f"every shard served again {takeover:.1f}s after the kill")
            outcomes = await asyncio.wait_for(
                asyncio.gather(*[h.result() for h in handles], return_exceptions=True), 120)
            for h, outcome in zip(handles, outcomes):
                if isinstance(outcome, BaseException):
                    await print_history(client, h.id, outcome)
            assert outcomes == [2 * i + 2 for i in range(16)], "a workflow was lost or got a wrong result"
    finally:
        if second is not None:
            second.stop()
        cluster.stop()


async def test_two_of_every_role_and_a_matching_host_killed(tmp_path):
    """Two frontends, two matching and two history processes: workflows started through either
    frontend complete; matching hosts split the task queues; one matching host is killed with
    SIGKILL under load and every workflow still completes."""
    cluster = Cluster(tmp_path, shards=SHARDS).start()
    extra: dict[str, Role] = {}
    try:
        for n, service in enumerate(("history", "matching", "frontend")):
            extra[service] = extra_instance(cluster, service, tmp_path, 10 + n)
        for role in extra.values():
            role.wait_ready()
        def members() -> dict:
            return {r["role"]: r["memberCount"] for r in json.loads(
                tctl(cluster.address, "admin", "membership", "list_gossip", "--output", "json").stdout)}
        await wait_for(lambda: members()["history"] == members()["matching"] == members()["frontend"] == 2,
                       TAKEOVER_BUDGET, "two of every role in the rings")

        clients = [await Client.connect(cluster.address), await Client.connect(extra["frontend"].address)]
        queues = [uid("scaled-q") for _ in range(4)]
        # Each partition of a queue has its own place on the ring, so the queues' partitions
        # (4 each by default) spread over both matching hosts; the admin view names each one's.
        owners: set[str] = set()
        for q in queues:
            listed = json.loads(tctl(cluster.address, "taskqueue", "list-partition", "--taskqueue", q,
                                     "--output", "json").stdout)
            parts = listed["workflowTaskQueuePartitions"] + listed["activityTaskQueuePartitions"]
            assert len(parts) == 8, listed
            owners |= {p["ownerHostName"] for p in parts}
        assert len(owners) == 2 and f"127.0.0.1:{cluster.ports['matching']}" in owners, owners
        workers = [running_worker(clients[i % 2], q, workflows=[ParentWorkflow, ChildWorkflow], activities=[double])
                   for i, q in enumerate(queues)]
        for w in workers:
            await w.__aenter__()
        try:
            async def batch(n: int) -> list:
                return [await clients[i % 2].start_workflow(ParentWorkflow.run, i, id=uid("scaled"),
                                                          task_queue=queues[i % len(queues)])
                        for i in range(n)]
            first = await batch(16)
            assert await asyncio.wait_for(asyncio.gather(*[h.result() for h in first]), 90) == \
                [2 * i + 2 for i in range(16)]

            handles = await batch(16)
            extra["matching"].stop(signal.SIGKILL)
            try:
                results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), 150)
            except asyncio.TimeoutError:
                for h in handles:
                    d = await h.describe()
                    if d.status.name != "COMPLETED":
                        raw = d.raw_description
                        print("STUCK", h.id, d.status.name, "pending wt:", raw.pending_workflow_task,
                              "activities:", list(raw.pending_activities), "children:", list(raw.pending_children))
                raise
            assert results == [2 * i + 2 for i in range(16)], "a workflow was lost or got a wrong result"
        finally:
            for w in workers:
                await w.__aexit__(None, None, None)
    finally:
        for role in extra.values():
            role.stop()
        cluster.stop()
