"""A network cut between one history host and PostgreSQL, under load.

Two history processes share the shards; the second reaches PostgreSQL through a proxy
(netcut.py) that blackholes the connection both ways without closing it, as a real cut does.
While order workflows (activities, a timer, a signal; the load of test_faults.py) run, the proxy
cuts the second host off for CUT_SECONDS, right after it share-locked a shard row in a commit
(the worst moment), then heals. What must happen:
  * during the cut the first host takes the cut host's shards (the cut host's open transaction
    must not hold the shard row for ever), and the cut host stops serving them;
  * after the heal it serves its share of the shards again under new leases, without a restart;
    a write of its old leases that still reaches the database (the cut-off commit, when the old
    connections resume before the client gave up on it) is refused under its old range id (the
    cut host logs "shard ownership lost"), and the notes say whether one did. Whether any does
    is a matter of timing in every mode: the lease-order check below is what must hold;
  * nothing it wrote under a stale lease is visible: every history replays with the SDK, has
    event ids 1..n, and its events' task ids (which carry the lease they were written under)
    never go back to an older lease;
  * every acknowledged workflow completes with its correct result (started / completed / stuck /
    lost are printed; stuck and lost must be 0).
The heal is run three ways: old connections resume (TCP retransmits what was sent), are reset,
or stay silent for ever (only the client's own timeouts end them).
Set SUNDIAL_KEEP_DB=1 to keep the database and read the role logs under the test's tmp dir."""

from __future__ import annotations

import asyncio
import json
import re
import struct
import time
from datetime import datetime
from pathlib import Path

import pytest

from cluster import Cluster, Role, extra_instance, psql
from conftest import PG_HOST, PG_PORT
from netcut import NetCutProxy, PgStatements
from test_faults import (RECOVERY, Counts, Load, assert_counts, assert_roles_alive, check, connect, print_table,
                         start_workers, stop_workers)
from test_history_hosts import owned_shards
from test_tctl import tctl
from wf_defs import uid

pytestmark = [pytest.mark.sundial_only, pytest.mark.process]

SHARDS = 8
CUT_SECONDS = 25
# Task ids are allocated from the shard's lease: task_id >> RANGE_BITS is the range id the
# event was written under (crates/history/src/shard.rs).
RANGE_BITS = 20
# The membership timeout (10 s) + a refresh + acquiring the shards: well inside the cut.
TAKEOVER_BUDGET = 20
# After the heal: the cut host's membership row is back within a heartbeat or two (3 s each;
# with the old connections dropped, its first calls wait out their timeouts), then the shards
# move back to it.
REACQUIRE_BUDGET = 45
# How long a resumed heal is watched for the cut-off commit's refusal, reported in the notes.
REFUSAL_GRACE = 20


# ---------------------------------------------------------------------------------------------
# the proxy itself


def _echo_server():
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve(conn):
        with conn:
            try:
                while data := conn.recv(4096):
                    conn.sendall(data)
            except OSError:
                pass  # reset by the proxy

    def accept():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv


def _connect(port: int):
    import socket

    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(0.5)
    return s


def _silent(s) -> bool:
    """Nothing arrives: no bytes, no EOF, no reset."""
    import socket

    try:
        s.recv(100)
    except socket.timeout:
        return True
    return False


def _receives(s, expected: bytes) -> bool:
    s.settimeout(5)
    got = b""
    while len(got) < len(expected):
        chunk = s.recv(100)
        if not chunk:
            return False
        got += chunk
    return got == expected


@pytest.mark.parametrize("mode", ["resume", "reset", "drop"])
def test_proxy_cuts_like_a_network(mode):
    """The proxy's cut is a blackhole, not a close; each heal mode does what it says."""
    echo = _echo_server()
    try:
        with NetCutProxy("127.0.0.1", echo.getsockname()[1]) as proxy:
            old = _connect(proxy.port)
            old.sendall(b"a")
            assert _receives(old, b"a")
            proxy.cut()
            old.settimeout(0.5)
            old.sendall(b"b")
            assert _silent(old), "bytes flowed through a cut"
            during = _connect(proxy.port)  # accepted...
            during.sendall(b"c")
            assert _silent(during), "a connection opened during the cut was forwarded"
            assert proxy.accepted_during_cut == 1
            proxy.heal(mode)
            fresh = _connect(proxy.port)
            fresh.sendall(b"d")
            assert _receives(fresh, b"d"), "a connection opened after the heal does not forward"
            if mode == "resume":
                assert _receives(old, b"b"), "bytes sent during the cut were lost"
                assert _receives(during, b"c")
            elif mode == "reset":
                for s in (old, during):
                    with pytest.raises(ConnectionResetError):
                        s.settimeout(5)
                        s.recv(100)
            else:
                assert _silent(old) and _silent(during), "a dropped connection came back"
            for s in (old, during, fresh):
                s.close()
    finally:
        echo.close()


def _pg_message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def test_pg_statements_names_what_each_chunk_runs():
    params = b"user\0postgres\0\0"
    startup = struct.pack("!II", 8 + len(params), 196608) + params
    parse = _pg_message(b"P", b"sqlx_s_1\0SELECT range_id FROM shards WHERE shard_id = $1 FOR SHARE\0\0\0")
    bind = _pg_message(b"B", b"\0sqlx_s_1\0\0\0\0\0\0\0")
    execute, sync = _pg_message(b"E", b"\0\0\0\0\0"), _pg_message(b"S", b"")
    simple = _pg_message(b"Q", b"BEGIN\0")
    p = PgStatements()
    assert p.feed(startup) == []
    assert p.feed(simple) == [b"BEGIN"]
    stream = parse + bind + execute + sync
    # Split anywhere: a message is named once it is complete.
    assert p.feed(stream[:7]) == []
    assert p.feed(stream[7:]) == [b"SELECT range_id FROM shards WHERE shard_id = $1 FOR SHARE"]
    assert p.feed(bind + execute + sync) == [b"SELECT range_id FROM shards WHERE shard_id = $1 FOR SHARE"], \
        "a statement prepared earlier on the connection"


# ---------------------------------------------------------------------------------------------
# the cluster


def log_since(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def acquisitions(text: str) -> dict[int, tuple[int, float]]:
    """Shard -> (range id, log time) of its last "acquired history shard" line."""
    out = {}
    for line in text.splitlines():
        if "acquired history shard" in line:
            shard = re.search(r"shard=(\d+)", line)
            range_id = re.search(r"range_id=(\d+)", line)
            if shard and range_id:
                out[int(shard.group(1))] = (int(range_id.group(1)), logged_at(line))
    return out


def logged_at(line: str) -> float:
    """The wall-clock time a server log line was written (its first field, RFC 3339 UTC)."""
    return datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()


def range_ids(cluster: Cluster) -> dict[int, int]:
    rows = psql("select shard_id, range_id from shards order by shard_id", cluster.db)
    return {int(s): int(r) for s, r in (line.split("|") for line in rows.split())}


def frontend_owners(cluster: Cluster) -> dict[int, str]:
    """Which history host the frontend routes each shard to (`tctl admin shard list`)."""
    listed = json.loads(tctl(cluster.address, "admin", "shard", "list", "--output", "json").stdout)
    return {item["shardId"]: item["owner"] for item in listed}


async def wait_for(condition, timeout: float, what: str, every: float = 0.2) -> float:
    """Polls ``condition`` (a function, or a coroutine function) until true; returns how long
    it took."""
    start = time.monotonic()
    while True:
        met = condition()
        if asyncio.iscoroutine(met):
            met = await met
        if met:
            return time.monotonic() - start
        assert time.monotonic() - start < timeout, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(every)


def lease_order_violations(histories) -> list[str]:
    """Runs whose events were written under a range id older than an earlier event's: a write
    under a stale lease that got through."""
    bad = []
    for h in histories:
        leases = [e.task_id >> RANGE_BITS for e in h.events]
        if not all(e.task_id > 0 for e in h.events):
            bad.append(f"{h.workflow_id}: events without a task id")
        elif any(b < a for a, b in zip(leases, leases[1:])):
            bad.append(f"{h.workflow_id}: leases in event order {leases}")
    return bad


@pytest.fixture
def cut_cluster(tmp_path):
    """One history, matching and frontend process, plus a second history process that reaches
    PostgreSQL through the proxy. Everything is stopped and the proxy closed, whatever happens."""
    cluster = Cluster(tmp_path, shards=SHARDS)
    proxy = NetCutProxy(PG_HOST, PG_PORT)
    second: list[Role] = []
    try:
        proxy.start()
        cluster.start()
        second.append(extra_instance(cluster, "history", tmp_path, 7, pg_port=proxy.port))
        cluster.logs.append(second[0].log_path)
        second[0].wait_ready()
        yield cluster, proxy, second[0]
    finally:
        try:
            # Heal first so the host behind the proxy can shut down (and leave the ring) cleanly.
            proxy.heal("resume")
            for role in second:
                role.stop()
        finally:
            proxy.close()
            cluster.stop()


@pytest.mark.parametrize("heal", ["resume", "reset", "drop"])
async def test_network_cut_between_a_history_host_and_postgres(cut_cluster, heal):
    cluster, proxy, cut_host = cut_cluster
    first = cluster.roles["history"]
    counts = Counts(f"network cut, heal: {heal}")
    notes: list[str] = []
    began = time.monotonic()

    def split() -> bool:
        a, b = owned_shards(first.log_path), owned_shards(cut_host.log_path)
        return bool(a) and bool(b) and not (a & b) and len(a | b) == SHARDS

    await wait_for(split, 40, "the shards to split between the two history hosts")
    cut_shards = owned_shards(cut_host.log_path)
    notes.append(f"before the cut: first host {sorted(owned_shards(first.log_path))}, cut host {sorted(cut_shards)}")

    client = await connect(cluster.address)
    task_queue = uid("netcut-tq")
    workers = await start_workers(cluster.address, task_queue)
    # 45 s of starts: the cut begins a few seconds in, and the load goes on for a while after the
    # heal, while the shards move back to the cut host.
    load = Load(client, task_queue, total=450, rate=10, max_in_flight=150)
    try:
        driver = asyncio.create_task(load.run())
        await wait_for(lambda: len(load.acked) >= 40 and load.in_flight() >= 10, 30,
                       "workflows in flight before the cut")

        # -- the cut ------------------------------------------------------------------------
        leases_before = range_ids(cluster)
        in_flight = load.in_flight()
        # The worst moment: the cut host has just taken the share lock on a shard row in a
        # transaction whose commit will never arrive.
        proxy.cut(after=b"FOR SHARE")
        assert await asyncio.to_thread(proxy.cut_done.wait, 15), "the cut host committed nothing for 15s"
        cut_at = time.monotonic()
        try:
            # The first host takes every shard, and the cut host stops serving its own: its
            # peers have dropped it once its heartbeat is a membership timeout old, and so does
            # it, rather than answer from a cache that the new owner's writes leave behind.
            seen: dict[str, float] = {}

            def moved() -> bool:
                if "takeover" not in seen and owned_shards(first.log_path) >= set(range(SHARDS)):
                    seen["takeover"] = time.monotonic() - cut_at
                if "stopped" not in seen and not owned_shards(cut_host.log_path):
                    seen["stopped"] = time.monotonic() - cut_at
                return len(seen) == 2

            try:
                await wait_for(moved, TAKEOVER_BUDGET, "the shards to move off the cut host")
            except AssertionError as e:
                raise AssertionError(f"{e}: the first host serves {sorted(owned_shards(first.log_path))}, the "
                                     f"cut host still {sorted(owned_shards(cut_host.log_path))}") from None
            leases_during = range_ids(cluster)
            owners = await asyncio.to_thread(frontend_owners, cluster)
            await asyncio.sleep(max(0.0, cut_at + CUT_SECONDS - time.monotonic()))
        finally:
            heal_log_offset = cut_host.log_path.stat().st_size
            proxy.heal(heal)
        healed_at, healed_wall = time.monotonic(), time.time()
        notes.append(f"cut {healed_at - cut_at:.0f}s right after {proxy.cut_trigger.decode()[:60]!r}, with "
                     f"{in_flight} workflows in flight "
                     f"({proxy.accepted_during_cut} connections opened into the cut); the first host "
                     f"served every shard {seen['takeover']:.1f}s into it, the cut host had let its go at "
                     f"{seen['stopped']:.1f}s; heal: {heal}")
        assert len(set(owners.values())) == 1 and set(owners) == set(range(SHARDS)), \
            f"during the cut the frontend still routes to both hosts: {owners}"
        stale = {s: (leases_before[s], leases_during[s]) for s in cut_shards if leases_during[s] <= leases_before[s]}
        assert not stale, f"the cut host's shards kept their leases through the takeover: {stale}"

        # -- after the heal -------------------------------------------------------------------
        deadline = healed_at + RECOVERY
        if not await load.wait_all(deadline):
            notes.append(f"only {len(load.orders)} of {load.total} workflows launched by the deadline")
        driver.cancel()
        notes.append(f"{len(load.results)}/{len(load.acked)} results seen {time.monotonic() - healed_at:.0f}s "
                     f"after the heal")

        # Without a restart, the cut host serves its share again: the frontend routes it there,
        # the cut host took each of those shards under a lease newer than the takeover's, and
        # the first host let them go.
        first_address = f"127.0.0.1:{cluster.ports['history']}"
        share: set[int] = set()

        async def rebalanced() -> bool:
            owners = await asyncio.to_thread(frontend_owners, cluster)
            share.clear()
            share.update(s for s, owner in owners.items() if owner != first_address)
            taken = acquisitions(log_since(cut_host.log_path, heal_log_offset))
            ok = bool(share) and not (share & owned_shards(first.log_path)) and all(
                taken.get(s, (-1, 0.0))[0] > leases_during[s] for s in share)
            if ok:
                seen["serving"] = max(taken[s][1] for s in share) - healed_wall
            return ok

        await wait_for(rebalanced, REACQUIRE_BUDGET, "the cut host to serve its share again", every=1)

        # What the cut host had under way when the network went (the commit cut off, and those
        # queued behind it) goes on once the calls stuck on the cut get their answer, fail or
        # time out; whatever of it reaches the database does so under the old leases, and is
        # refused. Even resumed connections need not deliver the cut-off commit (the client
        # may have given up on it first), so its refusal is reported, not required: the
        # lease-order check on every history is what must hold.
        def refused() -> list[str]:
            stale = []
            for line in log_since(cut_host.log_path, heal_log_offset).splitlines():
                m = re.search(r"shard ownership lost.* shard=(\d+) range_id=(\d+)", line)
                if m and int(m.group(2)) < leases_during.get(int(m.group(1)), 0):
                    stale.append(line)
            return stale

        if heal == "resume":
            deadline = time.monotonic() + REFUSAL_GRACE
            while not refused() and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        if refused():
            first_refusal = refused()[0]
            notes.append(f"after the heal: the cut host's first write under an old lease was refused at "
                         f"+{logged_at(first_refusal) - healed_wall:.1f}s "
                         f"({first_refusal.split('stops serving it')[-1].strip()})")
        else:
            notes.append("after the heal: no write of the cut host under an old lease reached the database")
        notes.append(f"the cut host serves {sorted(share)} again under new leases since +{seen['serving']:.1f}s")
        assert_roles_alive(cluster, notes)
        assert cut_host.alive(), f"the cut host died; log {cut_host.log_path}"

        histories = await asyncio.wait_for(check(client, load, counts, notes), 180)
    finally:
        try:
            await stop_workers(workers)
        finally:
            counts.seconds = time.monotonic() - began
            print_table(counts, notes)
    violations = lease_order_violations(histories)
    for v in violations[:5]:
        notes.append(f"stale lease: {v}")
    assert not violations, "\n".join(notes)
    assert_counts(counts, notes, cluster)
