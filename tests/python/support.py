"""Shared helpers for the end-to-end tests (imported by test modules)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from datetime import timedelta
from typing import Awaitable, Optional

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.service import RPCError, RPCStatusCode

from conftest import temporal_cli_path

DETAIL_PREFIX = "type.googleapis.com/temporal.api.errordetails.v1."
NAMESPACE_ALREADY_EXISTS = DETAIL_PREFIX + "NamespaceAlreadyExistsFailure"
NAMESPACE_NOT_FOUND = DETAIL_PREFIX + "NamespaceNotFoundFailure"

DAY = 86400


def unique(prefix: str = "ns") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def expect_rpc_error(call: Awaitable, status: RPCStatusCode,
                           detail: Optional[str] = None) -> RPCError:
    """Await ``call``; assert it fails with gRPC ``status`` and (if given) exactly
    one detail of type URL ``detail``. Returns the error."""
    try:
        result = await call
    except RPCError as e:
        assert e.status == status, f"expected {status.name}, got {e.status!r}: {e.message}"
        urls = [d.type_url for d in e.grpc_status.details]
        if detail is not None:
            assert detail in urls, f"expected detail {detail}, got {urls} ({e.message})"
        return e
    raise AssertionError(f"expected RPCError {status.name}, call succeeded: {result}")


async def assert_alive(client) -> None:
    """The server still answers GetSystemInfo."""
    info = await client.workflow_service.get_system_info(
        GetSystemInfoRequest(), timeout=timedelta(seconds=10))
    assert info.server_version


def cli(address: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real `temporal` CLI against ``address``."""
    r = subprocess.run([temporal_cli_path(), "--address", address, *args],
                       capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, (
            f"temporal {' '.join(args)} exited {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}")
    return r


def cli_json(address: str, *args: str):
    r = cli(address, *args, "-o", "json")
    return json.loads(r.stdout)


async def eventually(check, timeout: float = 20.0, interval: float = 0.3):
    """Await ``check()`` until it stops raising AssertionError (then return its value), or
    re-raise its last AssertionError after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(interval)
