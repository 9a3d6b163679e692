"""Nexus: endpoints (OperatorService and `temporal operator nexus endpoint`), operations a
workflow calls through the Python SDK's Nexus API (synchronous results, workflow-backed
asynchronous operations completed by their callback, handler errors with and without retries,
cancellation and timeouts, with the history events and links Temporal writes), standalone
operations a client starts, handlers that signal workflows or attach to a running one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import nexusrpc
import nexusrpc.handler
import pytest
from temporalio import nexus, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import (
    CreateNexusEndpointRequest,
    DeleteNexusEndpointRequest,
    GetNexusEndpointRequest,
    ListNexusEndpointsRequest,
    UpdateNexusEndpointRequest,
)
from temporalio.client import Client, NexusOperationFailureError, WorkflowFailureError, WorkflowUpdateStage
from temporalio.common import (
    NexusOperationExecutionStatus,
    NexusOperationIDConflictPolicy,
    NexusOperationIDReusePolicy,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    NexusOperationAlreadyStartedError,
    NexusOperationError,
    TerminatedError,
    TimeoutError,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from support import cli_json, eventually, expect_rpc_error
from wf_defs import uid

CALLS: dict[str, int] = {}


@nexusrpc.service
class Greeting:
    hello: nexusrpc.Operation[str, str]
    slow_hello: nexusrpc.Operation[str, str]
    refuse: nexusrpc.Operation[str, str]
    flaky: nexusrpc.Operation[str, str]
    shared: nexusrpc.Operation[str, str]
    signal_it: nexusrpc.Operation[str, str]


@workflow.defn(sandboxed=False)  # this module imports the test helpers, which the sandbox refuses
class HandlerWorkflow:
    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self, name: str) -> str:
        if name.startswith("wait"):
            await workflow.wait_condition(lambda: self.released)
        return f"hello {name} from a workflow"

    @workflow.signal
    def release(self, _: str) -> None:
        self.released = True


@nexusrpc.handler.service_handler(service=Greeting)
class GreetingHandler:
    @nexusrpc.handler.sync_operation
    async def hello(self, ctx: nexusrpc.handler.StartOperationContext, name: str) -> str:
        return f"hello {name}"

    @nexus.workflow_run_operation
    async def slow_hello(self, ctx: nexus.WorkflowRunOperationContext, name: str) -> nexus.WorkflowHandle[str]:
        return await ctx.start_workflow(HandlerWorkflow.run, name, id=f"handler-{uuid.uuid4()}")

    @nexusrpc.handler.sync_operation
    async def refuse(self, ctx: nexusrpc.handler.StartOperationContext, name: str) -> str:
        raise ApplicationError(f"no greeting for {name}", type="Refused", non_retryable=True)

    @nexus.workflow_run_operation
    async def shared(self, ctx: nexus.WorkflowRunOperationContext, workflow_id: str) -> nexus.WorkflowHandle[str]:
        # Every caller with this id attaches to one handler workflow (USE_EXISTING).
        return await ctx.start_workflow(
            HandlerWorkflow.run,
            "wait-shared",
            id=workflow_id,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    @nexusrpc.handler.sync_operation
    async def signal_it(self, ctx: nexusrpc.handler.StartOperationContext, workflow_id: str) -> str:
        handle = nexus.client().get_workflow_handle(workflow_id)
        await handle.signal(HandlerWorkflow.release, "from a handler")
        return "signaled"

    @nexusrpc.handler.sync_operation
    async def flaky(self, ctx: nexusrpc.handler.StartOperationContext, key: str) -> str:
        CALLS[key] = CALLS.get(key, 0) + 1
        if CALLS[key] == 1:
            raise RuntimeError("first attempt fails")
        return f"attempt {CALLS[key]}"


@workflow.defn(sandboxed=False)  # this module imports the test helpers, which the sandbox refuses
class CallerWorkflow:
    @workflow.run
    async def run(self, endpoint: str, operation: str, arg: str, timeout_s: float) -> str:
        client = workflow.create_nexus_client(service=Greeting, endpoint=endpoint)
        op = getattr(Greeting, operation)
        timeout = timedelta(seconds=timeout_s) if timeout_s else None
        return await client.execute_operation(op, arg, schedule_to_close_timeout=timeout)


@workflow.defn(sandboxed=False)  # this module imports the test helpers, which the sandbox refuses
class CancellingCaller:
    @workflow.run
    async def run(self, endpoint: str) -> str:
        client = workflow.create_nexus_client(service=Greeting, endpoint=endpoint)
        handle = await client.start_operation(Greeting.slow_hello, "wait-for-cancel")
        await workflow.sleep(0.5)
        handle.cancel()
        return await handle


async def create_endpoint(client: Client, name: str, task_queue: str):
    resp = await client.operator_service.create_nexus_endpoint(
        CreateNexusEndpointRequest(
            spec=EndpointSpec(
                name=name,
                target=EndpointTarget(
                    worker=EndpointTarget.Worker(namespace=client.namespace, task_queue=task_queue)
                ),
            )
        )
    )
    return resp.endpoint


def worker(client: Client, tq: str) -> Worker:
    return Worker(
        client,
        task_queue=tq,
        workflows=[HandlerWorkflow, CallerWorkflow, CancellingCaller],
        nexus_service_handlers=[GreetingHandler()],
    )


async def call(client: Client, endpoint: str, tq: str, operation: str, arg: str, timeout_s: float = 0):
    return await client.start_workflow(
        CallerWorkflow.run, args=[endpoint, operation, arg, timeout_s], id=uid("caller"), task_queue=tq
    )


def events_of(history, event_type) -> list:
    return [e for e in history.events if e.event_type == event_type]


async def test_endpoints_are_created_read_updated_listed_and_deleted(client: Client, server):
    tq, name = uid("nexus-tq"), uid("ep")
    created = await create_endpoint(client, name, tq)
    assert created.version == 1 and created.spec.name == name
    assert created.url_prefix == f"/nexus/endpoints/{created.id}/services"
    assert not created.HasField("last_modified_time")

    await expect_rpc_error(create_endpoint(client, name, tq), RPCStatusCode.ALREADY_EXISTS)
    await expect_rpc_error(create_endpoint(client, "1-bad-name", tq), RPCStatusCode.INVALID_ARGUMENT)

    got = (await client.operator_service.get_nexus_endpoint(GetNexusEndpointRequest(id=created.id))).endpoint
    assert got.spec.target.worker.task_queue == tq and got.spec.target.worker.namespace == client.namespace

    spec = EndpointSpec(
        name=name,
        target=EndpointTarget(worker=EndpointTarget.Worker(namespace=client.namespace, task_queue=tq + "-2")),
    )
    updated = (
        await client.operator_service.update_nexus_endpoint(
            UpdateNexusEndpointRequest(id=created.id, version=1, spec=spec)
        )
    ).endpoint
    assert updated.version == 2 and updated.HasField("last_modified_time")
    stale = client.operator_service.update_nexus_endpoint(UpdateNexusEndpointRequest(id=created.id, version=1, spec=spec))
    err = await expect_rpc_error(stale, RPCStatusCode.FAILED_PRECONDITION)
    assert "version mismatch" in err.message

    by_name = await client.operator_service.list_nexus_endpoints(ListNexusEndpointsRequest(name=name))
    assert [e.id for e in by_name.endpoints] == [created.id]
    # The real CLI sees the same endpoint.
    listed = await asyncio.to_thread(cli_json, server.address, "operator", "nexus", "endpoint", "get", "--name", name)
    assert listed["spec"]["target"]["worker"]["taskQueue"] == tq + "-2"

    await client.operator_service.delete_nexus_endpoint(DeleteNexusEndpointRequest(id=created.id, version=2))
    await expect_rpc_error(
        client.operator_service.get_nexus_endpoint(GetNexusEndpointRequest(id=created.id)), RPCStatusCode.NOT_FOUND
    )


async def test_sync_and_workflow_backed_operations_return_results(client: Client):
    tq = uid("nexus-tq")
    endpoint = (await create_endpoint(client, uid("ep"), tq)).spec.name
    async with worker(client, tq):
        sync = await call(client, endpoint, tq, "hello", "sync")
        assert await sync.result() == "hello sync"
        history = await sync.fetch_history()
        assert events_of(history, EventType.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
        assert not events_of(history, EventType.EVENT_TYPE_NEXUS_OPERATION_STARTED), "sync: no started event"

        run = await call(client, endpoint, tq, "slow_hello", "async")
        assert await run.result() == "hello async from a workflow"
        history = await run.fetch_history()
        [scheduled] = events_of(history, EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)
        [started] = events_of(history, EventType.EVENT_TYPE_NEXUS_OPERATION_STARTED)
        assert started.nexus_operation_started_event_attributes.operation_token
        # The caller links to the handler workflow's start, the handler back to the caller.
        [link] = started.links
        handler_id = link.workflow_event.workflow_id
        assert link.workflow_event.event_ref.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        handler = client.get_workflow_handle(handler_id)
        handler_started = (await handler.fetch_history()).events[0]
        attrs = handler_started.workflow_execution_started_event_attributes
        [callback] = attrs.completion_callbacks
        assert callback.nexus.url == "temporal://system"
        [back] = callback.links
        assert back.workflow_event.workflow_id == run.id
        assert back.workflow_event.event_ref.event_id == scheduled.event_id
        desc = await handler.describe()
        [info] = desc.raw_description.callbacks
        assert info.callback.nexus.header["nexus-operation-token"] == (
            started.nexus_operation_started_event_attributes.operation_token
        )


async def test_handler_errors_fail_or_retry_the_operation(client: Client):
    tq = uid("nexus-tq")
    endpoint = (await create_endpoint(client, uid("ep"), tq)).spec.name
    async with worker(client, tq):
        refused = await call(client, endpoint, tq, "refuse", "bob")
        with pytest.raises(WorkflowFailureError) as e:
            await refused.result()
        op_error = e.value.cause
        assert isinstance(op_error, NexusOperationError), repr(op_error)
        assert op_error.operation == "refuse" and op_error.scheduled_event_id == 5
        chain, f = [], op_error.__cause__
        while f is not None:
            chain.append(f)
            f = f.__cause__
        assert any(isinstance(c, ApplicationError) and "no greeting for bob" in str(c) for c in chain), chain

        key = uid("flaky")
        flaky = await call(client, endpoint, tq, "flaky", key)
        assert await flaky.result() == "attempt 2"
        assert CALLS[key] == 2


async def test_cancel_reaches_the_handler_workflow_and_timeouts_fire(client: Client):
    tq = uid("nexus-tq")
    endpoint = (await create_endpoint(client, uid("ep"), tq)).spec.name
    async with worker(client, tq):
        caller = await client.start_workflow(CancellingCaller.run, endpoint, id=uid("canceller"), task_queue=tq)
        with pytest.raises(WorkflowFailureError) as e:
            await caller.result()
        assert isinstance(e.value.cause, NexusOperationError)
        assert isinstance(e.value.cause.__cause__, CancelledError)
        history = await caller.fetch_history()
        types = [ev.event_type for ev in history.events]
        for t in (
            EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED,
            EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED,
            EventType.EVENT_TYPE_NEXUS_OPERATION_CANCELED,
        ):
            assert t in types, t
        [started] = events_of(history, EventType.EVENT_TYPE_NEXUS_OPERATION_STARTED)
        handler = client.get_workflow_handle(started.links[0].workflow_event.workflow_id)

        async def handler_canceled():
            assert (await handler.describe()).status.name == "CANCELED"

        await eventually(handler_canceled)

        # An operation whose handler workflow never finishes times out (schedule-to-close).
        timing_out = await call(client, endpoint, tq, "slow_hello", "wait-forever", timeout_s=2)
        with pytest.raises(WorkflowFailureError) as e:
            await timing_out.result()
        assert isinstance(e.value.cause, NexusOperationError)
        assert isinstance(e.value.cause.__cause__, TimeoutError)
        assert events_of(await timing_out.fetch_history(), EventType.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)


async def test_an_unknown_endpoint_fails_the_workflow_task(client: Client):
    tq = uid("nexus-tq")
    async with worker(client, tq):
        caller = await call(client, "no-such-endpoint", tq, "hello", "x")

        async def task_failed():
            history = await caller.fetch_history()
            failed = events_of(history, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
            assert failed, "the workflow task has not failed yet"
            message = failed[0].workflow_task_failed_event_attributes.failure.message
            assert 'endpoint "no-such-endpoint" not found' in message, message

        await eventually(task_failed)
        await caller.terminate()


async def test_standalone_operations_start_list_describe_and_end(client: Client):
    tq = uid("nexus-tq")
    endpoint = (await create_endpoint(client, uid("ep"), tq)).spec.name
    nexus_client = client.create_nexus_client(service=Greeting, endpoint=endpoint)
    async with worker(client, tq):
        sync_id = uid("op")
        handle = await nexus_client.start_operation(
            Greeting.hello, "standalone", id=sync_id, schedule_to_close_timeout=timedelta(seconds=20)
        )
        assert await handle.result() == "hello standalone"
        desc = await handle.describe()
        assert desc.status == NexusOperationExecutionStatus.COMPLETED and desc.endpoint == endpoint

        with pytest.raises(NexusOperationAlreadyStartedError):
            await nexus_client.start_operation(
                Greeting.hello, "again", id=sync_id, id_reuse_policy=NexusOperationIDReusePolicy.REJECT_DUPLICATE
            )

        async_id = uid("op")
        running = await nexus_client.start_operation(
            Greeting.slow_hello, "wait-standalone", id=async_id, schedule_to_close_timeout=timedelta(seconds=30)
        )
        same = await nexus_client.start_operation(
            Greeting.slow_hello,
            "wait-standalone",
            id=async_id,
            id_conflict_policy=NexusOperationIDConflictPolicy.USE_EXISTING,
        )
        assert same.run_id == running.run_id

        async def listed():
            ids = [op.operation_id async for op in client.list_nexus_operations(f'Endpoint = "{endpoint}"')]
            assert sorted(ids) == sorted([sync_id, async_id]), ids
            assert (await client.count_nexus_operations(f'OperationId = "{async_id}"')).count == 1

        await eventually(listed)
        # Workflows never list operations.
        assert not [w async for w in client.list_workflows(f'WorkflowId = "{async_id}"')]

        await running.terminate(reason="enough")
        with pytest.raises(NexusOperationFailureError) as e:
            await running.result()
        assert isinstance(e.value.__cause__, TerminatedError)

        canceled = await nexus_client.start_operation(
            Greeting.slow_hello, "wait-cancel", id=uid("op"), schedule_to_close_timeout=timedelta(seconds=30)
        )
        await canceled.cancel()
        with pytest.raises(NexusOperationFailureError) as e:
            await canceled.result()
        assert isinstance(e.value.__cause__, CancelledError)


@workflow.defn(sandboxed=False)
class SharedCaller:
    @workflow.run
    async def run(self, endpoint: str, handler_id: str, release: bool) -> str:
        client = workflow.create_nexus_client(service=Greeting, endpoint=endpoint)
        # Started (attached) before the handler workflow is released.
        handle = await client.start_operation(Greeting.shared, handler_id)
        if release:
            await client.execute_operation(Greeting.signal_it, handler_id)
        return await handle


async def test_handlers_attach_to_a_running_workflow_and_signal_it_with_links(client: Client):
    tq, handler_id = uid("nexus-tq"), uid("shared-handler")
    endpoint = (await create_endpoint(client, uid("ep"), tq)).spec.name
    async with Worker(
        client,
        task_queue=tq,
        workflows=[HandlerWorkflow, SharedCaller],
        nexus_service_handlers=[GreetingHandler()],
    ):
        first = await client.start_workflow(SharedCaller.run, args=[endpoint, handler_id, False], id=uid("c"), task_queue=tq)
        handler = client.get_workflow_handle(handler_id)

        async def handler_started():
            try:
                status = (await handler.describe()).status.name
            except RPCError as e:
                raise AssertionError(f"not started yet: {e}") from e
            assert status == "RUNNING"

        await eventually(handler_started)
        second = await client.start_workflow(SharedCaller.run, args=[endpoint, handler_id, True], id=uid("c"), task_queue=tq)
        # Both callers get the one handler workflow's result.
        expected = "hello wait-shared from a workflow"
        assert await first.result() == expected and await second.result() == expected
        history = await handler.fetch_history()
        [attached] = events_of(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED)
        attrs = attached.workflow_execution_options_updated_event_attributes
        assert attrs.attached_request_id and len(attrs.attached_completion_callbacks) == 1
        assert attached.worker_may_ignore
        assert len((await handler.describe()).raw_description.callbacks) == 2
        [signaled] = events_of(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
        [link] = signaled.links
        assert link.workflow_event.workflow_id == second.id
        assert link.workflow_event.event_ref.event_type == EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED


@workflow.defn(sandboxed=False)
class SignalWithStartCaller:
    @workflow.run
    async def run(self, target_id: str, task_queue: str) -> str:
        # Sent through the `__temporal_system` Nexus endpoint, run by the server itself.
        handle = await workflow.signal_with_start_workflow(
            "HandlerWorkflow",
            "wait-for-signal",
            id=target_id,
            task_queue=task_queue,
            signal="release",
            signal_args=["from the system endpoint"],
        )
        return handle.id


async def test_the_system_endpoint_runs_signal_with_start(client: Client):
    tq, target_id = uid("nexus-tq"), uid("target")
    async with Worker(client, task_queue=tq, workflows=[HandlerWorkflow, SignalWithStartCaller]):
        caller = await client.start_workflow(
            SignalWithStartCaller.run, args=[target_id, tq], id=uid("swc-caller"), task_queue=tq
        )
        assert await caller.result() == target_id
        history = await caller.fetch_history()
        [scheduled] = events_of(history, EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)
        assert scheduled.nexus_operation_scheduled_event_attributes.endpoint == "__temporal_system"
        assert events_of(history, EventType.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
        # The target started with the signal, which released it.
        target = client.get_workflow_handle(target_id)
        assert await target.result() == "hello wait-for-signal from a workflow"
        assert events_of(await target.fetch_history(), EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)


@nexusrpc.service
class Counter:
    bump: nexusrpc.Operation[str, int]


@workflow.defn(sandboxed=False)
class CountingWorkflow:
    def __init__(self) -> None:
        self.count = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.count

    @workflow.update
    async def bump(self, by: int) -> int:
        # Long enough that callers of the same update id attach while it runs.
        await workflow.sleep(0.5)
        self.count += by
        return self.count

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@nexusrpc.handler.service_handler(service=Counter)
class CounterHandler:
    @nexus.temporal_operation
    async def bump(
        self, _ctx: nexus.TemporalStartOperationContext, client: nexus.TemporalNexusClient, target: str
    ) -> nexus.TemporalOperationResult[int]:
        # Backed by an update of the target workflow: its outcome completes the operation.
        return await client.start_workflow_update(
            target, CountingWorkflow.bump, 5, update_id="bump-once", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )


@workflow.defn(sandboxed=False)
class BumpCaller:
    @workflow.run
    async def run(self, endpoint: str, target: str) -> int:
        client = workflow.create_nexus_client(service=Counter, endpoint=endpoint)
        return await client.execute_operation(Counter.bump, target)


async def test_update_backed_operations_complete_with_the_update_outcome(client: Client):
    tq, target_id = uid("nexus-tq"), uid("counter")
    endpoint = (await create_endpoint(client, uid("ep"), tq)).spec.name
    async with Worker(
        client,
        task_queue=tq,
        workflows=[CountingWorkflow, BumpCaller],
        nexus_service_handlers=[CounterHandler()],
    ):
        target = await client.start_workflow(CountingWorkflow.run, id=target_id, task_queue=tq)
        # Three callers of the same update id: one update runs, all three get its result.
        callers = [
            await client.start_workflow(BumpCaller.run, args=[endpoint, target_id], id=uid("bump"), task_queue=tq)
            for _ in range(3)
        ]
        assert [await c.result() for c in callers] == [5, 5, 5]
        first = callers[0]
        history = await first.fetch_history()
        [scheduled] = events_of(history, EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)
        [started] = events_of(history, EventType.EVENT_TYPE_NEXUS_OPERATION_STARTED)
        forward = [l.workflow_event for l in started.links]
        assert any(
            f.workflow_id == target_id
            and f.request_id_ref.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
            for f in forward
        ), forward
        target_history = await target.fetch_history()
        [accepted] = events_of(target_history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
        back = [l.workflow_event for l in accepted.links]
        # The update was accepted for one of the three callers: it links back to that caller.
        assert len(back) == 1 and back[0].event_ref.event_type == EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED, back
        assert back[0].event_ref.event_id == scheduled.event_id
        await target.signal(CountingWorkflow.finish)
        assert await target.result() == 5
