"""Prometheus metrics as Temporal's dashboards read them (tally naming): the `/metrics`
endpoint of `start-dev --metrics-port` and of a `start` process with PROMETHEUS_ENDPOINT.

Checked: metric names and their exact label keys, counters without `_total`, the 19 timer
bounds in seconds on `service_latency_bucket`, frontend/matching/history RPC operations,
expected errors (NotFound) kept out of `service_errors`, and workflow_success."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from conftest import free_port
from wf_defs import running_worker, uid

pytestmark = [pytest.mark.sundial_only, pytest.mark.process]

TEMPORAL_BOUNDS = ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5",
                   "10", "20", "50", "100", "200", "500", "1000", "+Inf"]

RPC = {"service_name", "operation", "namespace"}
COMPLETION = {"service_name", "operation", "namespace", "namespace_state", "workflowType", "taskqueue"}
EXPECTED_LABELS = {
    "service_requests": RPC,
    "service_latency_bucket": RPC | {"le"},
    "service_latency_count": RPC,
    "service_latency_sum": RPC,
    "service_error_with_type": RPC | {"error_type"},
    "restarts": {"service_name"},
    "numshards_gauge": {"service_name", "operation"},
    "workflow_success": COMPLETION,
}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@activity.defn(name="MetricsGreet")
async def greet(name: str) -> str:
    return f"hello {name}"


@workflow.defn(name="MetricsWorkflow")
class MetricsWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))


def scrape(url: str) -> tuple[str, list[tuple[str, dict, float]]]:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"unparsable exposition line: {line!r}"
        samples.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return text, samples


def total(samples, name: str, **labels: str) -> float:
    return sum(v for n, ls, v in samples if n == name and all(ls.get(k) == w for k, w in labels.items()))


async def test_start_dev_metrics_port(start_dev):
    port = free_port()
    srv = start_dev(["--metrics-port", str(port)])
    url = f"http://127.0.0.1:{port}/metrics"
    assert url in srv.stdout, srv.stdout

    client = await Client.connect(srv.address)
    tq = uid("metrics-tq")
    async with running_worker(client, tq, workflows=[MetricsWorkflow], activities=[greet]):
        result = await client.execute_workflow(MetricsWorkflow.run, "sundial", id=uid("metrics"), task_queue=tq)
    assert result == "hello sundial"
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(uid("missing")).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND

    # The close is recorded after the commit the result waited on; allow a moment anyway.
    deadline = time.monotonic() + 5
    while True:
        text, samples = scrape(url)
        if total(samples, "workflow_success", workflowType="MetricsWorkflow") >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    names = {n for n, _, _ in samples}
    # Series exist once used, as in Temporal: this workload makes no unexpected error, so
    # service_errors may be absent; where present its label set is fixed too.
    optional = {"service_errors": RPC, "service_errors_resource_exhausted": RPC}
    for name, keys in optional.items():
        for n, ls, _ in samples:
            if n == name:
                assert set(ls) == keys, f"{name} has labels {sorted(ls)}, expected {sorted(keys)}"
    for name, keys in EXPECTED_LABELS.items():
        assert name in names, f"{name} missing from:\n{text}"
        for n, ls, _ in samples:
            if n == name:
                assert set(ls) == keys, f"{name} has labels {sorted(ls)}, expected {sorted(keys)}"
    assert not any(n.endswith("_total") for n in names), "tally counters have no _total suffix"
    assert "# TYPE service_requests counter" in text
    assert "# TYPE service_latency histogram" in text
    assert "# TYPE numshards_gauge gauge" in text
    assert not any(n.startswith(("process_", "go_")) for n in names), "no collector metrics, as Temporal"

    bounds = [ls["le"] for n, ls, _ in samples if n == "service_latency_bucket"
              and ls["operation"] == "StartWorkflowExecution" and ls["service_name"] == "frontend"]
    assert bounds == TEMPORAL_BOUNDS

    assert total(samples, "service_requests", operation="StartWorkflowExecution", service_name="frontend",
                 namespace="default") >= 1
    assert total(samples, "service_latency_count", operation="StartWorkflowExecution",
                 service_name="frontend", namespace="default") >= 1
    for service, operation in [("frontend", "PollWorkflowTaskQueue"), ("frontend", "RespondActivityTaskCompleted"),
                               ("matching", "AddWorkflowTask"), ("matching", "AddActivityTask"),
                               ("matching", "PollWorkflowTaskQueue"),
                               ("history", "StartWorkflowExecution"), ("history", "RecordWorkflowTaskStarted"),
                               ("history", "RecordActivityTaskStarted"),
                               ("history", "RespondWorkflowTaskCompleted")]:
        assert total(samples, "service_requests", service_name=service, operation=operation) >= 1, \
            f"no {service} {operation} in service_requests"

    # The NotFound is an error of its type, but not an unexpected one.
    assert total(samples, "service_error_with_type", service_name="frontend",
                 operation="DescribeWorkflowExecution", error_type="NotFound") >= 1
    assert total(samples, "service_errors", operation="DescribeWorkflowExecution") == 0

    assert total(samples, "workflow_success", service_name="history", operation="CompletionStats",
                 namespace="default", namespace_state="active", workflowType="MetricsWorkflow",
                 taskqueue=tq.replace("-", "_")) == 1
    assert total(samples, "numshards_gauge", service_name="history") == 1
    for role in ("frontend", "history", "matching", "worker"):
        assert total(samples, "restarts", service_name=role) == 1

    # Only the handler path answers.
    with pytest.raises(urllib.error.HTTPError) as other:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
    assert other.value.code == 404


def test_metrics_are_off_by_default(start_dev):
    srv = start_dev()
    assert "metrics" not in srv.stdout, srv.stdout


def test_prometheus_endpoint_env_on_a_history_process(tmp_path):
    from cluster import Cluster

    port = free_port()
    cluster = Cluster(tmp_path, shards=2, env={"history": {"PROMETHEUS_ENDPOINT": f"127.0.0.1:{port}"}})
    try:
        cluster.start()
        _, samples = scrape(f"http://127.0.0.1:{port}/metrics")
        assert total(samples, "restarts", service_name="history") == 1
        assert total(samples, "restarts", service_name="frontend") == 0, "only this process's roles"
        assert total(samples, "numshards_gauge", service_name="history", operation="ShardController") == 2
    finally:
        cluster.stop()
