"""Markers: patches (workflow.patched), local activities and deterministic randomness.

The server does not interpret markers, but it must store them exactly (name, details,
order, workflow_task_completed_event_id) and hand them back on every replay: an
already-running execution must see its old history (no patch marker -> patched()
is False), a new one records the marker (patched() is True), and a history replayed
with the Replayer must match the commands the code produces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowHistory
from temporalio.common import RetryPolicy
from temporalio.converter import DataConverter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from wf_defs import event_name, events_of, history_events, new_worker, uid, wait_for_event

PATCH_ID = "my-patch"
PATCH_MARKER = "core_patch"
LA_MARKER = "core_local_activity"
CHANGE_VERSION_SA = "TemporalChangeVersion"


# --------------------------------------------------------------------------------------
# patches: the same workflow type "Versioned", old and new code


@workflow.defn(name="Versioned")
class VersionedOld:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        path = "old"
        await workflow.wait_condition(lambda: self.go)
        return path

    @workflow.signal(name="go")
    def signal_go(self) -> None:
        self.go = True


@workflow.defn(name="Versioned")
class VersionedNew:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        # The patch sits before the wait: an execution that already passed this point
        # with the old code has no marker here, so patched() is False when it replays.
        if workflow.patched(PATCH_ID):
            # The new path also issues a command the old code never issues.
            await workflow.sleep(timedelta(milliseconds=10))
            path = "new"
        else:
            path = "old"
        await workflow.wait_condition(lambda: self.go)
        return path

    @workflow.signal(name="go")
    def signal_go(self) -> None:
        self.go = True


def marker_names(events) -> list[str]:
    return [e.marker_recorded_event_attributes.marker_name for e in events_of(events, "MarkerRecorded")]


def history_of(wid: str, events) -> WorkflowHistory:
    return WorkflowHistory(wid, list(events))


def replayer(*workflows) -> Replayer:
    return Replayer(workflows=list(workflows), workflow_runner=UnsandboxedWorkflowRunner())


async def test_patch_old_execution_keeps_old_path_new_execution_takes_new_path(client):
    tq = uid("ver-tq")
    old_id, new_id = uid("ver-old"), uid("ver-new")

    # 1. The old code starts an execution and completes its first workflow task
    #    (it now waits for the "go" signal). No cache: the next task goes to the
    #    normal task queue and is replayed from the full history by whoever polls it.
    async with new_worker(client, tq, workflows=[VersionedOld], max_cached_workflows=0):
        old = await client.start_workflow(VersionedOld.run, id=old_id, task_queue=tq)
        await wait_for_event(old, "WorkflowTaskCompleted")
    before = await history_events(old)
    assert [event_name(e) for e in before] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted"]

    # 2. The new code takes over: the running execution replays without the marker
    #    (old path); a new execution records the marker (new path).
    async with new_worker(client, tq, workflows=[VersionedNew], max_cached_workflows=0):
        await old.signal(VersionedNew.signal_go)
        assert await old.result() == "old"

        new = await client.start_workflow(VersionedNew.run, id=new_id, task_queue=tq)
        await wait_for_event(new, "TimerFired")
        await new.signal("go")
        assert await new.result() == "new"

    old_events = await history_events(old)
    assert marker_names(old_events) == []
    assert events_of(old_events, "TimerStarted") == []
    assert [event_name(e) for e in old_events] == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted", "WorkflowExecutionSignaled", "WorkflowTaskScheduled",
        "WorkflowTaskStarted", "WorkflowTaskCompleted", "WorkflowExecutionCompleted"]

    new_events = await history_events(new)
    names = [event_name(e) for e in new_events]
    assert marker_names(new_events) == [PATCH_MARKER]
    marker = events_of(new_events, "MarkerRecorded")[0]
    attrs = marker.marker_recorded_event_attributes
    # The marker was written by the first workflow task's completion, before the timer.
    first_completed = events_of(new_events, "WorkflowTaskCompleted")[0]
    assert attrs.workflow_task_completed_event_id == first_completed.event_id
    assert marker.event_id == first_completed.event_id + 1
    assert names.index("MarkerRecorded") < names.index("TimerStarted")
    # sdk-core's patch marker details: {"patch-data": {"id": ..., "deprecated": false}}
    assert "patch-data" in attrs.details
    patch_data = DataConverter.default.payload_converter.from_payloads(
        attrs.details["patch-data"].payloads)[0]
    assert patch_data["id"] == PATCH_ID
    assert patch_data["deprecated"] is False



async def test_patch_upserts_change_version_with_sdk_metadata(client):
    """sdk-core records its internal flags in WorkflowTaskCompleted.sdk_metadata and,
    with flag UpsertSearchAttributeOnPatch, upserts TemporalChangeVersion next to the
    patch marker -- but only when the server advertises the ``sdk_metadata``
    capability in GetSystemInfo (the reference does). Without it the SDK silently
    falls back to legacy behaviour for every flag-gated fix."""
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.capabilities.sdk_metadata, f"sdk_metadata capability missing: {info.capabilities}"

    tq = uid("ver-sa-tq")
    async with new_worker(client, tq, workflows=[VersionedNew]):
        new = await client.start_workflow(VersionedNew.run, id=uid("ver-sa"), task_queue=tq)
        await wait_for_event(new, "TimerFired")
        await new.signal("go")
        assert await new.result() == "new"
    events = await history_events(new)
    first_completed = events_of(events, "WorkflowTaskCompleted")[0]
    meta = first_completed.workflow_task_completed_event_attributes.sdk_metadata
    # Stored exactly as the worker sent it.
    assert meta.sdk_name == "temporal-python"
    assert meta.sdk_version
    assert len(meta.core_used_flags) > 0

    # The SDK upserts TemporalChangeVersion=["my-patch"] in the same task as the marker.
    names = [event_name(e) for e in events]
    assert names[names.index("MarkerRecorded") + 1] == "UpsertWorkflowSearchAttributes"
    upserts = events_of(events, "UpsertWorkflowSearchAttributes")
    assert len(upserts) == 1
    attrs = upserts[0].upsert_workflow_search_attributes_event_attributes
    fields = attrs.search_attributes.indexed_fields
    assert list(fields) == [CHANGE_VERSION_SA]
    assert DataConverter.default.payload_converter.from_payloads([fields[CHANGE_VERSION_SA]])[0] == [PATCH_ID]
    assert attrs.workflow_task_completed_event_id == first_completed.event_id
    desc = await new.describe()
    assert desc.search_attributes.get(CHANGE_VERSION_SA) == [PATCH_ID]


async def test_patch_histories_replay(client):
    tq = uid("ver-replay-tq")
    old_id, new_id = uid("ver-old"), uid("ver-new")
    async with new_worker(client, tq, workflows=[VersionedOld], max_cached_workflows=0):
        old = await client.start_workflow(VersionedOld.run, id=old_id, task_queue=tq)
        await wait_for_event(old, "WorkflowTaskCompleted")
    async with new_worker(client, tq, workflows=[VersionedNew], max_cached_workflows=0):
        await old.signal("go")
        assert await old.result() == "old"
        new = await client.start_workflow(VersionedNew.run, id=new_id, task_queue=tq)
        await wait_for_event(new, "TimerFired")
        await new.signal("go")
        assert await new.result() == "new"

    old_history = await old.fetch_history()
    new_history = await new.fetch_history()
    assert old_history.workflow_id == old_id and new_history.workflow_id == new_id

    # Matching code replays cleanly: the old history with both codes (the new code
    # takes the unpatched branch), the new history with the new code.
    await replayer(VersionedOld).replay_workflow(old_history)
    await replayer(VersionedNew).replay_workflow(old_history)
    await replayer(VersionedNew).replay_workflow(new_history)

    # The new history with the old code: the marker and the timer have no matching
    # commands -> non-determinism.
    with pytest.raises(workflow.NondeterminismError):
        await replayer(VersionedOld).replay_workflow(new_history)
    result = await replayer(VersionedOld).replay_workflow(new_history, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, workflow.NondeterminismError)

    # The history also round-trips through its JSON form (what `temporal workflow show
    # -o json` produces) and still replays.
    again = WorkflowHistory.from_json(new_id, new_history.to_json())
    await replayer(VersionedNew).replay_workflow(again)


# --------------------------------------------------------------------------------------
# local activities and deterministic randomness


class LocalCounter:
    """Each call returns a fresh value, so a replay that re-ran the activity instead of
    using the marker's stored result would produce a different workflow result."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    @activity.defn(name="LocalStep")
    async def local_step(self, name: str) -> str:
        self.calls.append((name, activity.info().attempt))
        return f"{name}#{len(self.calls)}"

    @activity.defn(name="LocalFlaky")
    async def local_flaky(self, name: str) -> str:
        attempt = activity.info().attempt
        self.calls.append((name, attempt))
        if attempt < 2:
            raise RuntimeError(f"{name} attempt {attempt} fails")
        return f"{name} ok on {attempt}"


@dataclass
class LocalResult:
    steps: list[str]
    random: float
    uuid: str
    randint: int


@workflow.defn(name="LocalActivitiesWorkflow")
class LocalActivitiesWorkflow:
    def __init__(self) -> None:
        self.result: LocalResult | None = None

    @workflow.run
    async def run(self) -> LocalResult:
        opts = dict(start_to_close_timeout=timedelta(seconds=5),
                    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)))
        a = await workflow.execute_local_activity("LocalStep", "a", result_type=str, **opts)
        r = workflow.random().random()
        u = str(workflow.uuid4())
        b = await workflow.execute_local_activity("LocalStep", "b", result_type=str, **opts)
        f = await workflow.execute_local_activity("LocalFlaky", "f", result_type=str, **opts)
        # A real timer between local activities forces a second workflow task.
        await workflow.sleep(timedelta(milliseconds=10))
        i = workflow.random().randint(0, 1_000_000)
        c = await workflow.execute_local_activity("LocalStep", "c", result_type=str, **opts)
        self.result = LocalResult([a, b, f, c], r, u, i)
        return self.result

    @workflow.query(name="result")
    def get_result(self) -> LocalResult | None:
        return self.result


async def test_local_activity_markers_and_replay(client):
    tq = uid("la-tq")
    acts = LocalCounter()
    wid = uid("la")
    async with new_worker(client, tq, workflows=[LocalActivitiesWorkflow],
                          activities=[acts.local_step, acts.local_flaky], max_cached_workflows=0):
        handle = await client.start_workflow(LocalActivitiesWorkflow.run, id=wid, task_queue=tq)
        result = await handle.result()
        assert result.steps == ["a#1", "b#2", "f ok on 2", "c#5"]
        assert acts.calls == [("a", 1), ("b", 1), ("f", 1), ("f", 2), ("c", 1)]
        assert 0.0 <= result.random < 1.0
        # A query on the closed execution replays the stored history on a fresh
        # (uncached) workflow instance: local activities are NOT re-run, their results
        # come from the markers, and the seeded randomness reproduces the same values.
        again = await handle.query(LocalActivitiesWorkflow.get_result)
        assert again == result
        assert len(acts.calls) == 5

    events = await history_events(handle)
    names = [event_name(e) for e in events]
    assert marker_names(events) == [LA_MARKER] * 4
    # No activity task events: local activities only leave markers.
    assert not any(n.startswith("ActivityTask") for n in names)
    conv = DataConverter.default.payload_converter
    results = []
    for m in events_of(events, "MarkerRecorded"):
        attrs = m.marker_recorded_event_attributes
        assert attrs.workflow_task_completed_event_id > 0
        assert event_name(events[attrs.workflow_task_completed_event_id - 1]) == "WorkflowTaskCompleted"
        assert "data" in attrs.details
        data = conv.from_payloads(attrs.details["data"].payloads)[0]
        assert data["activity_type"] in ("LocalStep", "LocalFlaky")
        if "result" in attrs.details:
            results.append(conv.from_payloads(attrs.details["result"].payloads)[0])
    assert results == ["a#1", "b#2", "f ok on 2", "c#5"]
    # The first three markers precede the timer, the last one follows TimerFired.
    timer_fired = names.index("TimerFired")
    marker_idx = [i for i, n in enumerate(names) if n == "MarkerRecorded"]
    assert marker_idx[:3] == sorted(marker_idx[:3]) and marker_idx[2] < names.index("TimerStarted")
    assert marker_idx[3] > timer_fired
    assert names[-1] == "WorkflowExecutionCompleted"

    # Offline replay: no activity runs (the Replayer has no activities at all) and
    # the stored markers satisfy every execute_local_activity call.
    history = await handle.fetch_history()
    await replayer(LocalActivitiesWorkflow).replay_workflow(history)
    assert len(acts.calls) == 5
