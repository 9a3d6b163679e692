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

from cluster import Cluster, Role, free_port
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
            results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), 120)
            assert results == [2 * i + 2 for i in range(16)], "a workflow was lost or got a wrong result"
    finally:
        if second is not None:
            second.stop()
        cluster.stop()
