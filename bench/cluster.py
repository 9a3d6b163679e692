#!/usr/bin/env python3
"""Load against a multi-process cluster on PostgreSQL: one frontend, --matching M matching and
--history N history processes (each its own `sundial start --service ...`; history hosts share
the shards, matching hosts the task-queue partitions, by the membership ring), then
bench/load.py against the frontend. Prints load.py's figures and each process's CPU seconds.

  .venv/bin/python bench/cluster.py --sundial target/release/sundial --history 1 -n 500 -k 3
  .venv/bin/python bench/cluster.py --sundial target/release/sundial --history 2 -n 500 -k 3
  .venv/bin/python bench/cluster.py --sundial target/release/sundial --matching 2 -n 500 -k 3

Needs PostgreSQL at $PGHOST:$PGPORT (default 127.0.0.1:5432, trust auth, user postgres);
creates a database sundial_bench_<random> and drops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PG = (os.environ.get("PGHOST", "127.0.0.1"), os.environ.get("PGPORT", "5432"), os.environ.get("PGUSER", "postgres"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(path: Path, db: str, shards: int, ports: dict[str, int]) -> Path:
    path.write_text(
        "log:\n  level: warn\n"
        f"persistence:\n  numHistoryShards: {shards}\n  driver: postgres\n"
        f"  postgres: {{ host: {PG[0]}, port: {PG[1]}, user: {PG[2]}, password: \"\", database: {db}, maxConns: 40 }}\n"
        "services:\n" + "".join(f"  {r}: {{ port: {p} }}\n" for r, p in ports.items()))
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "Ready.":
            return
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"process {proc.args} did not get ready")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sundial", required=True)
    ap.add_argument("--history", type=int, default=1, help="history processes")
    ap.add_argument("--matching", type=int, default=1, help="matching processes")
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("-n", "--workflows", type=int, default=500)
    ap.add_argument("-k", "--activities", type=int, default=3)
    ap.add_argument("--in-flight", type=int, default=100)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sundial-bench-"))
    db = f"sundial_bench_{uuid.uuid4().hex[:8]}"
    base = {"frontend": free_port(), "history": free_port(), "matching": free_port(), "worker": free_port()}
    cfg = config(tmp / "cluster.yaml", db, args.shards, base)
    subprocess.run([args.sundial, "schema", "setup", "--config", str(cfg)], check=True, capture_output=True)
    procs: list[tuple[str, subprocess.Popen]] = []
    try:
        for role, count in (("history", args.history), ("matching", args.matching)):
            for i in range(count):
                ports = dict(base, **{role: free_port()}) if i else base
                c = config(tmp / f"{role}-{i}.yaml", db, args.shards, ports)
                procs.append((role, subprocess.Popen([args.sundial, "start", "--config", str(c), "--service", role],
                                                     stdout=subprocess.PIPE, text=True)))
        procs.append(("frontend", subprocess.Popen([args.sundial, "start", "--config", str(cfg), "--service", "frontend"],
                                                   stdout=subprocess.PIPE, text=True)))
        for _, p in procs:
            wait_ready(p)
        time.sleep(3)  # let every host settle on its shards and partitions
        before = {p.pid: cpu_seconds(p.pid) for _, p in procs}
        load = subprocess.run([sys.executable, str(Path(__file__).with_name("load.py")),
                               "--address", f"127.0.0.1:{base['frontend']}", "-n", str(args.workflows),
                               "-k", str(args.activities), "--in-flight", str(args.in_flight)],
                              capture_output=True, text=True)
        print(load.stdout[-1500:])
        for role, p in procs:
            print(f"{role:<9} pid {p.pid}: {cpu_seconds(p.pid) - before[p.pid]:.2f} CPU s")
        for role in ("history", "matching"):
            cpu = sum(cpu_seconds(p.pid) - before[p.pid] for r, p in procs if r == role)
            print(f"{role} CPU ms per workflow: {1000 * cpu / args.workflows:.2f}")
        return load.returncode
    finally:
        for _, p in procs:
            p.terminate()
        for _, p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["psql", "-h", PG[0], "-p", PG[1], "-U", PG[2], "-d", "postgres", "-qc",
                        f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
