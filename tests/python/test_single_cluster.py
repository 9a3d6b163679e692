"""APIs a single-cluster Temporal answers in its own way, through the Python SDK's raw services
and the `temporal` CLI: the cluster list and remote-cluster changes, the cluster-wide
GetSearchAttributes, archived-workflow listing with archival off, DeprecateNamespace (a
deprecated namespace takes no new workflows) and CountSchedules. Run with
SUNDIAL_TEST_IMPL=reference to check the same expectations against Temporal."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import IndexedValueType, NamespaceState
from temporalio.api.errordetails.v1 import NamespaceInvalidStateFailure
from temporalio.api.operatorservice.v1 import (AddOrUpdateRemoteClusterRequest, ListClustersRequest,
                                               RemoveRemoteClusterRequest)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (CountSchedulesRequest, DeprecateNamespaceRequest,
                                               DescribeNamespaceRequest, GetClusterInfoRequest,
                                               GetSearchAttributesRequest, ListArchivedWorkflowExecutionsRequest,
                                               RegisterNamespaceRequest, SignalWithStartWorkflowExecutionRequest,
                                               SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest)
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec, ScheduleState
from temporalio.service import RPCError, RPCStatusCode

from support import cli, expect_rpc_error, unique
from wf_defs import EchoWorkflow, wait_until

INVALID_STATE = "type.googleapis.com/temporal.api.errordetails.v1.NamespaceInvalidStateFailure"
NOT_FOUND = "type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"


async def fresh_namespace(client: Client, server) -> Client:
    """A new namespace, and a client of it once the server serves it (Temporal's namespace
    cache takes up to ~10 s to see a new one)."""
    name = unique("single")
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period=Duration(seconds=86400)))
    ns_client = await Client.connect(server.address, namespace=name)

    async def served() -> bool:
        try:
            await ns_client.workflow_service.count_schedules(CountSchedulesRequest(namespace=name), retry=False)
            return True
        except RPCError:
            return False
    await wait_until(served, timeout=30, interval=0.5, what=f"namespace {name} served")
    return ns_client


def start_request(namespace: str, workflow_id: str) -> StartWorkflowExecutionRequest:
    return StartWorkflowExecutionRequest(
        namespace=namespace, workflow_id=workflow_id, workflow_type=WorkflowType(name="Nobody"),
        task_queue=TaskQueue(name=unique("single-tq")), request_id=str(uuid.uuid4()))


async def test_the_cluster_lists_itself(client: Client, server):
    info = await client.workflow_service.get_cluster_info(GetClusterInfoRequest())
    listed = await client.operator_service.list_clusters(ListClustersRequest())
    assert len(listed.clusters) == 1, listed
    me = listed.clusters[0]
    assert (me.cluster_name, me.cluster_id) == (info.cluster_name, info.cluster_id)
    assert me.address == server.address
    assert me.history_shard_count == info.history_shard_count
    assert me.initial_failover_version == info.initial_failover_version
    assert me.is_connection_enabled and not me.is_replication_enabled
    out = cli(server.address, "operator", "cluster", "list", "-o", "json").stdout
    assert info.cluster_id in out and server.address in out, out


async def test_remote_cluster_changes_are_refused_as_temporal_refuses_them(client: Client, server):
    ops = client.operator_service
    e = await expect_rpc_error(ops.remove_remote_cluster(RemoveRemoteClusterRequest(cluster_name="elsewhere"),
                                                         retry=False), RPCStatusCode.NOT_FOUND)
    assert e.message == "The cluster to be deleted cannot be found in clusters cache."
    me = (await ops.list_clusters(ListClustersRequest())).clusters[0].cluster_name
    e = await expect_rpc_error(ops.remove_remote_cluster(RemoveRemoteClusterRequest(cluster_name=me), retry=False),
                               RPCStatusCode.INTERNAL)
    assert e.message == "Unable to delete cluster info with error: Cannot delete current cluster metadata."
    e = await expect_rpc_error(ops.add_or_update_remote_cluster(AddOrUpdateRemoteClusterRequest(
        frontend_address="127.0.0.1:1", enable_remote_cluster_connection=True), retry=False), RPCStatusCode.UNAVAILABLE)
    assert e.message.startswith("Unable connect to remote cluster 127.0.0.1:1 with error: "), e.message
    e = await expect_rpc_error(ops.add_or_update_remote_cluster(AddOrUpdateRemoteClusterRequest(
        frontend_address=server.address, enable_remote_cluster_connection=True), retry=False),
        RPCStatusCode.INVALID_ARGUMENT)
    assert e.message == ("Unable connect to remote cluster with invalid config: "
                         "Cannot update current cluster metadata from rpc calls."), e.message
    r = cli(server.address, "operator", "cluster", "remove", "--name", "elsewhere", check=False)
    assert r.returncode != 0 and "cannot be found in clusters cache" in r.stderr, r.stderr


async def test_get_search_attributes_names_system_attributes_and_the_sql_columns(client: Client):
    keys = dict((await client.workflow_service.get_search_attributes(GetSearchAttributesRequest())).keys)
    t = IndexedValueType
    expected = {
        "WorkflowId": t.INDEXED_VALUE_TYPE_KEYWORD, "WorkflowType": t.INDEXED_VALUE_TYPE_KEYWORD,
        "ExecutionStatus": t.INDEXED_VALUE_TYPE_KEYWORD, "StartTime": t.INDEXED_VALUE_TYPE_DATETIME,
        "HistoryLength": t.INDEXED_VALUE_TYPE_INT, "BuildIds": t.INDEXED_VALUE_TYPE_KEYWORD_LIST,
        "TemporalSchedulePaused": t.INDEXED_VALUE_TYPE_BOOL,
    }
    columns = {"Keyword": (10, t.INDEXED_VALUE_TYPE_KEYWORD), "Text": (3, t.INDEXED_VALUE_TYPE_TEXT),
               "Int": (3, t.INDEXED_VALUE_TYPE_INT), "Double": (3, t.INDEXED_VALUE_TYPE_DOUBLE),
               "Bool": (3, t.INDEXED_VALUE_TYPE_BOOL), "Datetime": (3, t.INDEXED_VALUE_TYPE_DATETIME),
               "KeywordList": (3, t.INDEXED_VALUE_TYPE_KEYWORD_LIST)}
    for prefix, (n, ty) in columns.items():
        expected.update({f"{prefix}{i:02d}": ty for i in range(1, n + 1)})
    wrong = {k: (keys.get(k), v) for k, v in expected.items() if keys.get(k) != v}
    assert not wrong, wrong


async def test_archived_workflows_cannot_be_listed_without_archival(client: Client):
    e = await expect_rpc_error(client.workflow_service.list_archived_workflow_executions(
        ListArchivedWorkflowExecutionsRequest(namespace=client.namespace), retry=False), RPCStatusCode.INVALID_ARGUMENT)
    assert e.message == "Cluster is not configured for visibility archival."
    await expect_rpc_error(client.workflow_service.list_archived_workflow_executions(
        ListArchivedWorkflowExecutionsRequest(namespace=unique("nowhere")), retry=False), RPCStatusCode.NOT_FOUND)


async def test_a_deprecated_namespace_takes_no_new_workflows(client: Client, server):
    ns_client = await fresh_namespace(client, server)
    ns, ws = ns_client.namespace, ns_client.workflow_service
    running = await ws.start_workflow_execution(start_request(ns, "before"))
    await expect_rpc_error(ws.deprecate_namespace(DeprecateNamespaceRequest(), retry=False),
                           RPCStatusCode.INVALID_ARGUMENT)
    await expect_rpc_error(ws.deprecate_namespace(DeprecateNamespaceRequest(namespace=unique("nowhere")), retry=False),
                           RPCStatusCode.NOT_FOUND)
    await ws.deprecate_namespace(DeprecateNamespaceRequest(namespace=ns))
    await ws.deprecate_namespace(DeprecateNamespaceRequest(namespace=ns))  # again: no error
    described = await ws.describe_namespace(DescribeNamespaceRequest(namespace=ns))
    assert described.namespace_info.state == NamespaceState.NAMESPACE_STATE_DEPRECATED

    async def start_refused() -> bool:
        try:
            await ws.start_workflow_execution(start_request(ns, unique("after")), retry=False)
            return False
        except RPCError as e:
            return e.status == RPCStatusCode.FAILED_PRECONDITION
    await wait_until(start_refused, timeout=30, interval=0.5, what="starts refused in the deprecated namespace")
    e = await expect_rpc_error(ws.start_workflow_execution(start_request(ns, "after"), retry=False),
                               RPCStatusCode.FAILED_PRECONDITION, INVALID_STATE)
    assert e.message == "Namespace has invalid state: Deprecated. Must be Registered."
    detail = NamespaceInvalidStateFailure()
    assert e.grpc_status.details[0].Unpack(detail)
    assert (detail.namespace, detail.state, list(detail.allowed_states)) == \
        (ns, NamespaceState.NAMESPACE_STATE_DEPRECATED, [NamespaceState.NAMESPACE_STATE_REGISTERED])
    req = start_request(ns, "sws")
    await expect_rpc_error(ws.signal_with_start_workflow_execution(SignalWithStartWorkflowExecutionRequest(
        namespace=ns, workflow_id=req.workflow_id, workflow_type=req.workflow_type, task_queue=req.task_queue,
        signal_name="go"), retry=False), RPCStatusCode.FAILED_PRECONDITION, INVALID_STATE)
    # What runs goes on: signals reach it, and the SDK client still reads it.
    await ws.signal_workflow_execution(SignalWorkflowExecutionRequest(
        namespace=ns, workflow_execution=WorkflowExecution(workflow_id="before", run_id=running.run_id),
        signal_name="go", request_id=str(uuid.uuid4())))
    assert (await ns_client.get_workflow_handle("before").describe()).run_id == running.run_id


async def test_count_schedules(client: Client, server):
    ns_client = await fresh_namespace(client, server)

    async def count(query: str = "") -> int:
        return (await ns_client.workflow_service.count_schedules(
            CountSchedulesRequest(namespace=ns_client.namespace, query=query))).count
    assert await count() == 0
    tq = unique("count-tq")
    spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])
    for i, paused in enumerate([True, False, True]):
        await ns_client.create_schedule(unique(f"count-{i}"), Schedule(
            action=ScheduleActionStartWorkflow(EchoWorkflow.run, "x", id=unique("wf"), task_queue=tq),
            spec=spec, state=ScheduleState(paused=paused)))

    async def counted() -> bool:
        return await count() == 3 and await count("TemporalSchedulePaused = true") == 2
    await wait_until(counted, timeout=30, interval=0.5, what="three schedules counted, two paused")
    await expect_rpc_error(client.workflow_service.count_schedules(
        CountSchedulesRequest(namespace=unique("nowhere")), retry=False), RPCStatusCode.NOT_FOUND)
