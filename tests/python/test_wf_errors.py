"""Bad input to the workflow APIs: each is a clear gRPC error and the server keeps
serving. Codes and detail types are asserted, messages only loosely.

Reference (Temporal 1.32 dev server) answers, verbatim:
  start, unknown namespace   NOT_FOUND  "Namespace <ns> is not found."  [NamespaceNotFoundFailure]
  start, task_queue.name ""  INVALID_ARGUMENT "missing task queue name"
  start, task_queue unset    INVALID_ARGUMENT "taskQueue is not set"
  start, workflow_type ""    INVALID_ARGUMENT "WorkflowType is not set on request."
  start, workflow_id ""      INVALID_ARGUMENT "WorkflowId is not set on request."
  start, 1001-char id        INVALID_ARGUMENT "WorkflowId exceeds maximum allowed length (1001/1000)"
                             (exactly 1000 chars is accepted)
  start, negative timeouts   INVALID_ARGUMENT "An invalid WorkflowExecutionTimeoutSeconds is set on
                             request. cause: negative duration" (…RunTimeoutSeconds…, …TaskTimeoutSeconds…)
  RespondActivityTaskCompleted / Failed / RecordActivityTaskHeartbeat /
  RespondWorkflowTaskCompleted with garbage token
                             INVALID_ARGUMENT "Error deserializing task token."
  ... with empty token       INVALID_ARGUMENT "Task token not set on request."
  completing an activity twice (also failing / heartbeating after completion)
                             NOT_FOUND "invalid activityID or activity already timed out or invoking
                             workflow is completed" [NotFoundFailure]
  completing after the workflow closed
                             NOT_FOUND "workflow execution already completed" [NotFoundFailure]
  signal/describe/history/terminate/cancel/query, unknown id
                             NOT_FOUND "workflow not found for ID: <id>" [NotFoundFailure]
  signal, unknown id + run   NOT_FOUND 'workflow execution not found for workflow ID "<id>" and run ID "<run>"'
  signal, signal_name ""     INVALID_ARGUMENT "SignalName is not set on request."
  describe, run_id not uuid  INVALID_ARGUMENT "Invalid RunId."
"""

from __future__ import annotations

import uuid

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest, PollActivityTaskQueueRequest,
    QueryWorkflowRequest, RecordActivityTaskHeartbeatRequest, RequestCancelWorkflowExecutionRequest,
    RespondActivityTaskCompletedRequest, RespondActivityTaskFailedRequest,
    RespondWorkflowTaskCompletedRequest, SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest)
from temporalio.service import RPCStatusCode

from support import DETAIL_PREFIX, NAMESPACE_NOT_FOUND, assert_alive, expect_rpc_error
from wf_defs import GreetWorkflow, event_types, running_worker, uid, wait_for_event

NOT_FOUND_FAILURE = DETAIL_PREFIX + "NotFoundFailure"
INVALID = RPCStatusCode.INVALID_ARGUMENT


def start_req(client, **overrides) -> StartWorkflowExecutionRequest:
    fields = dict(namespace=client.namespace, workflow_id=uid("bad"), workflow_type=WorkflowType(name="Nope"),
                  task_queue=TaskQueue(name=uid("bad-tq")), request_id=str(uuid.uuid4()), identity="wf-tests")
    fields.update(overrides)
    return StartWorkflowExecutionRequest(**fields)


async def test_start_unknown_namespace(client):
    ns = uid("no-such-ns")
    err = await expect_rpc_error(client.workflow_service.start_workflow_execution(start_req(client, namespace=ns)),
                                 RPCStatusCode.NOT_FOUND, NAMESPACE_NOT_FOUND)
    assert ns in err.message
    await assert_alive(client)


@pytest.mark.parametrize("overrides,needle", [
    ({"task_queue": TaskQueue(name="")}, "taskqueue"),
    ({"task_queue": None}, "taskqueue"),
    ({"workflow_type": WorkflowType(name="")}, "workflowtype"),
    ({"workflow_id": ""}, "workflowid"),
    ({"workflow_id": "w" * 1001}, "workflowid"),
    ({"workflow_execution_timeout": Duration(seconds=-1)}, "workflowexecutiontimeout"),
    ({"workflow_run_timeout": Duration(seconds=-1)}, "workflowruntimeout"),
    ({"workflow_task_timeout": Duration(seconds=-5)}, "workflowtasktimeout"),
], ids=["empty-task-queue", "no-task-queue", "no-type", "no-id", "id-1001-chars", "neg-execution-timeout",
        "neg-run-timeout", "neg-task-timeout"])
async def test_start_invalid_argument(client, overrides, needle):
    req = start_req(client, **overrides)
    err = await expect_rpc_error(client.workflow_service.start_workflow_execution(req), INVALID)
    assert needle in err.message.lower().replace(" ", ""), err.message
    await assert_alive(client)


async def test_start_workflow_id_of_1000_chars_is_accepted(client):
    wid = ("k" * 988) + uuid.uuid4().hex[:12]
    assert len(wid) == 1000
    resp = await client.workflow_service.start_workflow_execution(start_req(client, workflow_id=wid))
    assert resp.started
    await client.get_workflow_handle(wid).terminate(reason="cleanup")


@pytest.mark.parametrize("call", ["completed", "failed", "heartbeat", "workflow_task"])
async def test_malformed_task_token(client, call):
    ws = client.workflow_service
    ns, token = client.namespace, b"\x00garbage\xff-token"
    coro = {
        "completed": lambda: ws.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(namespace=ns, task_token=token, identity="t")),
        "failed": lambda: ws.respond_activity_task_failed(
            RespondActivityTaskFailedRequest(namespace=ns, task_token=token, identity="t")),
        "heartbeat": lambda: ws.record_activity_task_heartbeat(
            RecordActivityTaskHeartbeatRequest(namespace=ns, task_token=token, identity="t")),
        "workflow_task": lambda: ws.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(namespace=ns, task_token=token, identity="t")),
    }[call]
    err = await expect_rpc_error(coro(), INVALID)
    assert "token" in err.message.lower(), err.message
    await assert_alive(client)


async def test_empty_task_token(client):
    err = await expect_rpc_error(client.workflow_service.respond_activity_task_completed(
        RespondActivityTaskCompletedRequest(namespace=client.namespace, task_token=b"", identity="t")), INVALID)
    assert "token" in err.message.lower(), err.message


async def test_complete_activity_task_twice(client):
    """A raw poller takes the activity task; the first completion wins, every later
    completion/failure/heartbeat with that token is NOT_FOUND."""
    ws = client.workflow_service
    tq = uid("twice-tq")
    handle = await client.start_workflow(GreetWorkflow.run, "twice", id=uid("twice"), task_queue=tq)
    # A workflow-only worker schedules the activity; nobody else polls activities.
    async with running_worker(client, tq, workflows=[GreetWorkflow], max_concurrent_activities=1,
                              no_remote_activities=True):
        await wait_for_event(handle, "ActivityTaskScheduled")
    task = await ws.poll_activity_task_queue(PollActivityTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=tq), identity="raw-poller"))
    assert task.task_token and task.activity_type.name == "Greet" and task.attempt == 1
    payloads = (await client.data_converter.encode(["raw result"]))
    from temporalio.api.common.v1 import Payloads

    def complete():
        return ws.respond_activity_task_completed(RespondActivityTaskCompletedRequest(
            namespace=client.namespace, task_token=task.task_token, identity="raw-poller",
            result=Payloads(payloads=payloads)))

    await complete()
    await expect_rpc_error(complete(), RPCStatusCode.NOT_FOUND, NOT_FOUND_FAILURE)
    await expect_rpc_error(ws.respond_activity_task_failed(RespondActivityTaskFailedRequest(
        namespace=client.namespace, task_token=task.task_token, identity="raw-poller")),
        RPCStatusCode.NOT_FOUND, NOT_FOUND_FAILURE)
    await expect_rpc_error(ws.record_activity_task_heartbeat(RecordActivityTaskHeartbeatRequest(
        namespace=client.namespace, task_token=task.task_token, identity="raw-poller")),
        RPCStatusCode.NOT_FOUND, NOT_FOUND_FAILURE)
    names = await event_types(handle)
    assert names.count("ActivityTaskCompleted") == 1
    assert names[-4:] == ["ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted",
                          "WorkflowTaskScheduled"], names

    async with running_worker(client, tq, workflows=[GreetWorkflow]):
        assert await handle.result() == "raw result"
    # After the workflow closed: still NOT_FOUND.
    await expect_rpc_error(complete(), RPCStatusCode.NOT_FOUND, NOT_FOUND_FAILURE)
    await assert_alive(client)


async def test_unknown_workflow_is_not_found(client):
    ws, ns = client.workflow_service, client.namespace
    wid = uid("ghost")
    ex = WorkflowExecution(workflow_id=wid)
    calls = {
        "signal": ws.signal_workflow_execution(SignalWorkflowExecutionRequest(
            namespace=ns, workflow_execution=ex, signal_name="add", request_id=str(uuid.uuid4()))),
        "describe": ws.describe_workflow_execution(DescribeWorkflowExecutionRequest(namespace=ns, execution=ex)),
        "history": ws.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest(namespace=ns, execution=ex)),
        "terminate": ws.terminate_workflow_execution(TerminateWorkflowExecutionRequest(
            namespace=ns, workflow_execution=ex)),
        "cancel": ws.request_cancel_workflow_execution(RequestCancelWorkflowExecutionRequest(
            namespace=ns, workflow_execution=ex)),
        "query": ws.query_workflow(QueryWorkflowRequest(namespace=ns, execution=ex,
                                                        query=WorkflowQuery(query_type="total"))),
    }
    for name, coro in calls.items():
        err = await expect_rpc_error(coro, RPCStatusCode.NOT_FOUND, NOT_FOUND_FAILURE)
        assert wid in err.message, (name, err.message)
    # With a run id that does not exist either.
    await expect_rpc_error(ws.signal_workflow_execution(SignalWorkflowExecutionRequest(
        namespace=ns, workflow_execution=WorkflowExecution(workflow_id=wid, run_id=str(uuid.uuid4())),
        signal_name="add")), RPCStatusCode.NOT_FOUND, NOT_FOUND_FAILURE)
    # SDK-level signal to an unknown id surfaces the same error.
    from temporalio.service import RPCError
    with pytest.raises(RPCError) as ei:
        await client.get_workflow_handle(wid).signal("add", 1)
    assert ei.value.status == RPCStatusCode.NOT_FOUND
    await assert_alive(client)


async def test_signal_and_describe_invalid_arguments(client):
    ws, ns = client.workflow_service, client.namespace
    await expect_rpc_error(ws.signal_workflow_execution(SignalWorkflowExecutionRequest(
        namespace=ns, workflow_execution=WorkflowExecution(workflow_id=uid("x")), signal_name="")), INVALID)
    await expect_rpc_error(ws.describe_workflow_execution(DescribeWorkflowExecutionRequest(
        namespace=ns, execution=WorkflowExecution(workflow_id="x", run_id="not-a-uuid"))), INVALID)
    await expect_rpc_error(ws.signal_workflow_execution(SignalWorkflowExecutionRequest(
        namespace=uid("no-such-ns"), workflow_execution=WorkflowExecution(workflow_id="x"), signal_name="s")),
        RPCStatusCode.NOT_FOUND, NAMESPACE_NOT_FOUND)
    await assert_alive(client)
