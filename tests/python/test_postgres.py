"""`sundial schema setup` + `sundial start` on PostgreSQL (sundial-only: the
reference dev server has no PostgreSQL mode). These FAIL if PostgreSQL at
127.0.0.1:5432 cannot be reached. The namespace/system suites also run on this
backend through the parametrized ``server`` fixture."""

from __future__ import annotations

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetClusterInfoRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client

from conftest import pg_database_exists, write_pg_config
from support import DAY, unique

pytestmark = [pytest.mark.sundial_only, pytest.mark.process]


async def describe(client: Client, name: str):
    return await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=name))


def test_schema_setup_creates_database_and_is_idempotent(servers, tmp_path):
    db = servers.new_pg_database()
    assert not pg_database_exists(db)
    config = write_pg_config(tmp_path / "c.yaml", db)
    for _ in range(3):
        r = servers.schema_setup(config)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert pg_database_exists(db)


async def test_pg_start_banner_and_cluster_info(pg_server):
    srv = pg_server(shards=4)
    roles = {l.split()[0] for l in srv.stdout_lines if len(l.split()) == 2}
    assert {"frontend", "history", "matching", "worker"} <= roles, srv.stdout
    client = await Client.connect(srv.address)
    info = await client.workflow_service.get_cluster_info(GetClusterInfoRequest())
    assert info.history_shard_count == 4
    assert "postgres" in info.persistence_store.lower(), info.persistence_store
    for name in ("default", "temporal-system"):
        await describe(client, name)


async def test_pg_restart_keeps_namespaces(pg_server):
    srv = pg_server()
    client = await Client.connect(srv.address)
    name = unique("pgpersist")
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=name, description="in postgres", data={"a": "b"},
        workflow_execution_retention_period=Duration(seconds=2 * DAY)))
    first = await describe(client, name)
    default_id = (await describe(client, "default")).namespace_info.id
    assert srv.stop() == 0, srv.diagnostics()

    # Same database; schema setup again (idempotent) then start again.
    srv2 = pg_server(database=srv.database)
    client2 = await Client.connect(srv2.address)
    again = await describe(client2, name)
    assert again.namespace_info.id == first.namespace_info.id
    assert again.namespace_info.description == "in postgres"
    assert dict(again.namespace_info.data) == {"a": "b"}
    assert again.config.workflow_execution_retention_ttl.ToSeconds() == 2 * DAY
    assert (await describe(client2, "default")).namespace_info.id == default_id
    assert srv2.alive()
    text = (srv2.stdout + srv2.stderr()).lower()
    assert "already exists" not in text, srv2.diagnostics()


async def test_pg_two_servers_share_database(pg_server):
    """Two sundial processes on the same database see each other's namespaces."""
    a = pg_server()
    b = pg_server(database=a.database, setup=False)
    ca, cb = await Client.connect(a.address), await Client.connect(b.address)
    name = unique("shared")
    await ca.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period=Duration(seconds=DAY)))
    assert (await describe(cb, name)).namespace_info.name == name


async def test_pg_env_overrides(servers, tmp_path):
    """DBNAME and NUM_HISTORY_SHARDS in the environment override the config file."""
    in_config = servers.new_pg_database()
    from_env = servers.new_pg_database()
    config = write_pg_config(tmp_path / "env.yaml", in_config, shards=4)
    env = {"DBNAME": from_env, "NUM_HISTORY_SHARDS": "2"}
    r = servers.schema_setup(config, env=env)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert pg_database_exists(from_env)
    assert not pg_database_exists(in_config)

    from conftest import ServerProcess, sundial_bin_path

    srv = ServerProcess([str(sundial_bin_path()), "start", "--config", str(config)], env=env,
                        log_dir=tmp_path)
    servers.servers.append(srv)
    client = await Client.connect(srv.address)
    info = await client.workflow_service.get_cluster_info(GetClusterInfoRequest())
    assert info.history_shard_count == 2
