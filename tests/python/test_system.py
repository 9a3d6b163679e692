"""System-level APIs: GetSystemInfo, GetClusterInfo, health, search attributes, and
robustness of the gRPC port. Runs against sundial on SQLite and PostgreSQL (or the
server at SUNDIAL_TEST_ADDRESS)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import uuid

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import GetClusterInfoRequest, GetSystemInfoRequest
from temporalio.client import Client

from support import assert_alive, cli, cli_json
from conftest import AGAINST_REFERENCE

IS_SUNDIAL = not AGAINST_REFERENCE

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+")

# System search attributes every Temporal server has, with their types.
CORE_SYSTEM_ATTRIBUTES = {
    "WorkflowId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "RunId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "WorkflowType": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "StartTime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "ExecutionTime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "CloseTime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "ExecutionStatus": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "TaskQueue": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "HistoryLength": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "ExecutionDuration": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "BuildIds": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


async def test_get_system_info(client: Client):
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert VERSION_RE.match(info.server_version), info.server_version
    assert info.HasField("capabilities"), "capabilities must be set (SDKs read them)"
    assert info.capabilities.internal_error_differentiation
    if IS_SUNDIAL:
        # Capabilities are promises: nothing that is not implemented yet may be advertised.
        assert not info.capabilities.build_id_based_versioning
        assert info.capabilities.nexus, "Nexus operations to worker endpoints work (test_nexus.py)"
        assert info.capabilities.supports_schedules, "schedules are implemented (test_schedules.py)"
        assert info.capabilities.eager_workflow_start, "eager start is implemented (test_eager_start.py)"
        assert info.capabilities.count_group_by_execution_status
        assert info.capabilities.sdk_metadata and info.capabilities.upsert_memo
        assert info.capabilities.activity_failure_include_heartbeat


async def test_get_cluster_info(client: Client):
    info = await client.workflow_service.get_cluster_info(GetClusterInfoRequest())
    assert info.cluster_name
    uuid.UUID(info.cluster_id)  # must be a UUID
    assert info.history_shard_count >= 1
    assert VERSION_RE.match(info.server_version), info.server_version
    assert info.persistence_store
    # Stable across calls.
    again = await client.workflow_service.get_cluster_info(GetClusterInfoRequest())
    assert again.cluster_id == info.cluster_id
    assert again.cluster_name == info.cluster_name


async def test_cli_cluster_system_matches_sdk(client: Client, server):
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    out = cli_json(server.address, "operator", "cluster", "system")
    assert out["serverVersion"] == info.server_version
    assert out["capabilities"]["internalErrorDifferentiation"] is True


async def test_health_sdk(client: Client):
    assert await client.service_client.check_health() is True
    assert await client.service_client.check_health(
        service="temporal.api.workflowservice.v1.WorkflowService") is True


async def test_health_cli(server):
    r = cli(server.address, "operator", "cluster", "health")
    assert "SERVING" in r.stdout
    assert "NOT_SERVING" not in r.stdout
    assert cli_json(server.address, "operator", "cluster", "health") == {"status": "SERVING"}


async def test_list_search_attributes_sdk(client: Client):
    resp = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default"))
    system = dict(resp.system_attributes)
    for name, typ in CORE_SYSTEM_ATTRIBUTES.items():
        assert name in system, f"missing system search attribute {name}; got {sorted(system)}"
        assert system[name] == typ, f"{name}: {IndexedValueType.Name(system[name])}"


async def test_list_search_attributes_cli(server):
    out = cli_json(server.address, "operator", "search-attribute", "list", "--namespace", "default")
    system = out["systemAttributes"]
    for name, typ in CORE_SYSTEM_ATTRIBUTES.items():
        assert system.get(name) == IndexedValueType.Name(typ), (name, system.get(name))
    # Human-readable form works too.
    r = cli(server.address, "operator", "search-attribute", "list")
    assert "WorkflowId" in r.stdout and "Keyword" in r.stdout


def _send_garbage(address: str, payload: bytes) -> None:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.settimeout(2)
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            # Drain whatever the server says (likely a GOAWAY or nothing) until it closes.
            while s.recv(65536):
                pass
        except OSError:
            pass


async def test_garbage_on_grpc_port_does_not_kill_server(client: Client, server):
    payloads = [
        os.urandom(4096),
        b"\x00" * 10000,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        # Valid HTTP/2 preface followed by junk frames.
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(2048),
        # Frame header claiming a huge length.
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff\xff\xff\x00\x00\x00\x00\x00\x01" + b"x" * 100,
    ]
    loop = asyncio.get_running_loop()
    for p in payloads:
        await loop.run_in_executor(None, _send_garbage, server.address, p)
    # Several concurrent garbage connections, one left half-open while we call.
    await asyncio.gather(*(loop.run_in_executor(None, _send_garbage, server.address, os.urandom(512))
                           for _ in range(10)))
    host, port = server.address.rsplit(":", 1)
    dangling = socket.create_connection((host, int(port)), timeout=5)
    try:
        dangling.sendall(os.urandom(100))
        await assert_alive(client)
        # A brand new client connection also works.
        fresh = await Client.connect(server.address)
        await assert_alive(fresh)
    finally:
        dangling.close()
    server.assert_process_alive()
