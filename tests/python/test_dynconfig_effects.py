"""Dynamic config changes what clients observe: each key of the user's docker.yaml, per
namespace (another namespace keeps the default), and hot reload of the file."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.workflowservice.v1 import (ListWorkflowExecutionsRequest, PollActivityTaskQueueRequest,
                                               StartWorkflowExecutionRequest)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from wf_defs import EchoWorkflow, event_name, history_events, running_worker, uid, wait_until

pytestmark = pytest.mark.sundial_only

NS = "order-service"

CONFIG = """
workflow.workflowTaskTimeout:
  - value: "7s"
    constraints: {namespace: "order-service"}
workflow.workflowExecutionTimeout:
  - value: "1h"
    constraints: {namespace: "order-service"}
workflow.workflowRunTimeout:
  - value: "30m"
    constraints: {namespace: "order-service"}
workflow.defaultActivityRetryPolicy:
  - value:
      initialIntervalInSeconds: 2
      maximumIntervalInSeconds: 50
      maximumAttempts: 3
      backoffCoefficient: 3.0
    constraints: {namespace: "order-service"}
limit.maxTaskQueuePollers:
  - value: 1
    constraints: {namespace: "order-service", taskQueueName: "limited-tq"}
history.maximumMutableStateSize:
  - value: 1
    constraints: {namespace: "order-service"}
worker.enableStickyQuery:
  - value: false
    constraints: {namespace: "order-service"}
system.visibilityDisableOrderByClause:
  - value: true
    constraints: {namespace: "order-service"}
matching.longPollExpirationInterval:
  - value: "2s"
    constraints: {namespace: "order-service", taskQueueName: "short-poll-tq"}
frontend.namespaceRPS:
  - value: 5
    constraints: {namespace: "rps-limited"}
frontend.namespaceBurstRatio:
  - value: 1
    constraints: {namespace: "rps-limited"}
"""


@workflow.defn
class ActivityNoPolicyWorkflow:
    @workflow.run
    async def run(self, queue: str, payload_kb: int, count: int) -> None:
        handles = [
            workflow.start_activity("NobodyRunsThis", "x" * (payload_kb * 1024), task_queue=queue,
                                    start_to_close_timeout=timedelta(seconds=30))
            for _ in range(count)
        ]
        await asyncio.sleep(3600)
        del handles


@pytest.fixture
def dc_path(tmp_path: Path) -> Path:
    path = tmp_path / "dynamic.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def dc_srv(start_dev, dc_path):
    srv = start_dev(["--namespace", NS, "--namespace", "rps-limited", "--dynamic-config-file", str(dc_path)])
    yield srv


async def started_attrs(client: Client, **kw):
    tq = uid("dc-tq")
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        handle = await client.start_workflow(EchoWorkflow.run, "hi", id=uid("dc"), task_queue=tq, **kw)
        await handle.result()
    events = await history_events(handle)
    return events[0].workflow_execution_started_event_attributes


async def test_timeouts_default_and_cap_per_namespace(dc_srv):
    ns_client = await Client.connect(dc_srv.address, namespace=NS)
    attrs = await started_attrs(ns_client)
    assert attrs.workflow_task_timeout.ToSeconds() == 7
    assert attrs.workflow_execution_timeout.ToSeconds() == 3600
    assert attrs.workflow_run_timeout.ToSeconds() == 1800
    capped = await started_attrs(ns_client, execution_timeout=timedelta(hours=5), run_timeout=timedelta(hours=2),
                                 task_timeout=timedelta(seconds=3))
    assert capped.workflow_execution_timeout.ToSeconds() == 3600
    assert capped.workflow_run_timeout.ToSeconds() == 1800
    assert capped.workflow_task_timeout.ToSeconds() == 3, "an explicit task timeout wins"
    other = await started_attrs(await Client.connect(dc_srv.address))
    assert other.workflow_task_timeout.ToSeconds() == 10
    assert not other.HasField("workflow_execution_timeout") or other.workflow_execution_timeout.ToSeconds() == 0


async def test_default_activity_retry_policy(dc_srv):
    for ns, expected in ((NS, (3, 2, 3.0, 50)), ("default", (0, 1, 2.0, 100))):
        client = await Client.connect(dc_srv.address, namespace=ns)
        tq = uid("dc-act")
        async with running_worker(client, tq, workflows=[ActivityNoPolicyWorkflow]):
            handle = await client.start_workflow(ActivityNoPolicyWorkflow.run, args=[uid("nobody"), 1, 1],
                                                 id=uid("dc-act"), task_queue=tq)

            async def scheduled():
                return any(event_name(e) == "ActivityTaskScheduled" for e in await history_events(handle))
            await wait_until(scheduled, what="activity scheduled")
        events = await history_events(handle)
        policy = [e for e in events if event_name(e) == "ActivityTaskScheduled"][0] \
            .activity_task_scheduled_event_attributes.retry_policy
        got = (policy.maximum_attempts, policy.initial_interval.ToSeconds(), policy.backoff_coefficient,
               policy.maximum_interval.ToSeconds())
        assert got == expected, (ns, got)
        await handle.terminate("done")


async def test_max_task_queue_pollers(dc_srv):
    client = await Client.connect(dc_srv.address, namespace=NS)

    def poll():
        return client.workflow_service.poll_activity_task_queue(
            PollActivityTaskQueueRequest(namespace=NS, task_queue=TaskQueue(name="limited-tq"), identity="t"),
            timeout=timedelta(seconds=3))
    first = asyncio.create_task(poll())
    await asyncio.sleep(0.3)
    with pytest.raises(RPCError) as err:
        await poll()
    assert err.value.status == RPCStatusCode.RESOURCE_EXHAUSTED
    assert "limit.maxTaskQueuePollers" in err.value.message
    # Another queue of the same namespace is not limited.
    other = client.workflow_service.poll_activity_task_queue(
        PollActivityTaskQueueRequest(namespace=NS, task_queue=TaskQueue(name="free-tq"), identity="t"),
        timeout=timedelta(seconds=1))
    # Both polls end by timing out (an empty response or a client-side timeout), not by a limit.
    for call in (other, first):
        try:
            await call
        except RPCError as e:
            assert e.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED), e


async def test_mutable_state_size_limit_terminates(dc_srv):
    client = await Client.connect(dc_srv.address, namespace=NS)
    tq = uid("dc-ms")
    async with running_worker(client, tq, workflows=[ActivityNoPolicyWorkflow]):
        # Two pending activities with 700 KiB inputs each: past the 1 MB limit.
        handle = await client.start_workflow(ActivityNoPolicyWorkflow.run, args=[uid("nobody"), 700, 2],
                                             id=uid("dc-ms"), task_queue=tq)

        async def terminated():
            return (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
        await wait_until(terminated, timeout=20, what="termination over the limit")
    events = await history_events(handle)
    reason = events[-1].workflow_execution_terminated_event_attributes.reason
    assert "history.maximumMutableStateSize" in reason, reason
    # The same workflow in the default namespace (8 MiB) keeps running.
    default = await Client.connect(dc_srv.address)
    async with running_worker(default, tq, workflows=[ActivityNoPolicyWorkflow]):
        ok = await default.start_workflow(ActivityNoPolicyWorkflow.run, args=[uid("nobody"), 700, 2],
                                          id=uid("dc-ms"), task_queue=tq)

        async def scheduled_two():
            return sum(event_name(e) == "ActivityTaskScheduled" for e in await history_events(ok)) == 2
        await wait_until(scheduled_two, what="two activities scheduled")
        assert (await ok.describe()).status == WorkflowExecutionStatus.RUNNING
        await ok.terminate("done")


async def test_order_by_disabled_per_namespace(dc_srv):
    client = await Client.connect(dc_srv.address, namespace=NS)
    with pytest.raises(RPCError) as err:
        await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=NS, query="ORDER BY StartTime DESC"))
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert "visibilityDisableOrderByClause" in err.value.message
    default = await Client.connect(dc_srv.address)
    await default.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace="default", query="ORDER BY StartTime DESC"))


async def test_namespace_rps_limit(dc_srv):
    limited = await Client.connect(dc_srv.address, namespace="rps-limited")
    free = await Client.connect(dc_srv.address)

    async def burst(client: Client) -> list:
        async def one():
            req = StartWorkflowExecutionRequest(
                namespace=client.namespace, workflow_id=uid("rps"), workflow_type=WorkflowType(name="Nope"),
                task_queue=TaskQueue(name="rps-tq"), request_id=uid("req"))
            try:
                # No client-side retries: every refusal is seen.
                await client.workflow_service.start_workflow_execution(req, retry=False)
                return None
            except RPCError as e:
                return e.status
        return await asyncio.gather(*[one() for _ in range(100)])
    results = await burst(limited)
    assert RPCStatusCode.RESOURCE_EXHAUSTED in results
    # Burst = 5 tokens (RPS 5 x ratio 1) plus what refills during the burst.
    assert results.count(None) < 30, results.count(None)
    assert all(r is None for r in await burst(free))


async def test_hot_reload_and_broken_file(dc_srv, dc_path):
    client = await Client.connect(dc_srv.address, namespace=NS)
    assert (await started_attrs(client)).workflow_task_timeout.ToSeconds() == 7
    time.sleep(1.1)  # a new mtime
    dc_path.write_text(CONFIG.replace('value: "7s"', 'value: "9s"'))

    async def reloaded():
        return (await started_attrs(client)).workflow_task_timeout.ToSeconds() == 9
    await wait_until(reloaded, timeout=25, interval=1.0, what="the new value")
    time.sleep(1.1)
    dc_path.write_text("workflow.workflowTaskTimeout: [this is not valid\n")
    await asyncio.sleep(12)
    assert (await started_attrs(client)).workflow_task_timeout.ToSeconds() == 9, "a broken file keeps the old config"
    assert dc_srv.proc.poll() is None, "the server must survive a broken file"


async def test_matching_long_poll_interval_per_task_queue(dc_srv):
    client = await Client.connect(dc_srv.address, namespace=NS)
    t0 = time.monotonic()
    resp = await client.workflow_service.poll_activity_task_queue(
        PollActivityTaskQueueRequest(namespace=NS, task_queue=TaskQueue(name="short-poll-tq"), identity="t"),
        timeout=timedelta(seconds=20))
    elapsed = time.monotonic() - t0
    assert not resp.task_token, "no task: an empty response after the long poll"
    assert 1.5 <= elapsed < 6, elapsed


async def query_lands_on(address: str, namespace: str) -> str:
    """Plays a worker by hand: completes the first workflow task asking for a sticky queue,
    then polls both queues while a query runs; returns which queue got the query task."""
    from temporalio.api.common.v1 import WorkflowType as WT
    from temporalio.api.enums.v1 import QueryResultType, TaskQueueKind
    from temporalio.api.query.v1 import WorkflowQuery
    from temporalio.api.taskqueue.v1 import StickyExecutionAttributes
    from temporalio.api.workflowservice.v1 import (PollWorkflowTaskQueueRequest, QueryWorkflowRequest,
                                                   RespondQueryTaskCompletedRequest,
                                                   RespondWorkflowTaskCompletedRequest)
    from temporalio.api.common.v1 import WorkflowExecution
    from google.protobuf.duration_pb2 import Duration

    client = await Client.connect(address, namespace=namespace)
    svc = client.workflow_service
    normal, sticky = uid("sq-normal"), uid("sq-sticky")
    wid = uid("sq")
    await svc.start_workflow_execution(StartWorkflowExecutionRequest(
        namespace=namespace, workflow_id=wid, workflow_type=WT(name="Manual"), task_queue=TaskQueue(name=normal),
        request_id=uid("r")))
    task = await svc.poll_workflow_task_queue(PollWorkflowTaskQueueRequest(
        namespace=namespace, task_queue=TaskQueue(name=normal), identity="manual"), timeout=timedelta(seconds=10))
    assert task.task_token
    await svc.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest(
        namespace=namespace, task_token=task.task_token, identity="manual",
        sticky_attributes=StickyExecutionAttributes(
            worker_task_queue=TaskQueue(name=sticky, kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY, normal_name=normal),
            schedule_to_start_timeout=Duration(seconds=10))))

    async def poll(queue: str, kind):
        try:
            return queue, await svc.poll_workflow_task_queue(PollWorkflowTaskQueueRequest(
                namespace=namespace, task_queue=TaskQueue(name=queue, kind=kind), identity="manual"),
                timeout=timedelta(seconds=8))
        except RPCError:
            return queue, None
    polls = [asyncio.create_task(poll(normal, TaskQueueKind.TASK_QUEUE_KIND_NORMAL)),
             asyncio.create_task(poll(sticky, TaskQueueKind.TASK_QUEUE_KIND_STICKY))]
    await asyncio.sleep(0.5)
    query = asyncio.create_task(svc.query_workflow(QueryWorkflowRequest(
        namespace=namespace, execution=WorkflowExecution(workflow_id=wid), query=WorkflowQuery(query_type="q")),
        timeout=timedelta(seconds=10)))
    landed = None
    for done in asyncio.as_completed(polls):
        queue, resp = await done
        if resp is not None and resp.HasField("query"):
            landed = queue
            await svc.respond_query_task_completed(RespondQueryTaskCompletedRequest(
                namespace=namespace, task_token=resp.task_token,
                completed_type=QueryResultType.QUERY_RESULT_TYPE_ANSWERED))
            break
    await query
    for p in polls:
        p.cancel()
    await client.get_workflow_handle(wid).terminate("done")
    return "sticky" if landed == sticky else "normal" if landed == normal else "none"


async def test_sticky_query_switch(dc_srv):
    assert await query_lands_on(dc_srv.address, NS) == "normal"
    assert await query_lands_on(dc_srv.address, "default") == "sticky"
