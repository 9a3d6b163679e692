"""Authorization (`global.authorization` with the default JWT claim mapper and authorizer),
with tokens this test signs and a JWKS document it serves over HTTP: a reader lists and
describes but cannot start or signal; a writer in one namespace runs a worker there and cannot
touch another; expired, wrongly signed and missing tokens are refused (GetSystemInfo and health
stay open); a `temporal-system:admin` token registers namespaces; the system worker is not
locked out (a schedule fires); the `temporal` CLI connects with `--api-key`, tctl with `--auth`."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec
from temporalio.service import RPCError, RPCStatusCode

from cluster import Role, free_port
from conftest import child_env, sundial_bin_path
from support import cli, unique
from test_tctl import tctl
from wf_defs import EchoWorkflow, running_worker, uid, wait_until

pytestmark = [pytest.mark.sundial_only, pytest.mark.process]

DENIED = "Request unauthorized."


class Jwks:
    """Signing keys and the JWKS document of their public halves, served over HTTP."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        keys = []
        for kid, key, algorithm in (("rsa-1", self.rsa, jwt.algorithms.RSAAlgorithm),
                                    ("ec-1", self.ec, jwt.algorithms.ECAlgorithm)):
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            jwk["kid"] = kid
            keys.append(jwk)
        document = json.dumps({"keys": keys}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def token(self, *permissions: str, kid: str = "rsa-1", key=None, expires_in: float = 3600, **extra) -> str:
        now = int(time.time())
        payload = {"sub": "tester", "permissions": list(permissions), "iat": now, "exp": now + int(expires_in), **extra}
        algorithm = "ES256" if kid.startswith("ec") else "RS256"
        signer = key or (self.ec if kid.startswith("ec") else self.rsa)
        return jwt.encode(payload, signer, algorithm=algorithm, headers={"kid": kid})

    def close(self):
        self.server.shutdown()


class AuthServer:
    """`sundial start` with every role in one process on SQLite and authorization on."""

    def __init__(self, directory: Path, jwks_uri: str):
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        config = directory / "authz.yaml"
        config.write_text(
            "bindOnIP: 127.0.0.1\n"
            f"persistence: {{ numHistoryShards: 1, driver: sqlite, sqlite: {{ filename: {directory / 'authz.db'} }} }}\n"
            f"services:\n  frontend: {{ port: {port} }}\n  history: {{ port: {free_port()} }}\n"
            f"  matching: {{ port: {free_port()} }}\n  worker: {{ port: {free_port()} }}\n"
            "global:\n  authorization:\n"
            f"    jwtKeyProvider:\n      keySourceURIs: [{jwks_uri}]\n      refreshInterval: 1m\n"
            "    permissionsClaimName: permissions\n    authorizer: default\n    claimMapper: default\n")
        subprocess.run([str(sundial_bin_path()), "schema", "setup", "--config", str(config)], check=True,
                       capture_output=True, env=child_env())
        self.role = Role(config, "frontend,history,matching,worker", directory).wait_ready()

    def stop(self):
        self.role.stop()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    keys = Jwks()
    server = AuthServer(tmp_path_factory.mktemp("authz"), keys.uri)
    try:
        yield server, keys
    finally:
        server.stop()
        keys.close()


async def connect(server: AuthServer, token: str | None, namespace: str = "default") -> Client:
    # tls=False: the Python SDK turns TLS on with an API key otherwise.
    return await Client.connect(server.address, namespace=namespace, api_key=token, tls=False)


async def denied(call) -> None:
    with pytest.raises(RPCError) as e:
        await call
    assert e.value.status == RPCStatusCode.PERMISSION_DENIED and e.value.message == DENIED, e.value


async def register(admin: Client, name: str) -> None:
    await admin.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period=Duration(seconds=86400)))


@pytest.fixture(scope="module")
def namespaces():
    return unique("authz-a"), unique("authz-b")


async def test_admin_registers_and_roles_limit_what_others_do(setup, namespaces):
    server, keys = setup
    a, b = namespaces
    admin = await connect(server, keys.token("temporal-system:admin"))
    await register(admin, a)
    await register(admin, b)
    # A namespace writer cannot register namespaces (admin, and of another scope).
    writer_a = await connect(server, keys.token(f"{a}:write"), a)
    await denied(writer_a.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=unique("nope"), workflow_execution_retention_period=Duration(seconds=86400))))

    tq = uid("authz-tq")
    async with running_worker(writer_a, tq, workflows=[EchoWorkflow]):
        handle = await writer_a.start_workflow(EchoWorkflow.run, "x", id=uid("authz-wf"), task_queue=tq)
        assert await handle.result() == "echo x", "a writer's worker polls and completes tasks"

    reader_a = await connect(server, keys.token(f"{a}:read"), a)
    assert [w.id async for w in reader_a.list_workflows()] == [handle.id]
    assert (await reader_a.get_workflow_handle(handle.id).describe()).id == handle.id
    await denied(reader_a.start_workflow(EchoWorkflow.run, "y", id=uid("authz-wf"), task_queue=tq))
    await denied(reader_a.get_workflow_handle(handle.id).signal("anything"))

    writer_b_as_a = await connect(server, keys.token(f"{a}:write"), b)
    await denied(writer_b_as_a.start_workflow(EchoWorkflow.run, "z", id=uid("authz-wf"), task_queue=tq))
    await denied(writer_b_as_a.count_workflows())

    # ES256 keys work as well as RS256 ones.
    ec_reader = await connect(server, keys.token(f"{a}:read", kid="ec-1"), a)
    assert (await ec_reader.count_workflows()).count == 1


async def test_bad_tokens_are_refused_and_open_calls_stay_open(setup, namespaces):
    server, keys = setup
    a, _ = namespaces
    for token in (keys.token(f"{a}:admin", expires_in=-60),                 # expired
                  keys.token(f"{a}:admin", key=keys.other),                 # signed by a key not in the JWKS
                  keys.token(f"{a}:admin", kid="unknown"),                  # a kid nobody published
                  keys.token(f"{a}:admin", nbf=int(time.time()) + 3600),    # not valid yet
                  "not-a-jwt",
                  None):
        # Connecting calls GetSystemInfo, which is always allowed.
        client = await connect(server, token, a)
        await denied(client.count_workflows())
    r = subprocess.run([str(sundial_bin_path()), "health", "--config", str(server.role.proc.args[3]),
                        "--service", "frontend"], capture_output=True, text=True, timeout=30, env=child_env())
    assert r.returncode == 0, r.stdout + r.stderr


async def test_the_system_worker_is_not_locked_out(setup, namespaces):
    server, keys = setup
    a, _ = namespaces
    writer = await connect(server, keys.token(f"{a}:write"), a)
    tq = uid("authz-sched-tq")
    async with running_worker(writer, tq, workflows=[EchoWorkflow]):
        handle = await writer.create_schedule(uid("authz-sched"), Schedule(
            action=ScheduleActionStartWorkflow(EchoWorkflow.run, "tick", id=uid("authz-sched-wf"), task_queue=tq),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])),
            trigger_immediately=True)

        async def fired() -> bool:
            return (await handle.describe()).info.num_actions >= 1
        await wait_until(fired, timeout=30, interval=0.5, what="the schedule's action, started by the system worker")


def test_the_cli_connects_with_an_api_key(setup, namespaces):
    server, keys = setup
    a, _ = namespaces
    r = cli(server.address, "workflow", "list", "--namespace", a, "--api-key", keys.token(f"{a}:read"),
            "--tls=false")
    assert r.returncode == 0, r.stderr
    r = cli(server.address, "workflow", "start", "--namespace", a, "--api-key", keys.token(f"{a}:read"),
            "--tls=false", "--type", "Echo", "--task-queue", "q", check=False)
    assert r.returncode != 0 and DENIED in r.stderr, r.stderr


def test_tctl_sends_its_auth_header(setup, namespaces):
    server, keys = setup
    a, _ = namespaces
    r = tctl(server.address, "--ns", a, "--auth", f"Bearer {keys.token(f'{a}:read')}", "workflow", "list")
    assert r.returncode == 0, r.stderr
    r = tctl(server.address, "--ns", a, "workflow", "list", check=False)
    assert r.returncode != 0 and DENIED in r.stderr, r.stderr
