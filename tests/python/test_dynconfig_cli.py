"""Dynamic config on the command line: `sundial validate-dynamic-config` on the shipped
files and on broken ones, `sundial show-dynamic-config`, and `start-dev` with
--dynamic-config-value / --dynamic-config-file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from conftest import REPO_ROOT, child_env

pytestmark = [pytest.mark.sundial_only, pytest.mark.process]

DOCKER_YAML = REPO_ROOT / "dynamicconfig" / "docker.yaml"
DEV_SQL_YAML = REPO_ROOT / "dynamicconfig" / "development-sql.yaml"


def sundial(binary: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    if not binary.exists():
        pytest.fail(f"sundial binary not found at {binary}")
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=timeout,
                          env=child_env(), stdin=subprocess.DEVNULL)


def test_validate_shipped_files(sundial_bin):
    r = sundial(sundial_bin, "validate-dynamic-config", str(DOCKER_YAML), str(DEV_SQL_YAML))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{DOCKER_YAML}: ok" in r.stdout
    assert f"{DEV_SQL_YAML}: ok" in r.stdout
    assert "error" not in r.stdout


def test_validate_misspelled_key(sundial_bin, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "limit.maxTaskQueuePollers:\n"
        "  - value: 10\n"
        "workflow.workflowTaskTimout:\n"
        "  - value: 10s\n"
        "    constraints:\n"
        "      namespace: order-service\n"
    )
    r = sundial(sundial_bin, "validate-dynamic-config", str(bad))
    assert r.returncode != 0, r.stdout
    line = next(l for l in r.stdout.splitlines() if "workflow.workflowTaskTimout" in l)
    assert f"{bad}:3:" in line, line
    assert 'did you mean "workflow.workflowTaskTimeout"' in line, line
    assert "1 error" in r.stdout


def test_validate_bad_values_constraints_and_yaml(sundial_bin, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "worker.enableStickyQuery:\n"
        "  - value: false\n"
        "    constraints: {taskQueueName: q}\n"
        "workflow.workflowRunTimeout:\n"
        "  - value: 10 minutes\n"
    )
    r = sundial(sundial_bin, "validate-dynamic-config", str(bad))
    assert r.returncode != 0
    assert "worker.enableStickyQuery" in r.stdout and "namespace-scoped" in r.stdout, r.stdout
    assert "invalid duration" in r.stdout, r.stdout

    broken = tmp_path / "broken.yaml"
    broken.write_text("workflow.workflowTaskTimeout:\n  - value: [10s\n")
    r = sundial(sundial_bin, "validate-dynamic-config", str(broken), str(DOCKER_YAML))
    assert r.returncode != 0
    assert "not valid YAML" in r.stdout, r.stdout

    r = sundial(sundial_bin, "validate-dynamic-config", str(tmp_path / "missing.yaml"))
    assert r.returncode != 0


def test_show_dynamic_config_for_order_service(sundial_bin):
    r = sundial(sundial_bin, "show-dynamic-config", "--dynamic-config-file", str(DOCKER_YAML),
                "--namespace", "order-service", "--task-queue", "order-service-task-queue", "--json",
                "--dynamic-config-value", "frontend.namespaceRPS=50")
    assert r.returncode == 0, r.stderr
    view = {e["key"]: e for e in json.loads(r.stdout)}
    assert view["workflow.workflowTaskTimeout"]["value"] == "10s"
    assert view["workflow.workflowTaskTimeout"]["source"] == "file"
    assert view["workflow.defaultActivityRetryPolicy"]["value"]["maximumAttempts"] == 3
    assert view["limit.maxTaskQueuePollers"]["value"] == 10
    assert view["limit.mutableStateSize.error"]["value"] == 10 * 1024 * 1024
    assert view["limit.mutableStateSize.error"]["writtenAs"] == "history.maximumMutableStateSize"
    assert view["worker.enableStickyQuery"]["value"] is False
    assert view["system.visibilityDisableOrderByClause"]["value"] is True
    assert view["frontend.namespaceRPS"] == {**view["frontend.namespaceRPS"], "value": 50, "source": "override"}
    assert view["limit.maxIDLength"]["source"] == "default"

    other = sundial(sundial_bin, "show-dynamic-config", "--dynamic-config-file", str(DOCKER_YAML),
                    "--namespace", "billing")
    assert other.returncode == 0, other.stderr
    row = next(l for l in other.stdout.splitlines() if l.startswith("workflow.workflowTaskTimeout"))
    assert '"10s"' in row and "default" in row, row


async def test_start_dev_with_dynamic_config(start_dev):
    srv = start_dev([
        "--dynamic-config-value", "limit.maxIDLength=255",
        "--dynamic-config-value", 'workflow.workflowTaskTimeout="20s"',
        "--dynamic-config-value", 'workflow.defaultActivityRetryPolicy={"maximumAttempts": 5}',
        "--dynamic-config-file", str(DOCKER_YAML),
    ])
    client = await Client.connect(srv.address)
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.server_version
    assert srv.alive()


# What the Python SDK's own test set-up passes to its dev server (temporalio/sdk-python
# tests/conftest.py): keys of the Temporal server that Sundial does not all implement.
SDK_TEST_SETUP_VALUES = [
    "system.forceSearchAttributesCacheRefreshOnRead=true",
    "limit.historyCount.suggestContinueAsNew=50",
    "system.enableEagerWorkflowStart=true",
    "frontend.enableExecuteMultiOperation=true",
    "frontend.workerVersioningWorkflowAPIs=true",
    "frontend.workerVersioningDataAPIs=true",
    "system.enableDeploymentVersions=true",
    "frontend.activityAPIsEnabled=true",
    "frontend.enableCancelWorkerPollsOnShutdown=true",
    "component.nexusoperations.recordCancelRequestCompletionEvents=true",
    "activity.enableStandalone=true",
    "history.enableChasm=true",
    "history.enableUpdateCallbacks=true",
]


async def test_start_dev_accepts_temporal_keys_it_does_not_implement(start_dev):
    """Keys the Temporal server knows start the server with a warning each (as SDK test
    set-ups need), where a key nobody knows is refused (below)."""
    args = [a for v in SDK_TEST_SETUP_VALUES for a in ("--dynamic-config-value", v)]
    srv = start_dev(args)
    client = await Client.connect(srv.address)
    assert (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version
    log = srv.stderr_path.read_text(errors="replace")
    for key in ("history.enableUpdateCallbacks", "frontend.activityAPIsEnabled", "history.enableChasm"):
        line = next((l for l in log.splitlines() if key in l), None)
        assert line is not None and "WARN" in line and "does not implement" in line, (key, log[-3000:])
    # Keys Sundial implements take effect without a warning.
    for key in ("frontend.enableCancelWorkerPollsOnShutdown", "system.enableEagerWorkflowStart"):
        assert not any(key in l and "does not implement" in l for l in log.splitlines()), (key, log[-3000:])
    assert srv.alive()


def test_start_dev_rejects_unknown_dynamic_config_key(sundial_bin):
    r = sundial(sundial_bin, "start-dev", "--ip", "127.0.0.1", "--port", "0",
                "--dynamic-config-value", "limit.maxTaskQueuePoller=3", timeout=30)
    assert r.returncode != 0
    assert 'did you mean "limit.maxTaskQueuePollers"' in r.stderr, r.stderr


def test_start_dev_rejects_invalid_dynamic_config_file(sundial_bin, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("limit.maxTaskQueuePollers:\n  - value: lots\n")
    r = sundial(sundial_bin, "start-dev", "--ip", "127.0.0.1", "--port", "0",
                "--dynamic-config-file", str(bad), timeout=30)
    assert r.returncode != 0
    assert "limit.maxTaskQueuePollers" in r.stderr and "whole number" in r.stderr, r.stderr


def test_start_dev_reloads_dynamic_config_file(start_dev, tmp_path):
    """The file is re-read when it changes (default poll 10 s); a broken edit keeps the
    previous config and says why; changed keys are logged."""
    import time

    dc = tmp_path / "dc.yaml"
    dc.write_text("workflow.workflowTaskTimeout:\n  - value: 10s\n")
    srv = start_dev(["--dynamic-config-file", str(dc), "--log-level", "info"])

    def wait_for(text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in srv.stderr():
                return
            time.sleep(0.2)
        pytest.fail(f"{text!r} not logged within {timeout}s\n{srv.diagnostics()}")

    dc.write_text("workflow.workflowTaskTimeout:\n  - value: 10s\n  - value: 15s\n    constraints: {namespace: x}\n")
    wait_for("dynamic config changed")
    assert "workflow.workflowTaskTimeout" in srv.stderr()
    dc.write_text("workflow.workflowTaskTimeout:\n  - value: soon\n")
    wait_for("keeping the previous dynamic config")
    assert "invalid duration" in srv.stderr()
    assert srv.alive()
