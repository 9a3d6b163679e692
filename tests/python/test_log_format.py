"""JSON logs: `start-dev --log-format json` (as `temporal server start-dev`) and `log.format: json`
in the static config write one JSON object per line with Temporal's keys (`level`, `ts`, `msg`,
the event's fields at the top level); the default stays text."""

from __future__ import annotations

import json
import subprocess

import pytest
from temporalio.client import Client

from conftest import sundial_bin_path, write_pg_config
from wf_defs import EchoWorkflow, running_worker, uid

pytestmark = pytest.mark.sundial_only


def json_lines(text: str) -> list[dict]:
    lines = [l for l in text.splitlines() if l.strip()]
    assert lines, "nothing was logged"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise AssertionError(f"not a JSON line: {line!r}") from e
    return parsed


async def test_start_dev_writes_json_lines(start_dev):
    srv = start_dev(["--log-level", "info", "--log-format", "json"])
    client = await Client.connect(srv.address)
    tq = uid("json-log-tq")
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        assert await client.execute_workflow(EchoWorkflow.run, "x", id=uid("wf"), task_queue=tq) == "echo x"
    srv.stop()
    lines = json_lines(srv.stderr_path.read_text(errors="replace"))
    for line in lines:
        assert line["level"] in {"error", "warn", "info", "debug", "trace"}, line
        assert isinstance(line["msg"], str) and line["ts"].endswith("Z"), line
    # Structured fields stay fields: the shard acquisitions name their shard.
    acquired = [l for l in lines if "acquired history shard" in l["msg"]]
    assert acquired and all(isinstance(l["shard"], int) for l in acquired), lines[:20]


def test_the_static_config_chooses_the_format(tmp_path, servers):
    database = servers.new_pg_database()
    config = write_pg_config(tmp_path / "json.yaml", database, 4)
    text = config.read_text()
    assert "log:" not in text, text
    config.write_text("log:\n  level: info\n  format: json\n" + text)
    r = subprocess.run([str(sundial_bin_path()), "schema", "setup", "--config", str(config)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json_lines(r.stderr)

    config.write_text("log:\n  level: info\n  format: yaml\n" + text)
    r = subprocess.run([str(sundial_bin_path()), "start", "--config", str(config)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "format" in r.stderr, r.stderr


def test_text_stays_the_default(tmp_path):
    proc = subprocess.Popen([str(sundial_bin_path()), "start-dev", "--ip", "127.0.0.1", "--port", "0",
                             "--log-level", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(15)
    assert line and not line.lstrip().startswith("{"), line
