"""Visibility: ListWorkflowExecutions / CountWorkflowExecutions with Temporal's query language,
custom search attributes (OperatorService + UpsertWorkflowSearchAttributes), paging, and
bad queries, through the Python SDK and the real `temporal` CLI."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (AddSearchAttributesRequest, ListSearchAttributesRequest,
                                               RemoveSearchAttributesRequest)
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest, RegisterNamespaceRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from support import DAY, cli, cli_json, expect_rpc_error
from wf_defs import EchoWorkflow, FailWorkflow, running_worker, uid, wait_until

CUSTOMER = SearchAttributeKey.for_keyword("CustomerId")
PRIORITY = SearchAttributeKey.for_int("Priority")


@workflow.defn(name="TaggedWorkflow", sandboxed=False)
class TaggedWorkflow:
    @workflow.run
    async def run(self, customer: str, priority: int) -> str:
        workflow.upsert_search_attributes([CUSTOMER.value_set(customer), PRIORITY.value_set(priority)])
        return customer


async def new_namespace(client: Client, server) -> tuple[str, Client]:
    ns = uid("vis")
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=ns, workflow_execution_retention_period=Duration(seconds=DAY)))
    return ns, await Client.connect(server.address, namespace=ns)


async def listed(c: Client, query: str = "") -> list:
    return [w async for w in c.list_workflows(query)]


async def test_filters_and_counts_with_sdk_and_cli(client, server):
    ns, nsc = await new_namespace(client, server)
    tq = uid("vis-tq")
    async with running_worker(nsc, tq, workflows=[EchoWorkflow, FailWorkflow]):
        done = []
        for i in range(3):
            h = await nsc.start_workflow(EchoWorkflow.run, str(i), id=uid(f"echo{i}"), task_queue=tq)
            await h.result()
            done.append(h.id)
        failed = await nsc.start_workflow(FailWorkflow.run, "no", id=uid("fail"), task_queue=tq)
        with pytest.raises(Exception):
            await failed.result()
    running = await nsc.start_workflow(EchoWorkflow.run, "x", id=uid("open"), task_queue=uid("nobody"))

    async def settled():
        return (await nsc.count_workflows("ExecutionStatus = 'Completed'")).count == 3 and \
            (await nsc.count_workflows("ExecutionStatus = 'Failed'")).count == 1

    await wait_until(settled, what="visibility caught up")
    ws = await listed(nsc, "WorkflowType = 'EchoWorkflow' AND ExecutionStatus = 'Completed'")
    assert sorted(w.id for w in ws) == sorted(done)
    assert all(w.status == WorkflowExecutionStatus.COMPLETED and w.task_queue == tq for w in ws)
    assert [w.id for w in await listed(nsc, "ExecutionStatus = 'Running'")] == [running.id]
    assert [w.id for w in await listed(nsc, f"WorkflowId = '{failed.id}'")] == [failed.id]
    assert len(await listed(nsc, "WorkflowType IN ('EchoWorkflow', 'FailWorkflow') AND CloseTime IS NOT NULL")) == 4
    assert len(await listed(nsc, "(ExecutionStatus = 'Failed' OR ExecutionStatus = 'Running') AND HistoryLength > 0")) == 2
    assert len(await listed(nsc, f"TaskQueue = '{tq}' AND StartTime > '2020-01-01T00:00:00Z'")) == 4
    assert len(await listed(nsc, "WorkflowId STARTS_WITH 'echo'")) == 3
    assert len(await listed(nsc, "ExecutionDuration >= 0 AND ExecutionDuration < '1h'")) == 4
    by_start = await listed(nsc, "ExecutionStatus != 'Running' ORDER BY StartTime ASC")
    assert [w.start_time for w in by_start] == sorted(w.start_time for w in by_start)

    # count, plain and grouped (SDK)
    assert (await nsc.count_workflows()).count == 5
    assert (await nsc.count_workflows("WorkflowType = 'EchoWorkflow'")).count == 4
    grouped = await nsc.count_workflows("GROUP BY ExecutionStatus")
    assert grouped.count == 5
    assert {tuple(g.group_values): g.count for g in grouped.groups} == {
        ("Completed",): 3, ("Failed",): 1, ("Running",): 1}

    # the CLI
    addr = server.address
    rows = cli_json(addr, "workflow", "list", "--namespace", ns,
                    "-q", "WorkflowType='EchoWorkflow' AND ExecutionStatus='Completed'")
    assert sorted(r["execution"]["workflowId"] for r in rows) == sorted(done)
    count = cli_json(addr, "workflow", "count", "--namespace", ns)
    assert int(count["count"]) == 5
    count = cli_json(addr, "workflow", "count", "--namespace", ns, "-q", "ExecutionStatus='Completed'")
    assert int(count["count"]) == 3
    text = cli(addr, "workflow", "count", "--namespace", ns, "-q", "GROUP BY ExecutionStatus").stdout
    assert "Total: 5" in text, text
    for status, n in (("Completed", 3), ("Failed", 1), ("Running", 1)):
        assert f"Group total: {n}, values: {status}" in text, text
    await running.terminate(reason="cleanup")


async def test_completed_workflow_is_listed_within_a_second(client, server):
    ns, nsc = await new_namespace(client, server)
    tq = uid("prompt-tq")
    async with running_worker(nsc, tq, workflows=[EchoWorkflow]):
        h = await nsc.start_workflow(EchoWorkflow.run, "x", id=uid("prompt"), task_queue=tq)
        await h.result()
        done_at = time.monotonic()
        while True:
            ws = await listed(nsc, f"WorkflowId = '{h.id}' AND ExecutionStatus = 'Completed'")
            if ws:
                break
            assert time.monotonic() - done_at < 1.0, "not listed as completed within 1 s"
            await asyncio.sleep(0.02)


async def test_paging_visits_every_execution_once(client, server):
    ns, nsc = await new_namespace(client, server)
    ids = []
    for i in range(7):
        h = await nsc.start_workflow(EchoWorkflow.run, "x", id=uid(f"page{i}"), task_queue=uid("nobody"))
        ids.append(h.id)
    await wait_until(lambda: nsc.count_workflows("ExecutionStatus = 'Running'"), what="count")

    async def all_seven():
        return (await nsc.count_workflows()).count == 7

    await wait_until(all_seven, what="all listed")
    seen, token, pages = [], b"", 0
    while True:
        resp = await nsc.workflow_service.list_workflow_executions(ListWorkflowExecutionsRequest(
            namespace=ns, page_size=3, next_page_token=token, query="ExecutionStatus = 'Running'"))
        seen += [e.execution.workflow_id for e in resp.executions]
        pages += 1
        token = resp.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 7
    assert pages >= 3
    assert seen == list(reversed(ids)), "newest first"
    # The SDK's iterator pages the same way.
    assert [w.id for w in [w async for w in nsc.list_workflows("", page_size=2)]] == list(reversed(ids))
    await expect_rpc_error(nsc.workflow_service.list_workflow_executions(ListWorkflowExecutionsRequest(
        namespace=ns, page_size=3, next_page_token=b"bogus")), RPCStatusCode.INVALID_ARGUMENT)
    for wid in ids:
        await nsc.get_workflow_handle(wid).terminate(reason="cleanup")


async def test_custom_search_attributes(client, server):
    ns, nsc = await new_namespace(client, server)
    other_ns, other = await new_namespace(client, server)
    addr = server.address
    cli(addr, "operator", "search-attribute", "create", "--namespace", ns,
        "--name", "CustomerId", "--type", "Keyword")
    cli(addr, "operator", "search-attribute", "create", "--namespace", ns,
        "--name", "Priority", "--type", "Int")
    listed_sa = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=ns))
    assert listed_sa.custom_attributes["CustomerId"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert listed_sa.custom_attributes["Priority"] == IndexedValueType.INDEXED_VALUE_TYPE_INT
    assert "WorkflowType" in listed_sa.system_attributes
    # Another namespace does not see them.
    other_sa = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=other_ns))
    assert "CustomerId" not in other_sa.custom_attributes
    # Adding the same attribute again with the same type is harmless (idempotent).
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=ns, search_attributes={"CustomerId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}))
    await expect_rpc_error(client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=ns, search_attributes={"WorkflowId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD})),
        RPCStatusCode.INVALID_ARGUMENT)

    tq = uid("sa-tq")
    async with running_worker(nsc, tq, workflows=[TaggedWorkflow]):
        handles = []
        for cust, prio in [("c-1", 5), ("c-2", 1), ("c-1", 9)]:
            h = await nsc.start_workflow(TaggedWorkflow.run, args=[cust, prio], id=uid("tagged"), task_queue=tq)
            await h.result()
            handles.append(h)
    started = await nsc.start_workflow(
        EchoWorkflow.run, "x", id=uid("tagged-start"), task_queue=uid("nobody"),
        search_attributes=TypedSearchAttributes([SearchAttributePair(CUSTOMER, "c-3"),
                                                 SearchAttributePair(PRIORITY, 2)]))

    async def indexed():
        return len(await listed(nsc, "CustomerId IS NOT NULL")) == 4

    await wait_until(indexed, what="search attributes indexed")
    got = await listed(nsc, "CustomerId = 'c-1' AND Priority > 6")
    assert [w.id for w in got] == [handles[2].id]
    assert got[0].typed_search_attributes.get(CUSTOMER) == "c-1"
    assert got[0].typed_search_attributes.get(PRIORITY) == 9
    assert {w.id for w in await listed(nsc, "CustomerId = 'c-1'")} == {handles[0].id, handles[2].id}
    assert {w.id for w in await listed(nsc, "Priority BETWEEN 1 AND 2")} == {handles[1].id, started.id}
    assert [w.id for w in await listed(nsc, "CustomerId = 'c-3' AND ExecutionStatus = 'Running'")] == [started.id]
    assert (await nsc.count_workflows("Priority >= 5")).count == 2
    rows = cli_json(addr, "workflow", "list", "--namespace", ns, "-q", "CustomerId='c-2'")
    assert [r["execution"]["workflowId"] for r in rows] == [handles[1].id]
    desc = await handles[2].describe()
    assert desc.typed_search_attributes.get(CUSTOMER) == "c-1"

    # Type mismatch and unknown attributes name the problem; the other namespace does not
    # know CustomerId at all.
    e = await expect_rpc_error(listed(nsc, "Priority = 'high'"), RPCStatusCode.INVALID_ARGUMENT)
    assert "Priority" in e.message and "Int" in e.message, e.message
    e = await expect_rpc_error(listed(other, "CustomerId = 'c-1'"), RPCStatusCode.INVALID_ARGUMENT)
    assert "CustomerId" in e.message, e.message

    # Removing an attribute makes it unknown to queries.
    await client.operator_service.remove_search_attributes(RemoveSearchAttributesRequest(
        namespace=ns, search_attributes=["Priority"]))
    e = await expect_rpc_error(listed(nsc, "Priority > 1"), RPCStatusCode.INVALID_ARGUMENT)
    assert "Priority" in e.message
    await expect_rpc_error(client.operator_service.remove_search_attributes(RemoveSearchAttributesRequest(
        namespace=ns, search_attributes=["Priority"])), RPCStatusCode.NOT_FOUND)
    await started.terminate(reason="cleanup")


BAD_QUERIES = [
    ("NoSuchAttribute = 'x'", "NoSuchAttribute"),
    ("HistoryLength = 'ten'", "HistoryLength"),
    ("ExecutionStatus = 'Done'", "ExecutionStatus"),
    ("StartTime > 'yesterday'", "StartTime"),
    ("(WorkflowId = 'x'", "unbalanced parentheses"),
    ("WorkflowId = 'x')", "unbalanced parentheses"),
    ("WorkflowId = 'x'' OR 1=1 --'", "quote"),
    ("WorkflowId = 'x' OR 1=1", "1"),
    ("WorkflowId = 'x'; DROP TABLE executions_visibility", "';'"),
    ("WorkflowId = 'x' -- comment", "comments"),
    ("WorkflowId = 'x' UNION SELECT run_id FROM executions_visibility", "UNION"),
    ("WorkflowId", "operator"),
    ("WorkflowId LIKE 'x%'", "LIKE"),
    ("ORDER BY WorkflowId GROUP BY WorkflowType", "GROUP BY"),
]


async def test_bad_queries_are_invalid_argument(client, server):
    ns, nsc = await new_namespace(client, server)
    h = await nsc.start_workflow(EchoWorkflow.run, "x", id=uid("bad"), task_queue=uid("nobody"))

    async def visible():
        return (await nsc.count_workflows()).count == 1

    await wait_until(visible, what="visible")
    for query, needle in BAD_QUERIES:
        e = await expect_rpc_error(listed(nsc, query), RPCStatusCode.INVALID_ARGUMENT)
        assert needle in e.message, (query, e.message)
        e = await expect_rpc_error(nsc.count_workflows(query), RPCStatusCode.INVALID_ARGUMENT)
    # GROUP BY is for count only.
    await expect_rpc_error(listed(nsc, "GROUP BY ExecutionStatus"), RPCStatusCode.INVALID_ARGUMENT)
    # Nothing happened to the data.
    assert (await nsc.count_workflows()).count == 1
    r = cli(server.address, "workflow", "list", "--namespace", ns, "-q", "WorkflowId = 'x'' OR 1=1 --'",
            check=False)
    assert r.returncode != 0 and "InvalidArgument" in (r.stderr + r.stdout) or "invalid query" in r.stderr, r.stderr
    await h.terminate(reason="cleanup")
