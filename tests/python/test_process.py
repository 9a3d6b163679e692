"""Tests that start their own `sundial start-dev` processes: the startup banner,
signals, --namespace, and persistence across restarts with --db-filename.

With SUNDIAL_TEST_IMPL=reference the non-sundial_only tests run against
`temporal server start-dev` instead (same flags)."""

from __future__ import annotations

import signal

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetSystemInfoRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCStatusCode

from conftest import FRONTEND_RE
from support import DAY, NAMESPACE_NOT_FOUND, cli, expect_rpc_error, unique

pytestmark = pytest.mark.process


async def describe(client: Client, name: str = "", id: str = ""):
    return await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=name, id=id))


async def builtin_ids(client: Client) -> dict[str, str]:
    return {n: (await describe(client, n)).namespace_info.id for n in ("default", "temporal-system")}


@pytest.mark.sundial_only
def test_start_dev_banner(start_dev):
    srv = start_dev()
    lines = srv.stdout_lines
    assert lines[0].startswith("Sundial "), lines
    assert "(start-dev)" in lines[0]
    roles = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("frontend", "history", "matching", "worker"):
            roles[parts[0]] = parts[1]
    assert set(roles) == {"frontend", "history", "matching", "worker"}, lines
    ports = set()
    for role, addr in roles.items():
        host, port = addr.rsplit(":", 1)
        assert host == "127.0.0.1", addr
        assert int(port) > 0, f"{role} must get a real ephemeral port with --port 0"
        ports.add(port)
    assert len(ports) == 4, f"roles share ports: {roles}"
    assert any(FRONTEND_RE.match(l) for l in lines)
    assert any(l.strip().startswith("state") and "memory" in l for l in lines), lines
    assert lines[-1].strip() == "Ready." or "Ready." in [l.strip() for l in lines]
    assert srv.address == roles["frontend"]
    assert "temporal" not in srv.address


@pytest.mark.sundial_only
def test_start_dev_banner_with_db_file(start_dev, tmp_path):
    db = tmp_path / "state.db"
    srv = start_dev(["--db-filename", str(db)])
    state = [l for l in srv.stdout_lines if l.strip().startswith("state")]
    assert state and str(db) in state[0], srv.stdout


@pytest.mark.sundial_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(start_dev, sig):
    srv = start_dev()
    assert "SERVING" in cli(srv.address, "operator", "cluster", "health").stdout
    code = srv.stop(sig, timeout=10)
    assert code == 0, f"exit code after {sig.name}: {code}\n{srv.diagnostics()}"


@pytest.mark.sundial_only
async def test_two_servers_on_ephemeral_ports(start_dev):
    a, b = start_dev(), start_dev()
    assert a.address != b.address
    ca, cb = await Client.connect(a.address), await Client.connect(b.address)
    name = unique("iso")
    await ca.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period=Duration(seconds=DAY)))
    await describe(ca, name)
    # In-memory servers do not share state.
    await expect_rpc_error(describe(cb, name), RPCStatusCode.NOT_FOUND, NAMESPACE_NOT_FOUND)


async def test_namespace_flag_creates_namespaces(start_dev):
    foo, bar = unique("foo"), unique("bar")
    srv = start_dev(["--namespace", foo, "--namespace", bar])
    client = await Client.connect(srv.address)
    for name in (foo, bar, "default", "temporal-system"):
        d = await describe(client, name)
        assert d.namespace_info.name == name
        assert d.config.workflow_execution_retention_ttl.ToSeconds() > 0
    ids = {(await describe(client, n)).namespace_info.id for n in (foo, bar, "default", "temporal-system")}
    assert len(ids) == 4


async def test_in_memory_state_is_lost_on_restart(start_dev):
    srv = start_dev()
    client = await Client.connect(srv.address)
    name = unique("mem")
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period=Duration(seconds=DAY)))
    await describe(client, name)
    srv.stop()

    srv2 = start_dev()
    client2 = await Client.connect(srv2.address)
    await expect_rpc_error(describe(client2, name), RPCStatusCode.NOT_FOUND, NAMESPACE_NOT_FOUND)
    await describe(client2, "default")


async def test_restart_with_db_file_keeps_namespaces(start_dev, tmp_path):
    db = tmp_path / "sundial.db"
    flag_ns = unique("flag")
    args = ["--db-filename", str(db), "--namespace", flag_ns]

    srv = start_dev(args)
    client = await Client.connect(srv.address)
    name = unique("persist")
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=name, description="survives restarts", owner_email="p@example.com",
        data={"k": "v"}, workflow_execution_retention_period=Duration(seconds=4 * DAY)))
    first = await describe(client, name)
    ids = await builtin_ids(client)
    flag_id = (await describe(client, flag_ns)).namespace_info.id
    srv.stop()
    assert db.exists()

    # Same file, same --namespace flag: must start without duplicate errors.
    for round_ in range(2):
        srv2 = start_dev(args)
        assert srv2.alive(), srv2.diagnostics()
        client2 = await Client.connect(srv2.address)
        again = await describe(client2, name)
        assert again.namespace_info.id == first.namespace_info.id
        assert again.namespace_info.description == "survives restarts"
        assert again.namespace_info.owner_email == "p@example.com"
        assert dict(again.namespace_info.data) == {"k": "v"}
        assert again.config.workflow_execution_retention_ttl.ToSeconds() == 4 * DAY
        assert (await describe(client2, id=first.namespace_info.id)).namespace_info.name == name
        assert await builtin_ids(client2) == ids, "built-in namespaces must not be re-created"
        assert (await describe(client2, flag_ns)).namespace_info.id == flag_id
        info = await client2.workflow_service.get_system_info(GetSystemInfoRequest())
        assert info.server_version
        assert srv2.alive(), srv2.diagnostics()
        srv2.stop()


@pytest.mark.sundial_only
async def test_restart_does_not_log_duplicate_errors(start_dev, tmp_path):
    db = tmp_path / "dup.db"
    start_dev(["--db-filename", str(db), "--namespace", "foo"]).stop()
    srv = start_dev(["--db-filename", str(db), "--namespace", "foo"])
    client = await Client.connect(srv.address)
    await describe(client, "foo")
    code = srv.stop()
    assert code == 0, srv.diagnostics()
    text = (srv.stdout + "\n" + srv.stderr()).lower()
    assert "already exists" not in text, srv.diagnostics()
    assert "panic" not in text, srv.diagnostics()
