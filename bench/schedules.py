#!/usr/bin/env python3
"""Schedules under load: N schedules firing every second (overlap ALLOW_ALL, no worker, so each
action is one workflow start) on one server process for a while; reports action lag (actual
start time minus nominal time, from each schedule's recent actions: p50/p99/max), actions per
second and the server's CPU seconds. Runs Sundial start-dev and, with --reference, Temporal's
`temporal server start-dev` in the same run, both in memory.

  .venv/bin/python bench/schedules.py --sundial target/release/sundial -n 1000 --seconds 60 --reference
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import time
import uuid
from datetime import timedelta

from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec,
                               ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children that were waited for."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024 if m else 0.0


def start_server(kind: str, binary: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    if kind == "sundial":
        cmd = [binary, "start-dev", "--ip", "127.0.0.1", "--port", str(port)]
    else:
        cmd = [shutil.which("temporal") or "temporal", "server", "start-dev", "--headless", "--ip", "127.0.0.1",
               "--port", str(port), "--http-port", str(free_port()), "--log-level", "error"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"127.0.0.1:{port}"


async def connect(address: str) -> Client:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await Client.connect(address)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def run(kind: str, binary: str, n: int, seconds: float) -> dict:
    proc, address = start_server(kind, binary)
    try:
        client = await connect(address)
        tag = uuid.uuid4().hex[:8]
        sem = asyncio.Semaphore(20)

        async def create(i: int):
            async with sem:
                await client.create_schedule(f"bench-{tag}-{i}", Schedule(
                    action=ScheduleActionStartWorkflow("NoWorker", id=f"bench-{tag}-{i}-wf", task_queue=f"nobody-{tag}"),
                    spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
                    policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL)))

        await asyncio.gather(*(create(i) for i in range(n)))
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        rss = rss_mib(proc.pid)
        lags, actions = [], 0

        async def describe(i: int):
            nonlocal actions
            async with sem:
                d = await client.get_schedule_handle(f"bench-{tag}-{i}").describe()
            actions += d.info.num_actions
            for a in d.info.recent_actions:
                lags.append((a.started_at - a.scheduled_at).total_seconds())

        await asyncio.gather(*(describe(i) for i in range(n)))
        lags.sort()
        q = statistics.quantiles(lags, n=100) if len(lags) > 1 else [0.0] * 99
        return {
            "server": kind, "schedules": n, "seconds": round(t1 - t0, 1),
            "actions_per_s": round(actions / max(t1 - t0, 1e-9), 1),
            "expected_per_s": n, "lag_p50_ms": round(q[49] * 1000), "lag_p99_ms": round(q[98] * 1000),
            "lag_max_ms": round(lags[-1] * 1000) if lags else 0,
            "server_cpu_s": round(cpu1 - cpu0, 1), "rss_mib": round(rss),
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sundial", default="target/release/sundial")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--reference", action="store_true", help="also run temporal server start-dev")
    args = ap.parse_args()
    kinds = ["sundial"] + (["reference"] if args.reference else [])
    for kind in kinds:
        print(asyncio.run(run(kind, args.sundial, args.n, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
