"""The real `temporal` CLI driving workflows against the server, with an in-process
Python SDK worker. CLI calls run in a thread so the worker keeps running on the
event loop meanwhile."""

from __future__ import annotations

import asyncio
import json

from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

from support import cli
from wf_defs import (GreetWorkflow, SignalSumWorkflow, WaitForeverWorkflow, greet, running_worker, uid,
                     wait_until)


async def acli(address: str, *args: str, check: bool = True):
    return await asyncio.to_thread(cli, address, *args, check=check)


async def acli_json(address: str, *args: str):
    r = await acli(address, *args, "-o", "json")
    return json.loads(r.stdout)


def event_type_names(show: dict) -> list[str]:
    return [e["eventType"] for e in show["events"]]


async def test_cli_start_signal_query_describe(client, server):
    addr = server.address
    tq = uid("cli-tq")
    wid = uid("cli-sig")
    identity = uid("cli-worker")
    async with running_worker(client, tq, workflows=[SignalSumWorkflow], activities=[greet],
                              identity=identity):
        start = ["workflow", "start", "--type", "SignalSumWorkflow", "--task-queue", tq,
                 "--workflow-id", wid, "--input", "2"]
        started = await acli_json(addr, *start)
        assert started["workflowId"] == wid
        assert started["type"] == "SignalSumWorkflow"
        assert started["taskQueue"] == tq
        assert started["namespace"] == "default"
        run_id = started["runId"]
        assert run_id

        # Starting the running id again exits 0 and returns the existing run.
        again = await acli_json(addr, *start)
        assert again["runId"] == run_id
        text = (await acli(addr, *start)).stdout
        assert run_id in text
        # ... unless --fail-existing.
        r = await acli(addr, *start, "--fail-existing", check=False)
        assert r.returncode != 0
        assert "already running" in r.stderr.lower() and run_id in r.stderr, r.stderr

        await acli(addr, "workflow", "signal", "--workflow-id", wid, "--name", "add", "--input", "5")
        handle = client.get_workflow_handle(wid)

        async def seen_one():
            return await handle.query(SignalSumWorkflow.count) == 1
        await wait_until(seen_one, what="signal processed")
        q = await acli_json(addr, "workflow", "query", "--workflow-id", wid, "--type", "total")
        assert q["queryResult"] == [5]

        d = await acli_json(addr, "workflow", "describe", "--workflow-id", wid)
        info = d["workflowExecutionInfo"]
        assert info["execution"] == {"workflowId": wid, "runId": run_id}
        assert info["type"]["name"] == "SignalSumWorkflow"
        assert info["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
        assert int(info["historyLength"]) >= 5
        assert d["executionConfig"]["taskQueue"]["name"] == tq

        tqd = await acli_json(addr, "task-queue", "describe", "--task-queue", tq)
        pollers = {(p["taskQueueType"], p["identity"]) for p in tqd["pollers"]}
        assert ("workflow", identity) in pollers, tqd
        assert ("activity", identity) in pollers, tqd

        await acli(addr, "workflow", "signal", "--workflow-id", wid, "--name", "add", "--input", "7")
        assert await handle.result() == 12

    show = await acli_json(addr, "workflow", "show", "--workflow-id", wid)
    names = event_type_names(show)
    assert names[0] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    assert names[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    assert names.count("EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED") == 2
    assert [int(e["eventId"]) for e in show["events"]] == list(range(1, len(names) + 1))
    assert show["events"][0]["workflowExecutionStartedEventAttributes"]["identity"].startswith("temporal-cli")
    d = await acli_json(addr, "workflow", "describe", "--workflow-id", wid)
    assert d["workflowExecutionInfo"]["status"] == "WORKFLOW_EXECUTION_STATUS_COMPLETED"
    assert int(d["workflowExecutionInfo"]["historyLength"]) == len(names)
    assert "closeTime" in d["workflowExecutionInfo"]


async def test_cli_execute(client, server):
    tq = uid("cli-exec-tq")
    wid = uid("cli-exec")
    async with running_worker(client, tq, workflows=[GreetWorkflow], activities=[greet]):
        out = await acli_json(server.address, "workflow", "execute", "--type", "GreetWorkflow",
                              "--task-queue", tq, "--workflow-id", wid, "--input", '"Bob"')
    assert out["workflowId"] == wid
    assert out["status"] == "COMPLETED"
    assert out["result"] == "Hello, Bob!"
    assert out["closeEvent"]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    assert out["closeEvent"]["workflowExecutionCompletedEventAttributes"]["result"] == ["Hello, Bob!"]
    show = await acli_json(server.address, "workflow", "show", "--workflow-id", wid)
    assert event_type_names(show) == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED", "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED", "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED", "EVENT_TYPE_ACTIVITY_TASK_STARTED",
        "EVENT_TYPE_ACTIVITY_TASK_COMPLETED", "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED", "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"]


async def test_cli_cancel_and_terminate(client, server):
    addr = server.address
    tq = uid("cli-ct-tq")
    cancel_id, term_id = uid("cli-cancel"), uid("cli-term")
    async with running_worker(client, tq, workflows=[WaitForeverWorkflow]):
        for wid in (cancel_id, term_id):
            await acli(addr, "workflow", "start", "--type", "WaitForeverWorkflow", "--task-queue", tq,
                       "--workflow-id", wid)
        await acli(addr, "workflow", "cancel", "--workflow-id", cancel_id)
        with_cancel = client.get_workflow_handle(cancel_id)
        try:
            await with_cancel.result()
            raise AssertionError("cancelled workflow returned a result")
        except WorkflowFailureError:
            pass
        await acli(addr, "workflow", "terminate", "--workflow-id", term_id, "--reason", "cli says stop")

        async def terminated():
            return (await client.get_workflow_handle(term_id).describe()).status == \
                WorkflowExecutionStatus.TERMINATED
        await wait_until(terminated, what="terminated")

    d = await acli_json(addr, "workflow", "describe", "--workflow-id", cancel_id)
    assert d["workflowExecutionInfo"]["status"] == "WORKFLOW_EXECUTION_STATUS_CANCELED"
    names = event_type_names(await acli_json(addr, "workflow", "show", "--workflow-id", cancel_id))
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED" in names
    assert names[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED"

    show = await acli_json(addr, "workflow", "show", "--workflow-id", term_id)
    last = show["events"][-1]
    assert last["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
    assert last["workflowExecutionTerminatedEventAttributes"]["reason"] == "cli says stop"
    d = await acli_json(addr, "workflow", "describe", "--workflow-id", term_id)
    assert d["workflowExecutionInfo"]["status"] == "WORKFLOW_EXECUTION_STATUS_TERMINATED"

    # Terminating a closed workflow fails with a non-zero exit.
    r = await acli(addr, "workflow", "terminate", "--workflow-id", term_id, "--reason", "again", check=False)
    assert r.returncode != 0
    assert "already completed" in r.stderr.lower() or "not found" in r.stderr.lower(), r.stderr
