"""tctl (crates/tctl), the admin CLI with tctl v1's syntax: the built binary run against a
running sundial (SQLite start-dev and PostgreSQL through the ``server`` fixture), with a
Python SDK worker for the workflow commands. tctl runs in a thread so the worker keeps
running on the event loop meanwhile.

Environment: TCTL_BIN overrides the binary (default <repo>/target/debug/tctl).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetClusterInfoRequest
from temporalio.client import WorkflowExecutionStatus

from conftest import AGAINST_REFERENCE, EXTERNAL_ADDRESS, REPO_ROOT, free_port
from support import unique
from wf_defs import (EchoWorkflow, FailWorkflow, SignalSumWorkflow, WaitForeverWorkflow, running_worker, uid,
                     wait_until)

TCTL_BIN = Path(os.environ.get("TCTL_BIN") or REPO_ROOT / "target" / "debug" / "tctl")


def tctl_env(address: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_CLI_")}
    env.pop("TEMPORAL_CONTEXT_TIMEOUT", None)
    env["TEMPORAL_CLI_ADDRESS"] = address
    return env


def tctl(address: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run tctl exactly as a user types it; the address comes from TEMPORAL_CLI_ADDRESS."""
    if not TCTL_BIN.exists():
        pytest.fail(f"tctl binary not found at {TCTL_BIN} (cargo build --bins, or set TCTL_BIN)")
    r = subprocess.run([str(TCTL_BIN), *args], capture_output=True, text=True, timeout=timeout,
                       env=tctl_env(address))
    if check:
        assert r.returncode == 0, (
            f"tctl {' '.join(args)} exited {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}")
        assert "panicked" not in r.stderr, r.stderr
    return r


def tctl_json(address: str, *args: str):
    r = tctl(address, *args, "--output", "json")
    return json.loads(r.stdout)


async def atctl(address: str, *args: str, check: bool = True, timeout: float = 60):
    return await asyncio.to_thread(tctl, address, *args, check=check, timeout=timeout)


async def atctl_json(address: str, *args: str):
    return await asyncio.to_thread(tctl_json, address, *args)


def assert_error(r: subprocess.CompletedProcess, *needles: str) -> str:
    """A failed command: non-zero exit, nothing on stdout, one line on stderr naming the problem."""
    err = r.stderr.strip()
    assert r.returncode != 0, f"expected failure, got 0\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert r.stdout == "", r.stdout
    assert err.startswith("Error: "), err
    assert "\n" not in err, f"error is not one line:\n{err}"
    assert "panicked" not in err and "backtrace" not in err.lower(), err
    for needle in needles:
        assert needle.lower() in err.lower(), f"{needle!r} not in {err!r}"
    return err


def user_namespace() -> str:
    # The user's exact command registers order-service; against a shared external server
    # (SUNDIAL_TEST_ADDRESS) it may exist already, so use a fresh name there.
    return unique("order-service") if EXTERNAL_ADDRESS else "order-service"


# --------------------------------------------------------------------------------------
# namespaces


def test_user_register_command_then_describe_list_update(server):
    addr = server.address
    ns = user_namespace()

    r = tctl(addr, "--ns", ns, "namespace", "register", "--retention", "1")
    assert r.stdout.strip() == f"Namespace {ns} successfully registered."

    text = tctl(addr, "--ns", ns, "namespace", "describe").stdout
    assert f"Name: {ns}" in text
    assert "Retention: 24h0m0s" in text
    assert "State: REGISTERED" in text

    d = tctl_json(addr, "--ns", ns, "n", "desc")
    assert d["namespaceInfo"]["name"] == ns
    assert d["config"]["workflowExecutionRetentionTtl"] == "86400s"
    ns_id = d["namespaceInfo"]["id"]
    assert ns_id
    # --namespace_id instead of --ns, and --pjson as tctl's JSON switch.
    by_id = json.loads(tctl(addr, "n", "desc", "--namespace_id", ns_id, "--pjson").stdout)
    assert by_id["namespaceInfo"]["name"] == ns

    listed = tctl_json(addr, "namespace", "list")
    names = [n["namespaceInfo"]["name"] for n in listed]
    assert ns in names and "default" in names
    assert f"Name: {ns}" in tctl(addr, "n", "l").stdout

    r = tctl(addr, "--ns", ns, "namespace", "update", "--description", "orders", "--oe", "ops@example.com",
             "--retention", "72h", "--namespace_data", "team:payments,tier:gold")
    assert r.stdout.strip() == f"Namespace {ns} successfully updated."
    d = tctl_json(addr, "--ns", ns, "namespace", "describe")
    assert d["namespaceInfo"]["description"] == "orders"
    assert d["namespaceInfo"]["ownerEmail"] == "ops@example.com"
    assert d["namespaceInfo"]["data"] == {"team": "payments", "tier": "gold"}
    assert d["config"]["workflowExecutionRetentionTtl"] == "259200s"

    # Old-docs spelling: single-dash multi-letter flags, `n up` alias, retention in days.
    tctl(addr, "-ns", ns, "n", "up", "-rd", "2", "-desc", "orders v2")
    d = tctl_json(addr, "--ns", ns, "n", "desc")
    assert d["config"]["workflowExecutionRetentionTtl"] == "172800s"
    assert d["namespaceInfo"]["description"] == "orders v2"
    assert d["namespaceInfo"]["data"] == {"team": "payments", "tier": "gold"}, "update keeps data"

    # Registering again is an error, on one line.
    r = tctl(addr, "--ns", ns, "namespace", "register", "--retention", "1", check=False)
    assert_error(r, ns, "already registered")


def test_register_forms_and_namespace_errors(server):
    addr = server.address
    ns = unique("tctl-ns")
    tctl(addr, "--namespace", ns, "n", "re", "--rd", "36h", "--desc", "d", "--oe", "o@e.com", "--dmd", "k:v")
    d = tctl_json(addr, "--ns", ns, "n", "desc")
    assert d["config"]["workflowExecutionRetentionTtl"] == "129600s"
    assert d["namespaceInfo"]["data"] == {"k": "v"}
    assert d["namespaceInfo"]["ownerEmail"] == "o@e.com"

    default_ns = unique("tctl-ns")
    tctl(addr, "--ns", default_ns, "namespace", "register")
    assert tctl_json(addr, "--ns", default_ns, "n", "desc")["config"]["workflowExecutionRetentionTtl"] == "259200s"

    missing = unique("missing")
    assert_error(tctl(addr, "--ns", missing, "namespace", "describe", check=False), missing, "does not exist")
    assert_error(tctl(addr, "--ns", missing, "namespace", "update", "--desc", "x", check=False), "does not exist")
    assert_error(tctl(addr, "--ns", unique("bad"), "n", "re", "--retention", "soon", check=False), "--retention")
    assert_error(tctl(addr, "--ns", unique("bad"), "n", "re", "--gd", "maybe", check=False), "--global_namespace")


# --------------------------------------------------------------------------------------
# cluster


async def test_cluster_health_and_admin_describe(client, server):
    addr = server.address
    r = await atctl(addr, "cluster", "health")
    assert r.stdout.strip() == "temporal.api.workflowservice.v1.WorkflowService: SERVING"
    r = await atctl(addr, "cl", "h")
    assert "SERVING" in r.stdout

    info = await client.workflow_service.get_cluster_info(GetClusterInfoRequest())
    text = (await atctl(addr, "adm", "cl", "d")).stdout
    assert info.cluster_name in text
    assert info.server_version in text
    assert f"History Shard Count: {info.history_shard_count}" in text
    d = await atctl_json(addr, "admin", "cluster", "describe")
    assert d["clusterName"] == info.cluster_name
    assert d["serverVersion"] == info.server_version
    assert d["historyShardCount"] == info.history_shard_count >= 1
    assert d["persistenceStore"] == info.persistence_store

    attrs = await atctl_json(addr, "cluster", "get-search-attributes")
    assert set(attrs) == {"systemAttributes", "customAttributes"}
    r = await atctl(addr, "cl", "gsa")
    assert "NAME" in r.stdout


# --------------------------------------------------------------------------------------
# admin dynamic-config describe (Sundial's AdminService; Temporal has no such view)

DYNAMIC_CONFIG_YAML = """\
workflow.workflowTaskTimeout:
  - value: 7s
    constraints:
      namespace: order-service
limit.maxTaskQueuePollers:
  - value: 10
    constraints:
      namespace: order-service
      taskQueueName: order-service-task-queue
"""


@pytest.mark.sundial_only
@pytest.mark.process
def test_admin_dynamic_config_describe(start_dev, tmp_path):
    dc = tmp_path / "dynamicconfig.yaml"
    dc.write_text(DYNAMIC_CONFIG_YAML)
    srv = start_dev(["--namespace", "order-service", "--dynamic-config-file", str(dc)])
    addr = srv.address

    r = tctl(addr, "--ns", "order-service", "admin", "dynamic-config", "describe",
             "--tq", "order-service-task-queue", "--output", "json")
    view = {e["key"]: e for e in json.loads(r.stdout)}
    timeout = view["workflow.workflowTaskTimeout"]
    assert (timeout["value"], timeout["source"]) == ("7s", "file"), timeout
    assert timeout["constraints"] == "{namespace=order-service}"
    assert timeout["scope"] == "namespace"
    pollers = view["limit.maxTaskQueuePollers"]
    assert (pollers["value"], pollers["source"]) == (10, "file"), pollers
    assert pollers["constraints"] == "{namespace=order-service, taskQueueName=order-service-task-queue}"
    assert view["limit.maxIDLength"]["source"] == "default"
    assert view["limit.maxIDLength"]["constraints"] is None

    # tctl's aliases and flag spellings; {namespace, taskQueueName} covers both task types.
    activity = json.loads(tctl(addr, "-ns", "order-service", "adm", "dc", "d", "-tq", "order-service-task-queue",
                               "--task_type", "activity", "--pjson").stdout)
    assert {e["key"]: e["value"] for e in activity}["limit.maxTaskQueuePollers"] == 10

    # Without the task queue only namespace-wide entries apply to task-queue keys.
    no_tq = {e["key"]: e for e in tctl_json(addr, "--ns", "order-service", "adm", "dc", "d")}
    assert no_tq["workflow.workflowTaskTimeout"]["value"] == "7s"
    assert no_tq["limit.maxTaskQueuePollers"]["source"] == "default"

    # Another namespace sees the defaults.
    other = {e["key"]: e for e in tctl_json(addr, "--ns", "default", "adm", "dc", "d",
                                            "--tq", "order-service-task-queue")}
    assert (other["workflow.workflowTaskTimeout"]["value"], other["workflow.workflowTaskTimeout"]["source"]) == (
        "10s", "default")
    assert (other["limit.maxTaskQueuePollers"]["value"], other["limit.maxTaskQueuePollers"]["source"]) == (
        0, "default")
    assert all(e["source"] == "default" for e in other.values()), [e for e in other.values()
                                                                   if e["source"] != "default"]

    # The table: key, value, source, constraints.
    table = tctl(addr, "--ns", "order-service", "admin", "dynamic-config", "describe",
                 "--tq", "order-service-task-queue").stdout.splitlines()
    assert [c.strip() for c in table[0].split("|")] == ["KEY", "VALUE", "SOURCE", "CONSTRAINTS"]
    row = next(l for l in table if l.split()[0] == "workflow.workflowTaskTimeout")
    assert [c.strip() for c in row.split("|")] == ["workflow.workflowTaskTimeout", "7s", "file",
                                                   "{namespace=order-service}"]
    row = next(l for l in table if l.split()[0] == "limit.maxTaskQueuePollers")
    assert [c.strip() for c in row.split("|")][1:3] == ["10 pollers", "file"]

    # Errors: one line on stderr, non-zero exit.
    missing = unique("missing")
    assert_error(tctl(addr, "--ns", missing, "admin", "dynamic-config", "describe", check=False),
                 "DescribeDynamicConfig failed", "NotFound", missing)
    assert_error(tctl(addr, "--ns", "order-service", "adm", "dc", "d", "--tq", "q", "--task_type", "nexus",
                      check=False), "--task_type", "workflow or activity")
    assert_error(tctl(addr, "--ns", "order-service", "adm", "dc", "d", "--task_type", "activity", check=False),
                 "--task_type", "--taskqueue")
    assert srv.alive()


# --------------------------------------------------------------------------------------
# workflows


async def test_workflow_start_signal_query_show_describe_terminate(client, server):
    addr = server.address
    tq = uid("tctl-tq")
    wid = uid("tctl-sig")
    identity = uid("tctl-worker")
    async with running_worker(client, tq, workflows=[SignalSumWorkflow], identity=identity):
        r = await atctl(addr, "workflow", "start", "--tq", tq, "--wt", "SignalSumWorkflow", "-w", wid,
                        "-i", "2", "--et", "300", "--wtt", "10")
        assert r.stdout.startswith(f"Started Workflow Id: {wid}, run Id: ")
        run_id = r.stdout.strip().rsplit(" ", 1)[1]
        handle = client.get_workflow_handle(wid)
        assert (await handle.describe()).run_id == run_id

        # The same id again is refused while the run is open.
        again = await atctl(addr, "wf", "start", "--tq", tq, "--wt", "SignalSumWorkflow", "-w", wid, "-i", "2",
                            check=False)
        assert_error(again, "StartWorkflowExecution failed")

        r = await atctl(addr, "wf", "signal", "-w", wid, "-n", "add", "-i", "5")
        assert r.stdout.strip() == "Signal workflow succeeded."

        async def seen_one():
            return await handle.query(SignalSumWorkflow.count) == 1
        await wait_until(seen_one, what="signal processed")

        r = await atctl(addr, "wf", "query", "-w", wid, "--qt", "total")
        assert r.stdout.split() == ["Query", "result:", "[5]"]
        assert (await atctl_json(addr, "wf", "query", "-w", wid, "-r", run_id, "--query_type", "count")) == {
            "queryResult": [1]}
        stack = await atctl(addr, "wf", "stack", "-w", wid)
        assert stack.stdout.strip()

        d = await atctl_json(addr, "wf", "describe", "-w", wid)
        info = d["workflowExecutionInfo"]
        assert info["execution"] == {"workflowId": wid, "runId": run_id}
        assert info["type"]["name"] == "SignalSumWorkflow"
        assert info["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
        assert d["executionConfig"]["taskQueue"] == tq
        assert d["executionConfig"]["workflowExecutionTimeout"] == "300s"
        # tctl prints describe as JSON by default; descid is the positional shortcut.
        assert json.loads((await atctl(addr, "wf", "descid", wid)).stdout)["workflowExecutionInfo"]["taskQueue"] == tq

        show = (await atctl(addr, "wf", "show", "-w", wid)).stdout
        assert "WorkflowExecutionStarted" in show and "WorkflowExecutionSignaled" in show
        events = (await atctl_json(addr, "wf", "showid", wid, run_id))["events"]
        assert events[0]["eventType"] == "WorkflowExecutionStarted"
        assert events[0]["attributes"]["input"] == [2]
        assert events[0]["attributes"]["workflowType"] == "SignalSumWorkflow"
        signaled = [e for e in events if e["eventType"] == "WorkflowExecutionSignaled"]
        assert signaled and signaled[0]["attributes"]["signalName"] == "add"
        assert signaled[0]["attributes"]["input"] == [5]
        first = json.loads((await atctl(addr, "wf", "show", "-w", wid, "--eid", "1")).stdout)
        assert first["eventId"] == 1

        pollers = await atctl_json(addr, "taskqueue", "describe", "--tq", tq)
        assert identity in [p["identity"] for p in pollers["pollers"]]
        await atctl(addr, "tq", "desc", "--tq", tq, "--tqt", "activity")
        parts = await atctl_json(addr, "taskqueue", "list-partition", "--tq", tq)
        assert [p["key"] for p in parts["workflowTaskQueuePartitions"]] == \
            [tq] + [f"/_sys/{tq}/{n}" for n in (1, 2, 3)], "Temporal's default of 4 partitions"
        table = (await atctl(addr, "tq", "lp", "--tq", tq)).stdout
        assert f"/_sys/{tq}/3" in table and "Activity" in table

        r = await atctl(addr, "wf", "terminate", "-w", wid, "--reason", "done here")
        assert r.stdout.strip() == "Terminate workflow succeeded."
        assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
        events = (await atctl_json(addr, "wf", "show", "-w", wid))["events"]
        assert events[-1]["eventType"] == "WorkflowExecutionTerminated"
        assert events[-1]["attributes"]["reason"] == "done here"

        assert_error(await atctl(addr, "wf", "term", "-w", wid, check=False), "TerminateWorkflowExecution failed")
        assert_error(await atctl(addr, "wf", "signal", "-w", wid, "-n", "add", "-i", "1", check=False),
                     "SignalWorkflowExecution failed")

    # Visibility catches up asynchronously: the closed run shows in `list` (closed by
    # default), not in `list --op`, and in `listall` and `count`.
    async def listed_closed():
        rows = await atctl_json(addr, "wf", "list", "--ps", "1000")
        return any(e["execution"]["workflowId"] == wid for e in rows)
    await wait_until(listed_closed, timeout=20, what="terminated run in `wf list`")
    row = next(e for e in await atctl_json(addr, "wf", "listall") if e["execution"]["workflowId"] == wid)
    assert row["status"] == "WORKFLOW_EXECUTION_STATUS_TERMINATED"
    assert row["type"]["name"] == "SignalSumWorkflow"
    assert row["taskQueue"] == tq
    opened = await atctl_json(addr, "wf", "list", "--op", "-m")
    assert all(e["execution"]["workflowId"] != wid for e in opened)
    table = (await atctl(addr, "wf", "list", "-w", wid)).stdout
    assert "WORKFLOW TYPE" in table and wid in table and run_id in table
    count = int((await atctl(addr, "wf", "count")).stdout.strip())
    assert count >= 1
    assert isinstance((await atctl_json(addr, "wf", "cnt"))["count"], int)


async def test_workflow_run_prints_result(client, server):
    addr = server.address
    tq = uid("tctl-run")
    async with running_worker(client, tq, workflows=[EchoWorkflow, FailWorkflow, WaitForeverWorkflow]):
        r = await atctl(addr, "wf", "run", "--tq", tq, "--wt", "EchoWorkflow", "-i", '"hi"')
        out = r.stdout
        assert "Running execution:" in out
        assert "Status: COMPLETED" in out
        assert 'Output: "echo hi"' in out
        assert "WorkflowExecutionCompleted" in out

        wid = uid("tctl-run-json")
        res = await atctl_json(addr, "wf", "run", "--taskqueue", tq, "--workflow_type", "EchoWorkflow",
                               "--workflow_id", wid, "--input", '"json"')
        assert res["workflowId"] == wid
        assert res["status"] == "COMPLETED"
        assert res["result"] == ["echo json"]
        assert (await client.get_workflow_handle(wid).result()) == "echo json"

        # A failed workflow: the result block on stdout, one line on stderr, exit 1.
        r = await atctl(addr, "wf", "run", "--tq", tq, "--wt", "FailWorkflow", "-i", '"no stock"', check=False)
        assert r.returncode == 1
        assert "Status: FAILED" in r.stdout and "no stock" in r.stdout
        err = r.stderr.strip()
        assert "\n" not in err and "FAILED" in err and "no stock" in err, err

        # Cancel: the workflow ends canceled.
        wid = uid("tctl-cancel")
        await atctl(addr, "wf", "start", "--tq", tq, "--wt", "WaitForeverWorkflow", "-w", wid)
        handle = client.get_workflow_handle(wid)

        async def started():
            from wf_defs import event_types
            return "WorkflowTaskCompleted" in await event_types(handle)
        await wait_until(started, what="first workflow task")
        r = await atctl(addr, "wf", "cancel", "-w", wid)
        assert r.stdout.strip() == "Cancel workflow succeeded."

        async def canceled():
            return (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
        await wait_until(canceled, what="workflow canceled")


# --------------------------------------------------------------------------------------
# old-docs flags and error paths


def test_single_dash_flags_from_old_docs(server):
    addr = server.address
    wid = uid("tctl-dash")
    tq = uid("tctl-dash-tq")
    r = tctl(addr, "wf", "start", "-tq", tq, "-wt", "NoWorkerWorkflow", "-wid", wid, "-et", "60")
    assert f"Started Workflow Id: {wid}" in r.stdout
    d = tctl_json(addr, "wf", "desc", "-w", wid)
    assert d["executionConfig"]["taskQueue"] == tq
    assert d["executionConfig"]["workflowExecutionTimeout"] == "60s"
    tctl(addr, "wf", "term", "-w", wid, "-reason", "cleanup")
    # A single-dash name that is no flag at all: the message points at the --tq form.
    r = tctl(addr, "wf", "start", "-taskq", tq, "-wt", "X", check=False)
    assert r.returncode == 2
    assert_error(r, "--tq", "two dashes")


def test_error_paths_are_one_line(server):
    addr = server.address
    dead = f"127.0.0.1:{free_port()}"
    assert_error(tctl(dead, "cluster", "health", check=False), "cannot connect", dead)
    assert_error(tctl(dead, "--ct", "1", "n", "l", check=False), "cannot connect")

    missing = unique("missing")
    assert_error(tctl(addr, "--ns", missing, "wf", "start", "--tq", "q", "--wt", "W", check=False), missing)
    assert_error(tctl(addr, "--ns", missing, "wf", "list", check=False), missing)

    r = tctl(addr, "wf", "start", "--tq", "q", "--wt", "W", "--bogus", check=False)
    assert r.returncode == 2
    assert_error(r, "--bogus", "tctl workflow start --help")
    assert_error(tctl(addr, "wf", "frobnicate", check=False), "frobnicate")
    assert_error(tctl(addr, "wf", "signal", "-w", "x", check=False), "--name")
    assert_error(tctl(addr, "wf", "start", "--wt", "W", check=False), "--taskqueue")
    assert_error(tctl(addr, "wf", "start", "--tq", "q", "--wt", "W", "-i", "{bad", check=False), "not valid JSON")
    assert_error(tctl(addr, "wf", "start", "--tq", "q", "--wt", "W", "--wrp", "Sometimes", check=False),
                 "--workflowidreusepolicy")
    assert_error(tctl(addr, "wf", "describe", "-w", uid("nope"), check=False), "DescribeWorkflowExecution failed")
    assert_error(tctl(addr, "wf", "query", "-w", uid("nope"), "--qt", "q", check=False), "QueryWorkflow failed")
    assert_error(tctl(addr, "wf", "list", "--op", "-s", "completed", check=False), "--status")
    assert_error(tctl(addr, "--tls_ca_path", "/nonexistent/ca.pem", "cl", "h", check=False),
                 "/nonexistent/ca.pem")
    assert_error(tctl(addr, "tq", "desc", check=False), "--taskqueue")
    r = tctl(addr, "adm", "dynamic-config", "describe", "--ns", "default", check=not AGAINST_REFERENCE)
    if AGAINST_REFERENCE:
        # Temporal has no such view (temporal#7947): a clean "does not support".
        assert_error(r, "does not support", "DescribeDynamicConfig")
    else:
        assert r.stdout.split()[:4] == ["KEY", "|", "VALUE", "|"], r.stdout

    # The -q query is passed through as is; a server that rejects it says why.
    r = tctl(addr, "wf", "list", "-q", "this is (not a query", check=False)
    assert_error(r, "ListWorkflowExecutions failed")

    # APIs the server may not implement yet: either a clean "does not support" or the
    # server's own answer about the unknown workflow, never a crash.
    wid = uid("nope")
    for args in (["wf", "reset", "-w", wid, "--reason", "r", "--event_id", "3"],
                 ["wf", "delete", "-w", wid],
                 ["tq", "lp", "--tq", uid("tq")]):
        r = tctl(addr, *args, check=False)
        if r.returncode != 0:
            err = assert_error(r)
            if "UNIMPLEMENTED" in err:
                assert err.startswith("Error: the server does not support "), err
    assert_error(tctl(addr, "wf", "reset", "-w", wid, "--reason", "r", check=False), "--event_id", "--reset_type")
