"""The worker role's scavengers on a start-dev server whose scavenger interval and task-queue
idle retention are seconds (dynamic config): released sticky and normal task-queue rows go,
a queue still polled stays; the backlog task of a deleted workflow goes, a live workflow's
stays; history rows of a run that does not exist go, a live run's history stays; an expired
membership row goes."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client

from wf_defs import EchoWorkflow, WaitForeverWorkflow, event_types, running_worker, uid, wait_until

pytestmark = [pytest.mark.sundial_only, pytest.mark.process]


def query(db, sql: str, *args):
    con = sqlite3.connect(db, timeout=10)
    try:
        rows = con.execute(sql, args).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def queue_names(db) -> set[str]:
    # task_queue_id: 4-byte length + namespace id, 4-byte length + queue name, ...
    names = set()
    for (tq_id,) in query(db, "SELECT task_queue_id FROM task_queues"):
        ns_len = int.from_bytes(tq_id[0:4], "big")
        name_len = int.from_bytes(tq_id[4 + ns_len:8 + ns_len], "big")
        names.add(tq_id[8 + ns_len:8 + ns_len + name_len].decode())
    return names


async def test_scavengers_remove_leftovers_and_nothing_else(start_dev, tmp_path):
    db = tmp_path / "scavenge.db"
    args = ["--db-filename", str(db),
            "--dynamic-config-value", 'worker.scavengerInterval="1s"',
            "--dynamic-config-value", 'worker.taskQueueIdleRetention="3s"']

    # A first server: a worker uses a queue (and its sticky queue) and leaves; then the server
    # stops, so every lease it held belongs to a process that is gone.
    srv = start_dev(args)
    client = await Client.connect(srv.address)
    gone_tq = uid("scav-gone")
    async with running_worker(client, gone_tq, workflows=[EchoWorkflow]):
        assert await client.execute_workflow(EchoWorkflow.run, "x", id=uid("scav"), task_queue=gone_tq) == "echo x"
    first_queues = queue_names(db)
    assert gone_tq in first_queues and len(first_queues) >= 2, "the queue and a sticky queue"
    assert srv.stop() == 0, srv.diagnostics()

    srv = start_dev(args, env={"RUST_LOG": "info"})
    client = await Client.connect(srv.address)
    kept_tq = uid("scav-kept")
    async with running_worker(client, kept_tq, workflows=[EchoWorkflow]):
        assert await client.execute_workflow(EchoWorkflow.run, "y", id=uid("scav"), task_queue=kept_tq) == "echo y"

        # Backlog: two workflows on a queue nobody polls; one is then deleted.
        backlog_tq = uid("scav-backlog")
        doomed = await client.start_workflow(WaitForeverWorkflow.run, id=uid("doomed"), task_queue=backlog_tq)
        alive = await client.start_workflow(WaitForeverWorkflow.run, id=uid("alive"), task_queue=backlog_tq)
        await wait_until(lambda: len(query(db, "SELECT task_id FROM tasks")) >= 2, timeout=20,
                         what="both workflow tasks in the backlog")
        await client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(
            namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=doomed.id)))

        # Leftovers no code path leaves today: planted to see them go.
        query(db, "INSERT INTO history_node (shard_id, tree_id, branch_id, node_id, txn_id, prev_txn_id, data) "
                  "VALUES (0, ?, ?, 1, -1, 0, x'00')", *(2 * [f"orphan-{uuid.uuid4()}"]))
        query(db, "INSERT INTO cluster_membership (host_id, rpc_address, rpc_port, role, session_start, "
                  "last_heartbeat, record_expiry) VALUES ('expired-host', '10.9.9.9', 7235, 3, 1, 1, 2)")

        async def swept():
            tasks = query(db, "SELECT count(*) FROM tasks")[0][0]
            orphans = query(db, "SELECT count(*) FROM history_node WHERE tree_id LIKE 'orphan-%'")[0][0]
            members = query(db, "SELECT count(*) FROM cluster_membership WHERE host_id = 'expired-host'")[0][0]
            return not (first_queues & queue_names(db)) and tasks == 1 and orphans == 0 and members == 0

        await wait_until(swept, timeout=30, interval=0.5, what="the scavengers to remove every leftover")
        assert kept_tq in queue_names(db), "a queue held by a live matching host stays"
        assert backlog_tq in queue_names(db), "a queue with backlog stays"
        # The live workflow's task and history are intact.
        assert "WorkflowTaskScheduled" in await event_types(alive)
    async with running_worker(client, backlog_tq, workflows=[WaitForeverWorkflow]):
        await wait_until(lambda: _started(alive), timeout=20, what="the kept backlog task dispatched")
    assert "scavengers removed leftovers" in srv.stdout + srv.stderr()
    await alive.terminate()


async def _started(handle) -> bool:
    return "WorkflowTaskStarted" in await event_types(handle)
