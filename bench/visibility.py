#!/usr/bin/env python3
"""Visibility benchmark: a filtered ListWorkflowExecutions over 100 000 executions in one
namespace on PostgreSQL.

It creates a fresh PostgreSQL database, runs `sundial schema setup` and `sundial start`
(the binary from SUNDIAL_BIN, default target/debug/sundial), inserts --rows visibility rows
into the `default` namespace straight into `executions_visibility` (10 workflow types; 20 %
running, 60 % completed, 15 % failed, 5 % terminated; starts spread over 30 days), ANALYZEs,
then times --iterations calls of each query through the public gRPC API (Python SDK
service client, one call at a time) and prints p50/p99/max per query. The database is
dropped at the end.

Usage (repo root, .venv from tests/python/requirements.txt, PostgreSQL at PGHOST/PGPORT/PGUSER):
  .venv/bin/python bench/visibility.py [--rows 100000] [--iterations 300] [--page-size 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))

from conftest import ServerFactory, psql  # noqa: E402
from temporalio.api.workflowservice.v1 import (CountWorkflowExecutionsRequest,  # noqa: E402
                                               ListWorkflowExecutionsRequest)
from temporalio.client import Client  # noqa: E402

DAY_NS = 86_400 * 10**9


def insert_rows(database: str, namespace_id: str, rows: int, base_ns: int) -> float:
    sql = f"""
    INSERT INTO executions_visibility (namespace_id, run_id, workflow_id, workflow_type_name, status,
        start_time, execution_time, close_time, history_length, history_size_bytes, execution_duration,
        state_transition_count, task_queue, root_workflow_id, root_run_id, _version)
    SELECT '{namespace_id}', md5(i::text), 'wf-' || i, 'Type' || (i % 10),
        CASE WHEN i % 20 < 4 THEN 1 WHEN i % 20 < 16 THEN 2 WHEN i % 20 < 19 THEN 3 ELSE 5 END,
        {base_ns} + (i::bigint * {30 * DAY_NS // rows}),
        {base_ns} + (i::bigint * {30 * DAY_NS // rows}),
        CASE WHEN i % 20 < 4 THEN NULL ELSE {base_ns} + (i::bigint * {30 * DAY_NS // rows}) + (i % 600)::bigint * 1000000000 END,
        11, 2048,
        CASE WHEN i % 20 < 4 THEN NULL ELSE (i % 600)::bigint * 1000000000 END,
        12, 'bench-tq', 'wf-' || i, md5(i::text), 12
    FROM generate_series(1, {rows}) AS i;
    ANALYZE executions_visibility;
    """
    t = time.monotonic()
    r = psql(sql, database=database, timeout=600)
    assert r.returncode == 0, r.stderr
    return time.monotonic() - t


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def measure(address: str, queries: list[tuple[str, str, str]], iterations: int, page_size: int) -> list[dict]:
    client = await Client.connect(address)
    svc = client.workflow_service
    out = []
    for label, kind, query in queries:
        async def call():
            if kind == "list":
                r = await svc.list_workflow_executions(ListWorkflowExecutionsRequest(
                    namespace="default", page_size=page_size, query=query))
                return len(r.executions)
            r = await svc.count_workflow_executions(CountWorkflowExecutionsRequest(namespace="default", query=query))
            return r.count

        n = await call()  # warm-up
        for _ in range(5):
            await call()
        times = []
        for _ in range(iterations):
            t = time.perf_counter()
            await call()
            times.append((time.perf_counter() - t) * 1000)
        out.append({"label": label, "rows": n, "p50": statistics.median(times), "p99": pct(times, 99),
                    "max": max(times)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--page-size", type=int, default=100)
    args = ap.parse_args()

    factory = ServerFactory(Path(tempfile.mkdtemp(prefix="sundial-bench-vis-")))
    try:
        srv = factory.pg_server()
        db = srv.database  # type: ignore[attr-defined]
        ns_id = psql("SELECT id FROM namespaces WHERE name = 'default'", database=db).stdout.strip()
        assert ns_id, "no default namespace"
        base = datetime(2024, 1, 1, tzinfo=timezone.utc)
        base_ns = int(base.timestamp()) * 10**9
        took = insert_rows(db, ns_id, args.rows, base_ns)
        print(f"inserted {args.rows} rows into one namespace in {took:.1f} s (database {db})")
        lo = (base + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        hi = (base + timedelta(days=17)).strftime("%Y-%m-%dT%H:%M:%SZ")
        queries = [
            ("type+status+start range", "list",
             f"WorkflowType = 'Type3' AND ExecutionStatus = 'Completed' AND StartTime BETWEEN '{lo}' AND '{hi}'"),
            ("type+status", "list", "WorkflowType = 'Type7' AND ExecutionStatus = 'Failed'"),
            ("no filter", "list", ""),
            ("workflow id", "list", "WorkflowId = 'wf-54321'"),
            ("count type+status+range", "count",
             f"WorkflowType = 'Type3' AND ExecutionStatus = 'Completed' AND StartTime BETWEEN '{lo}' AND '{hi}'"),
            ("count all", "count", ""),
            ("count group by status", "count", "GROUP BY ExecutionStatus"),
        ]
        results = asyncio.run(measure(srv.address, queries, args.iterations, args.page_size))
        print(f"\n{args.iterations} sequential calls each, page size {args.page_size}, "
              f"binary {srv.cmd[0]}")
        print(f"{'query':28} {'result':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for r in results:
            print(f"{r['label']:28} {r['rows']:>8} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['max']:>8.2f}")
    finally:
        factory.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
