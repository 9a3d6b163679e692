"""The roles as separate processes on PostgreSQL, finding each other through
cluster_membership and talking gRPC: workflows run end to end, and a history process killed
with SIGKILL mid-load and started again loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import Client

from conftest import PG_HOST, PG_PORT, PG_USER, sundial_bin_path
from wf_defs import running_worker, uid

pytestmark = pytest.mark.sundial_only


@activity.defn
async def bump(x: int) -> int:
    return x + 1


@workflow.defn
class TwoStepWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        for _ in range(2):
            x = await workflow.execute_activity(bump, x, start_to_close_timeout=timedelta(seconds=10))
        await workflow.sleep(0.5)
        return x


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", "postgres", "-q", "-c", sql],
                   check=True, capture_output=True)


class Role:
    def __init__(self, config: Path, service: str, log_dir: Path, env: dict[str, str] | None = None):
        self.service = service
        self.address = None
        self.ready = threading.Event()
        self.log = log_dir / f"{service}-{uuid.uuid4().hex[:6]}.log"
        self.stderr = open(self.log, "wb")
        self.proc = subprocess.Popen([str(sundial_bin_path()), "start", "--config", str(config), "--service", service],
                                     stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL, text=True,
                                     env=None if env is None else {**os.environ, **env})
        threading.Thread(target=self._read, daemon=True).start()

    def wait_ready(self) -> "Role":
        # Roles wait for their peers to appear in cluster_membership, so start them all first.
        assert self.ready.wait(60), f"{self.service} did not start"
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 2 and parts[0] == "frontend":
                self.address = parts[1]
            if line.strip() == "Ready.":
                self.ready.set()

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def cluster(tmp_path):
    db = f"sundial_mp_{uuid.uuid4().hex[:10]}"
    history_port = free_port()
    config = tmp_path / "cluster.yaml"
    config.write_text(
        "persistence:\n  numHistoryShards: 4\n  driver: postgres\n"
        f"  postgres: {{ host: {PG_HOST}, port: {PG_PORT}, user: {PG_USER}, password: \"\", database: {db} }}\n"
        "services:\n  frontend: { port: 0 }\n"
        f"  history: {{ port: {history_port} }}\n  matching: {{ port: 0 }}\n  worker: {{ port: 0 }}\n")
    subprocess.run([str(sundial_bin_path()), "schema", "setup", "--config", str(config)], check=True,
                   capture_output=True)
    roles: dict[str, Role] = {}
    try:
        for service in ("history", "matching", "frontend"):
            roles[service] = Role(config, service, tmp_path)
        for role in roles.values():
            role.wait_ready()
        yield config, roles, tmp_path
    finally:
        for r in roles.values():
            r.stop()
        psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


async def test_roles_in_separate_processes_survive_a_history_crash(cluster):
    config, roles, log_dir = cluster
    client = await Client.connect(roles["frontend"].address)
    tq = uid("mp-tq")
    async with running_worker(client, tq, workflows=[TwoStepWorkflow], activities=[bump]):
        first = await client.start_workflow(TwoStepWorkflow.run, 0, id=uid("mp"), task_queue=tq)
        assert await first.result() == 2
        handles = [await client.start_workflow(TwoStepWorkflow.run, i, id=uid("mp"), task_queue=tq)
                   for i in range(10)]
        # Kill history mid-load; a new process takes the shards over on the same port.
        roles["history"].stop(signal.SIGKILL)
        roles["history"] = Role(config, "history", log_dir).wait_ready()
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), timeout=90)
    assert results == [i + 2 for i in range(10)]
