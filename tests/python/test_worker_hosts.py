"""Two worker-role processes share the schedules (each is fired by the one the worker ring
gives it to): every nominal time starts exactly one run, and when one worker process is
killed with SIGKILL its schedules carry on from the other, catching up the seconds missed."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import timedelta

import pytest
from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec,
                               ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec)

from cluster import Cluster, Role
from test_tctl import tctl
from wf_defs import EchoWorkflow, running_worker, uid, wait_until

pytestmark = [pytest.mark.sundial_only, pytest.mark.process]

SCHEDULES = 12


async def test_two_worker_processes_fire_each_action_once_and_take_over(tmp_path):
    cluster = Cluster(tmp_path, shards=4).start()
    workers = [Role(cluster.config, "worker", tmp_path, incarnation=i) for i in range(2)]
    try:
        for w in workers:
            w.wait_ready()

        def worker_members() -> int:
            rings = json.loads(tctl(cluster.address, "admin", "membership", "list_gossip", "--output", "json").stdout)
            return next((r["memberCount"] for r in rings if r["role"] == "worker"), 0)

        await wait_until(lambda: worker_members() == 2, timeout=40, what="two worker processes in the ring")
        client = await Client.connect(cluster.address)
        tq = uid("wh-tq")
        async with running_worker(client, tq, workflows=[EchoWorkflow]):
            handles = [await client.create_schedule(uid("wh"), Schedule(
                action=ScheduleActionStartWorkflow(EchoWorkflow.run, "t", id=uid("wh-wf"), task_queue=tq),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL))) for _ in range(SCHEDULES)]

            async def all_fired(n: int):
                descs = [await h.describe() for h in handles]
                return all(d.info.num_actions >= n for d in descs)

            await wait_until(lambda: all_fired(3), timeout=40, interval=0.5, what="every schedule firing")
            workers[0].stop(signal.SIGKILL)
            before = {h.id: (await h.describe()).info.num_actions for h in handles}
            # The survivor takes the dead process's schedules once it leaves the ring (10 s).
            await wait_until(lambda: all_fired(max(before.values()) + 8), timeout=60, interval=0.5,
                             what="every schedule firing after the kill")
            for h in handles:
                desc = await h.describe()
                times = sorted(a.scheduled_at for a in desc.info.recent_actions)
                ids = [a.action.workflow_id for a in desc.info.recent_actions]
                assert len(ids) == len(set(ids)), f"{h.id}: a nominal time started twice: {ids}"
                gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
                assert all(g == 1 for g in gaps), f"{h.id}: missed or doubled seconds: {gaps}"
            for h in handles:
                await h.delete()
    finally:
        for w in workers:
            w.stop()
        cluster.stop()
