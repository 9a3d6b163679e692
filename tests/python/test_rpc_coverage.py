"""The RPC coverage table in README.md, generated here so it cannot drift: every RPC of the
public WorkflowService and OperatorService (as the Python SDK's generated clients list them,
the same API version Sundial compiles against) is called with an empty request on a fresh
server; UNIMPLEMENTED means "not yet", any other answer (most often a validation error) means
the RPC is served. Run with SUNDIAL_WRITE_RPC_TABLE=1 to rewrite the README's table."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
from datetime import timedelta

import pytest
import temporalio.bridge.services_generated as generated
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from conftest import REPO_ROOT

pytestmark = pytest.mark.sundial_only

README = REPO_ROOT / "README.md"
BEGIN, END = "<!-- rpc-coverage:begin -->", "<!-- rpc-coverage:end -->"

# Served the way a single-cluster Temporal serves them (no replication, no archival), rather
# than implemented in full; each must still be answered.
SINGLE_CLUSTER = {"ListClusters", "AddOrUpdateRemoteCluster", "RemoveRemoteCluster", "GetSearchAttributes",
                  "ListArchivedWorkflowExecutions"}

# Served for a workflow's activities; a standalone activity (no workflow id) is answered
# UNIMPLEMENTED, as Temporal answers with standalone activities off. Probed with a workflow id.
SERVICES = [
    ("WorkflowService", generated.WorkflowService, "temporalio.api.workflowservice.v1", "workflow_service"),
    ("OperatorService", generated.OperatorService, "temporalio.api.operatorservice.v1", "operator_service"),
]


def camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


async def served(call, request) -> bool:
    try:
        await call(request, retry=False, timeout=timedelta(seconds=10))
    except RPCError as e:
        return e.status != RPCStatusCode.UNIMPLEMENTED
    except asyncio.TimeoutError:
        pass
    return True


def table(rows: dict[str, dict[str, list[str]]]) -> str:
    out = [BEGIN, "", "| Service | Status | RPCs |", "|---|---|---|"]
    for service, by_status in rows.items():
        for status, names in by_status.items():
            if names:
                out.append(f"| {service} | {status} ({len(names)}) | {', '.join(f'`{n}`' for n in names)} |")
    out += ["", END]
    return "\n".join(out)


async def test_readme_rpc_table_matches_the_server(start_dev):
    srv = start_dev()
    client = await Client.connect(srv.address)
    rows: dict[str, dict[str, list[str]]] = {}
    for service, cls, module, attr in SERVICES:
        requests = importlib.import_module(module)
        stub = getattr(client, attr)
        by_status: dict[str, list[str]] = {"implemented": [], "answered as a single cluster": [],
                                           "not yet": []}
        for name, _ in inspect.getmembers(cls, inspect.iscoroutinefunction):
            rpc = camel(name)
            request = getattr(requests, f"{rpc}Request")()
            ok = await served(getattr(stub, name), request)
            if rpc in SINGLE_CLUSTER:
                assert ok, f"{rpc} is listed as answered as a single cluster, but is UNIMPLEMENTED"
                by_status["answered as a single cluster"].append(rpc)
            else:
                by_status["implemented" if ok else "not yet"].append(rpc)
        rows[service] = by_status
    assert srv.alive(), "an empty request took the server down"
    expected = table(rows)
    text = README.read_text()
    begin, end = text.find(BEGIN), text.find(END)
    assert 0 <= begin < end, f"README.md has no {BEGIN} … {END} section"
    current = text[begin:end + len(END)]
    if current != expected and os.environ.get("SUNDIAL_WRITE_RPC_TABLE") == "1":
        README.write_text(text[:begin] + expected + text[end + len(END):])
        current = expected
    assert current == expected, f"README.md's RPC table is out of date; it should read:\n{expected}"
