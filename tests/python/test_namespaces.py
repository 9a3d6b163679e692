"""Namespace APIs through the Python SDK's raw workflow service: register, describe
(by name and id), list (paged), update, and the error cases."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import NamespaceState
from temporalio.api.namespace.v1 import NamespaceConfig, UpdateNamespaceInfo
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    ListNamespacesRequest,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCStatusCode

from support import (
    DAY,
    NAMESPACE_ALREADY_EXISTS,
    NAMESPACE_NOT_FOUND,
    assert_alive,
    expect_rpc_error,
    unique,
)


def days(n: float) -> Duration:
    return Duration(seconds=int(n * DAY))


async def register(client: Client, name: str, **kw):
    kw.setdefault("workflow_execution_retention_period", days(1))
    return await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=name, **kw))


async def describe(client: Client, name: str = "", id: str = ""):
    return await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=name, id=id))


async def list_all(client: Client, page_size: int) -> tuple[list[str], int]:
    """Walk every page; returns (names in order, number of pages)."""
    names: list[str] = []
    token = b""
    pages = 0
    while True:
        resp = await client.workflow_service.list_namespaces(
            ListNamespacesRequest(page_size=page_size, next_page_token=token))
        pages += 1
        assert len(resp.namespaces) <= page_size, f"page has {len(resp.namespaces)} > {page_size}"
        names.extend(ns.namespace_info.name for ns in resp.namespaces)
        token = resp.next_page_token
        if not token:
            return names, pages
        assert pages < 10000, "paging does not terminate"


# ---------------------------------------------------------------------------- happy path


async def test_builtin_namespaces_exist(client: Client):
    for name in ("default", "temporal-system"):
        d = await describe(client, name)
        assert d.namespace_info.name == name
        assert d.namespace_info.state == NamespaceState.NAMESPACE_STATE_REGISTERED
        uuid.UUID(d.namespace_info.id)


async def test_register_and_describe_by_name_and_id(client: Client):
    name = unique("reg")
    resp = await register(client, name, description="first description", owner_email="owner@example.com",
                          data={"team": "sundial", "tier": "1"},
                          workflow_execution_retention_period=days(3))
    assert resp is not None

    by_name = await describe(client, name)
    info = by_name.namespace_info
    assert info.name == name
    assert info.state == NamespaceState.NAMESPACE_STATE_REGISTERED
    assert info.description == "first description"
    assert info.owner_email == "owner@example.com"
    assert dict(info.data) == {"team": "sundial", "tier": "1"}
    assert by_name.config.workflow_execution_retention_ttl.ToSeconds() == 3 * DAY
    ns_id = info.id
    assert str(uuid.UUID(ns_id)) == ns_id.lower()

    by_id = await describe(client, id=ns_id)
    assert by_id.namespace_info.name == name
    assert by_id.namespace_info.id == ns_id
    assert by_id.namespace_info.description == "first description"
    assert by_id.config.workflow_execution_retention_ttl.ToSeconds() == 3 * DAY


async def test_new_namespace_usable_immediately(client: Client):
    """A namespace is visible to every read path right after RegisterNamespace returns."""
    name = unique("now")
    await register(client, name)
    d = await describe(client, name)
    assert d.namespace_info.name == name
    names, _ = await list_all(client, page_size=100)
    assert name in names
    # And updatable right away.
    u = await client.workflow_service.update_namespace(UpdateNamespaceRequest(
        namespace=name, update_info=UpdateNamespaceInfo(description="changed")))
    assert u.namespace_info.description == "changed"


async def test_namespace_ids_are_distinct(client: Client):
    a, b = unique("ida"), unique("idb")
    await register(client, a)
    await register(client, b)
    ida = (await describe(client, a)).namespace_info.id
    idb = (await describe(client, b)).namespace_info.id
    assert ida != idb
    assert (await describe(client, id=ida)).namespace_info.name == a
    assert (await describe(client, id=idb)).namespace_info.name == b


async def test_list_paging_page_size_one_walks_all_pages(client: Client):
    mine = [unique("page") for _ in range(3)]
    for name in mine:
        await register(client, name)

    names, pages = await list_all(client, page_size=1)
    assert len(names) == len(set(names)), f"duplicates across pages: {names}"
    for name in ["default", *mine]:
        assert name in names
    assert pages >= len(names), "page_size=1 must give one namespace per page"

    # Same set as one big page.
    big, big_pages = await list_all(client, page_size=1000)
    assert set(big) == set(names)
    assert big_pages == 1 or len(big) > 1000

    # Each listed entry is fully populated.
    resp = await client.workflow_service.list_namespaces(ListNamespacesRequest(page_size=1000))
    for ns in resp.namespaces:
        assert ns.namespace_info.id
        assert ns.namespace_info.state == NamespaceState.NAMESPACE_STATE_REGISTERED
        assert ns.config.workflow_execution_retention_ttl.ToSeconds() > 0


async def test_update_description_email_data_retention(client: Client):
    name = unique("upd")
    await register(client, name, description="d1", owner_email="a@example.com",
                   data={"k1": "v1"}, workflow_execution_retention_period=days(1))
    before = await describe(client, name)

    resp = await client.workflow_service.update_namespace(UpdateNamespaceRequest(
        namespace=name,
        update_info=UpdateNamespaceInfo(description="d2", owner_email="b@example.com",
                                        data={"k2": "v2"}),
        config=NamespaceConfig(workflow_execution_retention_ttl=days(5)),
    ))
    assert resp.namespace_info.description == "d2"
    assert resp.config.workflow_execution_retention_ttl.ToSeconds() == 5 * DAY

    after = await describe(client, name)
    info = after.namespace_info
    assert info.description == "d2"
    assert info.owner_email == "b@example.com"
    # Temporal merges data: new keys are added, existing keys are kept.
    assert dict(info.data) == {"k1": "v1", "k2": "v2"}
    assert after.config.workflow_execution_retention_ttl.ToSeconds() == 5 * DAY
    assert info.id == before.namespace_info.id
    assert info.state == NamespaceState.NAMESPACE_STATE_REGISTERED

    # Overwrite an existing data key.
    await client.workflow_service.update_namespace(UpdateNamespaceRequest(
        namespace=name, update_info=UpdateNamespaceInfo(data={"k1": "v1b"})))
    assert dict((await describe(client, name)).namespace_info.data) == {"k1": "v1b", "k2": "v2"}

    # An update with nothing set changes nothing.
    await client.workflow_service.update_namespace(UpdateNamespaceRequest(namespace=name))
    same = await describe(client, name)
    assert same.namespace_info.description == "d2"
    assert same.namespace_info.owner_email == "b@example.com"
    assert same.config.workflow_execution_retention_ttl.ToSeconds() == 5 * DAY

    # Updating only the retention leaves the info alone.
    await client.workflow_service.update_namespace(UpdateNamespaceRequest(
        namespace=name, config=NamespaceConfig(workflow_execution_retention_ttl=days(2))))
    only_ret = await describe(client, name)
    assert only_ret.config.workflow_execution_retention_ttl.ToSeconds() == 2 * DAY
    assert only_ret.namespace_info.description == "d2"


# ---------------------------------------------------------------------------- errors


async def test_register_empty_name(client: Client):
    await expect_rpc_error(register(client, ""), RPCStatusCode.INVALID_ARGUMENT)
    await assert_alive(client)


async def test_register_overlong_name(client: Client):
    # The reference accepts up to 1000 characters and rejects 1001+.
    name = "long-" + uuid.uuid4().hex + "x" * 1100
    await expect_rpc_error(register(client, name), RPCStatusCode.INVALID_ARGUMENT)
    # Nothing was created. (Describing it is itself INVALID_ARGUMENT on the reference.)
    names, _ = await list_all(client, page_size=1000)
    assert name not in names
    await assert_alive(client)


@pytest.mark.sundial_only
async def test_register_malformed_name(client: Client):
    """Sundial validates namespace names. NOTE: the reference (Temporal 1.32 dev
    server) accepts "bad name!" and other arbitrary strings, so this is sundial-only."""
    suffix = uuid.uuid4().hex[:8]
    for bad in ["bad name!", f"bad name {suffix}!", f"semi;{suffix}", f"slash/{suffix}"]:
        await expect_rpc_error(register(client, bad), RPCStatusCode.INVALID_ARGUMENT)
    await assert_alive(client)


async def test_register_negative_retention(client: Client):
    name = unique("negret")
    await expect_rpc_error(register(client, name, workflow_execution_retention_period=Duration(seconds=-5)),
                           RPCStatusCode.INVALID_ARGUMENT)
    await expect_rpc_error(register(client, name, workflow_execution_retention_period=Duration(seconds=-DAY)),
                           RPCStatusCode.INVALID_ARGUMENT)
    # Nothing was created.
    await expect_rpc_error(describe(client, name), RPCStatusCode.NOT_FOUND, NAMESPACE_NOT_FOUND)
    await assert_alive(client)


async def test_register_without_retention(client: Client):
    """Temporal requires a retention period on RegisterNamespace (zero/unset ->
    INVALID_ARGUMENT 'A valid retention period is not set on request.')."""
    name = unique("noret")
    await expect_rpc_error(client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=name)), RPCStatusCode.INVALID_ARGUMENT)
    await expect_rpc_error(describe(client, name), RPCStatusCode.NOT_FOUND, NAMESPACE_NOT_FOUND)


async def test_register_duplicate(client: Client):
    name = unique("dup")
    await register(client, name, description="original")
    err = await expect_rpc_error(register(client, name, description="second"),
                                 RPCStatusCode.ALREADY_EXISTS, NAMESPACE_ALREADY_EXISTS)
    assert name in err.message
    # The original is untouched.
    assert (await describe(client, name)).namespace_info.description == "original"
    # Built-in namespaces are duplicates too.
    await expect_rpc_error(register(client, "default"), RPCStatusCode.ALREADY_EXISTS,
                           NAMESPACE_ALREADY_EXISTS)
    await assert_alive(client)


async def test_describe_unknown_name(client: Client):
    await expect_rpc_error(describe(client, unique("nope")), RPCStatusCode.NOT_FOUND, NAMESPACE_NOT_FOUND)
    await assert_alive(client)


async def test_describe_unknown_id(client: Client):
    await expect_rpc_error(describe(client, id=str(uuid.uuid4())), RPCStatusCode.NOT_FOUND,
                           NAMESPACE_NOT_FOUND)
    await assert_alive(client)


async def test_describe_without_name_or_id(client: Client):
    await expect_rpc_error(describe(client), RPCStatusCode.INVALID_ARGUMENT)
    await assert_alive(client)


async def test_update_unknown(client: Client):
    name = unique("nope")
    await expect_rpc_error(client.workflow_service.update_namespace(UpdateNamespaceRequest(
        namespace=name, update_info=UpdateNamespaceInfo(description="x"))),
        RPCStatusCode.NOT_FOUND, NAMESPACE_NOT_FOUND)
    # Update must not create it.
    await expect_rpc_error(describe(client, name), RPCStatusCode.NOT_FOUND, NAMESPACE_NOT_FOUND)
    await assert_alive(client)


async def test_update_negative_retention(client: Client):
    name = unique("updneg")
    await register(client, name, workflow_execution_retention_period=days(2))
    await expect_rpc_error(client.workflow_service.update_namespace(UpdateNamespaceRequest(
        namespace=name, config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=-5)))),
        RPCStatusCode.INVALID_ARGUMENT)
    assert (await describe(client, name)).config.workflow_execution_retention_ttl.ToSeconds() == 2 * DAY
    await assert_alive(client)


async def test_update_empty_name(client: Client):
    await expect_rpc_error(client.workflow_service.update_namespace(UpdateNamespaceRequest(
        update_info=UpdateNamespaceInfo(description="x"))), RPCStatusCode.INVALID_ARGUMENT)
    await assert_alive(client)
