"""A multi-process Sundial cluster on PostgreSQL for the end-to-end tests that kill roles
(test_multiprocess.py, test_faults.py): one `sundial start --service ROLE` process per role
on a fresh database, each on a fixed port so a restarted role is found at the same address
by its peers and by clients, each writing its stderr (the server log) to its own file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Optional

from conftest import PG_HOST, PG_PORT, PG_USER, child_env, sundial_bin_path

ROLES = ("history", "matching", "frontend")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str, database: str = "postgres", check: bool = True) -> str:
    r = subprocess.run(["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", database, "-q",
                        "-v", "ON_ERROR_STOP=1", "-tAc", sql],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
    if check:
        assert r.returncode == 0, f"psql failed: {r.stderr}"
    return r.stdout


class Role:
    """One `sundial start --service NAME` process. ``env`` adds environment variables (e.g.
    SUNDIAL_CRASH_AT); the log file name says which incarnation of the role it is."""

    def __init__(self, config: Path, service: str, log_dir: Path, env: Optional[dict] = None,
                 incarnation: int = 0):
        self.service = service
        self.address: Optional[str] = None
        self.ready = threading.Event()
        self.log_path = log_dir / f"{service}-{incarnation}-{uuid.uuid4().hex[:6]}.log"
        self.stderr = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(sundial_bin_path()), "start", "--config", str(config), "--service", service],
                                     stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL, text=True,
                                     env=child_env(env))
        threading.Thread(target=self._read, daemon=True).start()

    def wait_ready(self, timeout: float = 60) -> "Role":
        # Roles wait for their peers to appear in cluster_membership, so start them all first.
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.service} exited with {self.proc.returncode} before Ready; "
                                     f"log {self.log_path}:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.service} did not start within {timeout}s; log {self.log_path}")
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 2 and parts[0] == "frontend":
                self.address = parts[1]
            if line.strip() == "Ready.":
                self.ready.set()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Cluster:
    """history, matching and frontend as separate processes on a fresh PostgreSQL database."""

    def __init__(self, log_dir: Path, shards: int = 4, env: Optional[dict[str, dict]] = None):
        self.log_dir = log_dir
        self.db = f"sundial_mp_{uuid.uuid4().hex[:10]}"
        self.ports = {role: free_port() for role in ROLES}
        self.config = log_dir / "cluster.yaml"
        self.config.write_text(
            f"persistence:\n  numHistoryShards: {shards}\n  driver: postgres\n"
            f"  postgres: {{ host: {PG_HOST}, port: {PG_PORT}, user: {PG_USER}, password: \"\", database: {self.db} }}\n"
            "services:\n"
            f"  frontend: {{ port: {self.ports['frontend']} }}\n"
            f"  history: {{ port: {self.ports['history']} }}\n"
            f"  matching: {{ port: {self.ports['matching']} }}\n"
            "  worker: { port: 0 }\n")
        self.roles: dict[str, Role] = {}
        self.incarnations = {role: 0 for role in ROLES}
        self.logs: list[Path] = []
        self.env = env or {}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ports['frontend']}"

    def start(self) -> "Cluster":
        subprocess.run([str(sundial_bin_path()), "schema", "setup", "--config", str(self.config)], check=True,
                       capture_output=True, env=child_env())
        for service in ROLES:
            self.roles[service] = self._spawn(service, self.env.get(service))
        for role in self.roles.values():
            role.wait_ready()
        return self

    def _spawn(self, service: str, env: Optional[dict]) -> Role:
        role = Role(self.config, service, self.log_dir, env, self.incarnations[service])
        self.incarnations[service] += 1
        self.logs.append(role.log_path)
        return role

    def kill(self, service: str, sig=signal.SIGKILL) -> None:
        self.roles[service].stop(sig)

    def restart(self, service: str, env: Optional[dict] = None) -> Role:
        """Starts ``service`` again (after it was killed or died) on the same port."""
        assert not self.roles[service].alive(), f"{service} is still running"
        self.roles[service] = self._spawn(service, env).wait_ready()
        return self.roles[service]

    def stop(self) -> None:
        for r in self.roles.values():
            r.stop()
        if os.environ.get("SUNDIAL_KEEP_DB") == "1":
            print(f"keeping database {self.db} (SUNDIAL_KEEP_DB=1); logs in {self.log_dir}")
            return
        psql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)', check=False)


def extra_instance(cluster: Cluster, service: str, tmp_path: Path, incarnation: int,
                   pg_port: Optional[int] = None) -> Role:
    """Another process of ``service`` on its own port, same database; with ``pg_port``, it reaches
    PostgreSQL on that port of PG_HOST (a proxy in front of the database) instead."""
    text = cluster.config.read_text().replace(
        f"{service}: {{ port: {cluster.ports[service]} }}", f"{service}: {{ port: {free_port()} }}")
    if pg_port is not None:
        direct = f"host: {PG_HOST}, port: {PG_PORT},"
        assert direct in text, text
        text = text.replace(direct, f"host: {PG_HOST}, port: {pg_port},")
    config = tmp_path / f"{service}-{incarnation}.yaml"
    config.write_text(text)
    return Role(config, service, tmp_path, incarnation=incarnation)
