"""TLS and mTLS (`global.tls`), with certificates this test makes with openssl. The frontend: the Python SDK runs the order saga over mTLS, the system worker reaches the frontend
with its own certificate (`global.tls.systemWorker`; a schedule fires), the `temporal` CLI and
`tctl` connect with their TLS flags; a plaintext client, a client without a certificate and one
whose certificate another CA signed are refused at the handshake; a server certificate replaced
on disk is served without a restart. A second server serves TLS without client certificates.
Between roles: separate history, matching and frontend processes talk over mTLS only."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec,
                               TLSConfig)
from temporalio.service import RPCError

from cluster import Cluster, Role, free_port
from conftest import child_env, sundial_bin_path
from support import cli
from test_tctl import tctl
from wf_defs import CreateOrderWorkflow, EchoWorkflow, Order, OrderActivities, running_worker, uid, wait_until

pytestmark = [pytest.mark.sundial_only, pytest.mark.process]


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Pki:
    """A CA and the certificates it signs (EC P-256, valid two days)."""

    def __init__(self, directory: Path, name: str):
        self.dir = directory
        self.name = name
        self.ca = directory / f"{name}-ca.pem"
        self.ca_key = directory / f"{name}-ca.key"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(self.ca_key), "-out", str(self.ca), "-days", "2", "-subj", f"/CN={name} CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                cwd=directory)

    def issue(self, cn: str) -> tuple[Path, Path]:
        """A leaf for localhost / 127.0.0.1, usable by servers and clients."""
        stem = f"{self.name}-{cn}-{uuid.uuid4().hex[:6]}"
        key, csr, cert, ext = (self.dir / f"{stem}.{s}" for s in ("key", "csr", "pem", "ext"))
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"
                       "basicConstraints=CA:FALSE\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                "-out", str(csr), "-subj", f"/CN={cn}", cwd=self.dir)
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(self.ca_key), "-CAcreateserial",
                "-out", str(cert), "-days", "2", "-extfile", str(ext), cwd=self.dir)
        return cert, key


class TlsServer:
    """`sundial start` with every role in one process on SQLite, its frontend behind TLS."""

    def __init__(self, directory: Path, tls_yaml: str):
        self.dir = directory
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        self.config = directory / "tls.yaml"
        self.config.write_text(
            "bindOnIP: 127.0.0.1\n"
            f"persistence: {{ numHistoryShards: 1, driver: sqlite, sqlite: {{ filename: {directory / 'tls.db'} }} }}\n"
            f"services:\n  frontend: {{ port: {port} }}\n  history: {{ port: {free_port()} }}\n"
            f"  matching: {{ port: {free_port()} }}\n  worker: {{ port: {free_port()} }}\n"
            f"global:\n  tls:\n{tls_yaml}")
        subprocess.run([str(sundial_bin_path()), "schema", "setup", "--config", str(self.config)], check=True,
                       capture_output=True, env=child_env())
        self.role = Role(self.config, "frontend,history,matching,worker", directory).wait_ready()

    def log(self) -> str:
        return self.role.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.role.stop()


def indent(text: str, by: int) -> str:
    return "".join(" " * by + line + "\n" for line in text.strip("\n").splitlines())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    trusted, stranger = Pki(d, "trusted"), Pki(d, "stranger")
    return {
        "ca": trusted.ca, "trusted": trusted, "server": trusted.issue("frontend"), "worker": trusted.issue("worker"),
        "client": trusted.issue("client"), "stranger": stranger.issue("client"),
    }


@pytest.fixture(scope="module")
def mtls_server(pki, tmp_path_factory):
    cert, key = pki["server"]
    # Copies the server reads, so the rotation test can replace them.
    live_cert, live_key = cert.with_name("live.pem"), key.with_name("live.key")
    live_cert.write_bytes(cert.read_bytes())
    live_key.write_bytes(key.read_bytes())
    wcert, wkey = pki["worker"]
    server = TlsServer(tmp_path_factory.mktemp("mtls"), indent(f"""
refreshInterval: 1s
frontend:
  server:
    certFile: {live_cert}
    keyFile: {live_key}
    clientCaFiles: [{pki['ca']}]
    requireClientAuth: true
systemWorker:
  certFile: {wcert}
  keyFile: {wkey}
  client:
    rootCaFiles: [{pki['ca']}]
    serverName: localhost
""", 4))
    server.live = (live_cert, live_key)
    yield server
    server.stop()


def tls_config(pki, client: str | None = "client") -> TLSConfig:
    cert_key = pki[client] if client else None
    return TLSConfig(server_root_ca_cert=pki["ca"].read_bytes(), domain="localhost",
                     client_cert=cert_key[0].read_bytes() if cert_key else None,
                     client_private_key=cert_key[1].read_bytes() if cert_key else None)


async def refused(address: str, **kw) -> bool:
    try:
        client = await Client.connect(address, **kw)
        await client.count_workflows()
    except (RuntimeError, RPCError):
        return True
    return False


async def test_sdk_cli_tctl_and_the_system_worker_over_mtls(mtls_server, pki):
    client = await Client.connect(mtls_server.address, tls=tls_config(pki))
    tq = uid("tls-tq")
    acts = OrderActivities()
    async with running_worker(client, tq, workflows=[CreateOrderWorkflow, EchoWorkflow], activities=acts.all()):
        result = await client.execute_workflow(CreateOrderWorkflow.run, Order("tls-1", 3), id=uid("tls-order"),
                                               task_queue=tq, execution_timeout=timedelta(minutes=1))
        assert result
        # A schedule's action is started by the system worker, through the frontend, over mTLS.
        handle = await client.create_schedule(uid("tls-sched"), Schedule(
            action=ScheduleActionStartWorkflow(EchoWorkflow.run, "tick", id=uid("tls-wf"), task_queue=tq),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])),
            trigger_immediately=True)

        async def fired() -> bool:
            return (await handle.describe()).info.num_actions >= 1
        await wait_until(fired, timeout=30, interval=0.5, what="the schedule's first action")
        await handle.delete()

    ca, (cert, key) = str(pki["ca"]), pki["client"]
    r = cli(mtls_server.address, "workflow", "list", "--tls-ca-path", ca, "--tls-cert-path", str(cert),
            "--tls-key-path", str(key), "--tls-server-name", "localhost", "--limit", "5")
    assert r.returncode == 0, r.stderr
    r = cli(mtls_server.address, "workflow", "list", "--tls-ca-path", ca, "--tls-server-name", "localhost",
            check=False, timeout=30)
    assert r.returncode != 0, "the CLI got in without a client certificate"
    r = tctl(mtls_server.address, "--tls_ca_path", ca, "--tls_cert_path", str(cert), "--tls_key_path", str(key),
             "--tls_server_name", "localhost", "cluster", "health")
    assert "SERVING" in r.stdout, r.stdout + r.stderr
    r = tctl(mtls_server.address, "cluster", "health", check=False)
    assert r.returncode != 0, "plaintext tctl got in"


async def test_clients_the_server_cannot_verify_are_refused(mtls_server, pki):
    assert await refused(mtls_server.address), "a plaintext client got in"
    assert await refused(mtls_server.address, tls=tls_config(pki, None)), "a client without a certificate got in"
    assert await refused(mtls_server.address, tls=tls_config(pki, "stranger")), \
        "a client whose certificate another CA signed got in"
    assert mtls_server.role.alive()


def served_certificate(address: str, pki) -> bytes:
    host, port = address.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(pki["ca"]))
    ctx.load_cert_chain(*(str(p) for p in pki["client"]))
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as conn:
        return conn.getpeercert(binary_form=True)


def der(pem: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.read_text())


async def test_a_replaced_certificate_is_served_without_a_restart(mtls_server, pki):
    live_cert, live_key = mtls_server.live
    assert served_certificate(mtls_server.address, pki) == der(live_cert)
    new_cert, new_key = pki["trusted"].issue("frontend-rotated")
    # A half-written pair (the new certificate, the old key) is refused and the old one kept.
    live_cert.write_bytes(new_cert.read_bytes())
    await asyncio.sleep(2.5)
    assert served_certificate(mtls_server.address, pki) != der(new_cert)
    live_key.write_bytes(new_key.read_bytes())

    async def rotated() -> bool:
        return await asyncio.to_thread(served_certificate, mtls_server.address, pki) == der(new_cert)
    await wait_until(rotated, timeout=15, interval=0.5, what="the replaced certificate to be served")
    assert "loaded new TLS certificates" in mtls_server.log()
    client = await Client.connect(mtls_server.address, tls=tls_config(pki))
    await client.count_workflows()


async def test_server_tls_without_client_certificates(pki, tmp_path):
    cert, key = pki["server"]
    server = TlsServer(tmp_path, indent(f"""
frontend:
  server:
    certFile: {cert}
    keyFile: {key}
  client:
    rootCaFiles: [{pki['ca']}]
    serverName: localhost
""", 4))
    try:
        client = await Client.connect(server.address, tls=tls_config(pki, None))
        tq = uid("tls-only-tq")
        async with running_worker(client, tq, workflows=[EchoWorkflow]):
            assert await client.execute_workflow(EchoWorkflow.run, "x", id=uid("tls-echo"), task_queue=tq) == "echo x"
        assert await refused(server.address), "a plaintext client got in"
    finally:
        server.stop()


def plaintext_h2_answered(address: str) -> bool:
    """Whether a plaintext HTTP/2 client gets an HTTP/2 SETTINGS frame back from `address`."""
    host, port = address.rsplit(":", 1)
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(preface)
        try:
            head = conn.recv(9)
        except (ConnectionResetError, socket.timeout):
            return False
    return len(head) == 9 and head[3] == 4


def health(config: Path, service: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(sundial_bin_path()), "health", "--config", str(config), "--service", service],
                          capture_output=True, text=True, timeout=30, env=child_env(), stdin=subprocess.DEVNULL)


async def test_internode_mtls_between_role_processes(pki, tmp_path):
    """History, matching and frontend as separate processes that reach one another only over
    mTLS (global.tls.internode): workflows run, and the internal ports refuse plaintext and
    certificate-less callers, the back door past the frontend's validation."""
    cluster = Cluster(tmp_path, shards=4)
    node_cert, node_key = pki["trusted"].issue("node")
    cluster.config.write_text(cluster.config.read_text() + "global:\n  tls:\n" + indent(f"""
internode:
  server:
    certFile: {node_cert}
    keyFile: {node_key}
    clientCaFiles: [{pki['ca']}]
    requireClientAuth: true
  client:
    rootCaFiles: [{pki['ca']}]
    serverName: localhost
""", 4))
    cluster.start()
    try:
        client = await Client.connect(cluster.address)
        tq = uid("internode-tq")
        acts = OrderActivities()
        async with running_worker(client, tq, workflows=[CreateOrderWorkflow], activities=acts.all()):
            results = await asyncio.gather(*[
                client.execute_workflow(CreateOrderWorkflow.run, Order(f"n{i}", 2 + i), id=uid("internode"),
                                        task_queue=tq, execution_timeout=timedelta(minutes=1)) for i in range(4)])
            assert all(results)
        for service in ("history", "matching"):
            address = f"127.0.0.1:{cluster.ports[service]}"
            assert plaintext_h2_answered(cluster.address), "the frontend stays plaintext here"
            assert not plaintext_h2_answered(address), f"{service} answered a plaintext client"
            host, port = address.rsplit(":", 1)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(str(pki["ca"]))
            ctx.set_alpn_protocols(["h2"])
            with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
                with socket.create_connection((host, int(port)), timeout=5) as raw, \
                        ctx.wrap_socket(raw, server_hostname="localhost") as conn:
                    conn.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                    if not conn.recv(1):
                        raise ConnectionResetError("closed")
            r = health(cluster.config, service)
            assert r.returncode == 0 and "SERVING" in r.stdout, r.stdout + r.stderr
    finally:
        cluster.stop()


def test_internode_server_tls_without_client_tls_is_refused(pki, tmp_path):
    cert, key = pki["server"]
    config = tmp_path / "internode.yaml"
    config.write_text(
        f"persistence: {{ driver: sqlite, sqlite: {{ filename: {tmp_path / 'x.db'} }} }}\n"
        f"services:\n  frontend: {{ port: {free_port()} }}\n"
        f"global:\n  tls:\n    internode:\n      server:\n        certFile: {cert}\n        keyFile: {key}\n")
    r = subprocess.run([str(sundial_bin_path()), "start", "--config", str(config)], capture_output=True, text=True,
                       timeout=30, env=child_env(), stdin=subprocess.DEVNULL)
    assert r.returncode != 0 and "internode.client" in r.stderr, r.stderr
